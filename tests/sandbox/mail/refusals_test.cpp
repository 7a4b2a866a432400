// Tokens Exchange Online would refuse are refused, over each protocol and mechanism, with the
// seed's failure lines and (where Office 365 sends one) the JSON error challenge.
#include "auth_helpers.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace mailoauth::sandbox::test {
namespace {

using sasl::mechanism;

constexpr const char* alice = "alice@contoso.onmicrosoft.com";
constexpr const char* imap_fail = "a1 NO AUTHENTICATE failed.";
constexpr const char* pop3_fail = "-ERR Authentication failure: unknown user name or bad password.";
constexpr const char* smtp_fail =
    "535 5.7.3 Authentication unsuccessful [SANDBOX01.mailoauth.localhost]";

class refusals : public mail_fixture {
 protected:
  auth_outcome imap(mechanism m, const std::string& user, const std::string& token) {
    auto c = connect(mail_listener::imaps);
    return imap_auth(*c, m, user, token);
  }
  auth_outcome pop3(mechanism m, const std::string& user, const std::string& token) {
    auto c = connect(mail_listener::pop3s);
    return pop3_auth(*c, m, user, token);
  }
  auth_outcome smtp(mechanism m, const std::string& user, const std::string& token) {
    auto c = connect(mail_listener::smtps);
    return smtp_auth(*c, m, user, token);
  }

  // The token is refused by all three servers with both mechanisms, each in its own words.
  void expect_refused_everywhere(const std::string& user, const std::string& token,
                                 const std::string& xoauth2_status,
                                 const std::string& oauthbearer_status) {
    for (const auto m : {mechanism::xoauth2, mechanism::oauthbearer}) {
      SCOPED_TRACE(std::string(sasl::name(m)));
      const bool ob = m == mechanism::oauthbearer;
      const auto i = imap(m, user, token);
      EXPECT_EQ(i.final_line, imap_fail);
      // Office 365 sends the challenge over IMAP and SMTP for OAUTHBEARER only.
      EXPECT_EQ(i.challenge_json.empty(), !ob) << i.challenge_json;
      const auto p = pop3(m, user, token);
      EXPECT_EQ(p.final_line, pop3_fail);
      ASSERT_FALSE(p.challenge_json.empty());
      EXPECT_NE(p.challenge_json.find("\"status\":\"" + (ob ? oauthbearer_status : xoauth2_status) +
                                      "\""),
                std::string::npos)
          << p.challenge_json;
      EXPECT_NE(p.challenge_json.find("POP.AccessAsUser.All"), std::string::npos);
      const auto s = smtp(m, user, token);
      EXPECT_EQ(s.final_line, smtp_fail);
      EXPECT_EQ(s.challenge_json.empty(), !ob) << s.challenge_json;
      if (ob) {
        EXPECT_NE(s.challenge_json.find("SMTP.Send"), std::string::npos);
      }
    }
  }
};

TEST_F(refusals, valid_token_accepted_by_all_three) {
  const auto token = mint({});
  for (const auto m : {mechanism::xoauth2, mechanism::oauthbearer}) {
    EXPECT_EQ(imap(m, alice, token).final_line, "a1 OK AUTHENTICATE completed.");
    EXPECT_EQ(pop3(m, alice, token).final_line, "+OK Welcome.");
    EXPECT_EQ(smtp(m, alice, token).final_line, "235 2.7.0 Authentication successful");
  }
  // The SASL user is compared case-insensitively, and OAUTHBEARER may leave it out.
  EXPECT_EQ(imap(mechanism::xoauth2, "Alice@Contoso.OnMicrosoft.com", token).final_line,
            "a1 OK AUTHENTICATE completed.");
  EXPECT_EQ(imap(mechanism::oauthbearer, "", token).final_line, "a1 OK AUTHENTICATE completed.");
}

TEST_F(refusals, expired_token) {
  expect_refused_everywhere(alice, mint({.lifetime = -600}), "401", "invalid_token");
}

TEST_F(refusals, token_signed_by_another_key) {
  expect_refused_everywhere(alice, mint({}, other_keys().token_key), "401", "invalid_token");
}

TEST_F(refusals, token_for_another_user) {
  expect_refused_everywhere("bob@contoso.onmicrosoft.com", mint({}), "400", "invalid_token");
}

TEST_F(refusals, token_for_another_audience) {
  expect_refused_everywhere(alice, mint({.audience = "https://graph.microsoft.com"}), "401",
                            "invalid_token");
}

TEST_F(refusals, alg_confusion_hs256_with_the_public_key) {
  expect_refused_everywhere(alice, forged_token("HS256", {}), "401", "invalid_token");
}

TEST_F(refusals, alg_none) {
  expect_refused_everywhere(alice, forged_token("none", {}), "401", "invalid_token");
}

TEST_F(refusals, missing_scope_for_each_protocol) {
  // Each token has the other two protocols' scopes only.
  const auto no_imap = mint({.scopes = {"POP.AccessAsUser.All", "SMTP.Send"}});
  const auto no_pop = mint({.scopes = {"IMAP.AccessAsUser.All", "SMTP.Send"}});
  const auto no_smtp = mint({.scopes = {"IMAP.AccessAsUser.All", "POP.AccessAsUser.All"}});
  EXPECT_EQ(imap(mechanism::xoauth2, alice, no_imap).final_line, imap_fail);
  EXPECT_EQ(pop3(mechanism::xoauth2, alice, no_imap).final_line, "+OK Welcome.");
  const auto p = pop3(mechanism::xoauth2, alice, no_pop);
  EXPECT_EQ(p.final_line, pop3_fail);
  EXPECT_NE(p.challenge_json.find("\"status\":\"403\""), std::string::npos) << p.challenge_json;
  const auto ob = pop3(mechanism::oauthbearer, alice, no_pop);
  EXPECT_NE(ob.challenge_json.find("insufficient_scope"), std::string::npos) << ob.challenge_json;
  EXPECT_EQ(smtp(mechanism::xoauth2, alice, no_smtp).final_line, smtp_fail);
  EXPECT_EQ(imap(mechanism::xoauth2, alice, no_smtp).final_line, "a1 OK AUTHENTICATE completed.");
}

TEST_F(refusals, app_only_roles) {
  const auto imap_app = mint({.user = "", .roles = {"IMAP.AccessAsApp"}});
  const auto all_apps =
      mint({.user = "", .roles = {"IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"}});
  // Any hosted mailbox, with the protocol's role.
  EXPECT_EQ(imap(mechanism::xoauth2, "shared@contoso.onmicrosoft.com", imap_app).final_line,
            "a1 OK AUTHENTICATE completed.");
  EXPECT_EQ(pop3(mechanism::xoauth2, "shared@contoso.onmicrosoft.com", imap_app).final_line,
            pop3_fail);
  EXPECT_EQ(pop3(mechanism::xoauth2, "bob@example.com", all_apps).final_line, "+OK Welcome.");
  EXPECT_EQ(smtp(mechanism::oauthbearer, "bob@example.com", all_apps).final_line,
            "235 2.7.0 Authentication successful");
  // Not a mailbox of the sandbox's domains.
  EXPECT_EQ(imap(mechanism::xoauth2, "someone@elsewhere.test", all_apps).final_line, imap_fail);
  // A delegated token's scope is not a role, and the reverse.
  EXPECT_EQ(imap(mechanism::xoauth2, "x@contoso.onmicrosoft.com",
                 mint({.user = "", .roles = {"IMAP.AccessAsUser.All"}}))
                .final_line,
            imap_fail);
}

TEST_F(refusals, malformed_responses_and_cancel) {
  auto c = connect(mail_listener::imaps);
  c->read_line();
  c->send("a1 AUTHENTICATE XOAUTH2 !!!notbase64");
  EXPECT_EQ(c->read_line(), "a1 NO AUTHENTICATE failed.");
  c->send("a2 AUTHENTICATE XOAUTH2");
  EXPECT_EQ(c->read_line(), "+ ");
  c->send("*");
  EXPECT_EQ(c->read_line(), "a2 BAD AUTHENTICATE cancelled.");
  c->send("a3 AUTHENTICATE XOAUTH2 =");
  EXPECT_EQ(c->read_line(), "a3 NO AUTHENTICATE failed.");
  // Still usable afterwards.
  c->send("a4 AUTHENTICATE XOAUTH2 " + xoauth2_b64(alice, mint({})));
  EXPECT_EQ(c->read_line(), "a4 OK AUTHENTICATE completed.");

  auto p = connect(mail_listener::pop3s);
  p->read_line();
  p->send("AUTH OAUTHBEARER");
  EXPECT_EQ(p->read_line(), "+ ");
  p->send(oauthbearer_b64(alice, mint({.lifetime = -100})));
  EXPECT_TRUE(p->read_line().starts_with("+ "));
  p->send("*");
  EXPECT_EQ(p->read_line(), "-ERR Authentication canceled by client.");
}

TEST_F(refusals, basic_auth_is_off) {
  auto i = connect(mail_listener::imaps);
  i->read_line();
  i->send("a1 LOGIN alice@contoso.onmicrosoft.com Sekr1t-pw");
  EXPECT_EQ(i->read_line(), "a1 NO LOGIN failed.");
  i->send("a2 AUTHENTICATE PLAIN");
  EXPECT_EQ(i->read_line(), "a2 NO AUTHENTICATE failed.");
  auto p = connect(mail_listener::pop3s);
  p->read_line();
  p->send("USER alice@contoso.onmicrosoft.com");
  EXPECT_EQ(p->read_line(), "+OK");
  p->send("PASS Sekr1t-pw");
  EXPECT_EQ(p->read_line(), "-ERR Logon failure: unknown user name or bad password.");
  auto s = connect(mail_listener::smtps);
  s->read_line();
  s->send("EHLO x");
  s->read_until("250 ");
  s->send("AUTH LOGIN");
  EXPECT_TRUE(s->read_line().starts_with("535 5.7.139 Authentication unsuccessful"));
  // The password never reaches the transcript.
  EXPECT_EQ(all_transcripts().find("Sekr1t"), std::string::npos);
}

TEST_F(refusals, no_auth_before_tls) {
  auto i = connect(mail_listener::imap);
  i->read_line();
  i->send("a1 CAPABILITY");
  const auto caps = i->read_until("a1 ");
  EXPECT_EQ(caps[0].find("AUTH="), std::string::npos) << caps[0];
  EXPECT_NE(caps[0].find("STARTTLS"), std::string::npos);
  EXPECT_NE(caps[0].find("LOGINDISABLED"), std::string::npos);
  i->send("a2 AUTHENTICATE XOAUTH2 " + xoauth2_b64(alice, mint({})));
  EXPECT_EQ(i->read_line(), "a2 BAD Command received in Invalid state.");
  auto p = connect(mail_listener::pop3);
  p->read_line();
  p->send("CAPA");
  const auto capa = p->read_until(".");
  EXPECT_NE(std::find(capa.begin(), capa.end(), "STLS"), capa.end());
  for (const auto& l : capa) EXPECT_FALSE(l.starts_with("SASL")) << l;
  p->send("AUTH XOAUTH2");
  EXPECT_TRUE(p->read_line().starts_with("-ERR"));
  auto s = connect(mail_listener::smtp);
  s->read_line();
  s->send("EHLO x");
  const auto ehlo = s->read_until("250 ");
  for (const auto& l : ehlo) EXPECT_EQ(l.find("AUTH"), std::string::npos) << l;
  s->send("AUTH XOAUTH2");
  EXPECT_TRUE(s->read_line().starts_with("504 5.7.4")) << "AUTH before STARTTLS";
  s->send("MAIL FROM:<alice@contoso.onmicrosoft.com>");
  EXPECT_TRUE(s->read_line().starts_with("530 5.7.0"));
}

class strict_mode : public mail_fixture {
 protected:
  void configure(mail_server_options& o) override { o.strict = true; }
};

TEST_F(strict_mode, pop3_one_line_form_refused_two_steps_accepted) {
  const auto token = mint({});
  auto c = connect(mail_listener::pop3s);
  c->read_line();
  c->send("AUTH XOAUTH2 " + xoauth2_b64(alice, token));
  EXPECT_EQ(c->read_line(), "-ERR Protocol error.");
  c->send("AUTH XOAUTH2");
  EXPECT_EQ(c->read_line(), "+ ");
  c->send(xoauth2_b64(alice, token));
  EXPECT_EQ(c->read_line(), "+OK Welcome.");
}

TEST_F(refusals, lenient_mode_accepts_pop3_one_line_form) {
  auto c = connect(mail_listener::pop3s);
  c->read_line();
  c->send("AUTH XOAUTH2 " + xoauth2_b64(alice, mint({})));
  EXPECT_EQ(c->read_line(), "+OK Welcome.");
}

TEST_F(refusals, no_token_in_transcripts) {
  const auto good = mint({});
  const auto bad = mint({.lifetime = -5});
  imap(mechanism::xoauth2, alice, good);
  imap(mechanism::oauthbearer, alice, bad);
  pop3(mechanism::xoauth2, alice, bad);
  smtp(mechanism::oauthbearer, alice, good);
  auto c = connect(mail_listener::pop3s);
  c->read_line();
  c->send("AUTH XOAUTH2 " + xoauth2_b64(alice, good));
  c->read_line();
  const auto all = all_transcripts();
  for (const auto& t : {good, bad}) {
    EXPECT_EQ(all.find(t), std::string::npos);
    EXPECT_EQ(all.find(t.substr(t.rfind('.') + 1)), std::string::npos) << "signature";
    EXPECT_EQ(all.find(xoauth2_b64(alice, t).substr(80, 60)), std::string::npos) << "base64";
  }
  EXPECT_NE(all.find("[redacted]"), std::string::npos);
}

TEST_F(refusals, no_token_in_logs_at_the_most_verbose_level) {
  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::trace);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  const auto good = mint({});
  const auto tokens = std::vector<std::string>{
      good, mint({.lifetime = -5}), mint({}, other_keys().token_key), forged_token("HS256", {}),
      mint({.user = "bob@contoso.onmicrosoft.com"})};
  for (const auto& t : tokens) {
    imap(mechanism::xoauth2, alice, t);
    pop3(mechanism::oauthbearer, alice, t);
    smtp(mechanism::xoauth2, alice, t);
  }
  spdlog::set_default_logger(previous);
  const auto log = captured.str();
  EXPECT_NE(log.find("authenticated with XOAUTH2"), std::string::npos) << log;
  EXPECT_NE(log.find("refused"), std::string::npos) << log;
  for (const auto& t : tokens) {
    EXPECT_EQ(log.find(t.substr(t.rfind('.') + 1, 40)), std::string::npos) << "signature";
    EXPECT_EQ(log.find(t.substr(t.find('.') + 1, 40)), std::string::npos) << "claims";
  }
}

}  // namespace
}  // namespace mailoauth::sandbox::test
