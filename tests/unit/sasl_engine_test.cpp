// The one SASL engine's table and its client and server sides, apart from any session.
#include "protocol/sasl_engine.hpp"

#include <gtest/gtest.h>

namespace mailoauth::protocol::detail {
namespace {

using policy = initial_response_policy;

TEST(sasl_profile, the_protocols_differ_as_data) {
  const auto& imap = profile(mail_protocol::imap);
  const auto& pop3 = profile(mail_protocol::pop3);
  const auto& smtp = profile(mail_protocol::smtp);
  EXPECT_EQ(imap.continuation, "+ ");
  EXPECT_EQ(pop3.continuation, "+ ");
  EXPECT_EQ(smtp.continuation, "334 ");
  EXPECT_EQ(imap.command_line_limit, 8192u);  // RFC 7162 section 4
  EXPECT_EQ(pop3.command_line_limit, 255u);   // RFC 2449 section 4
  EXPECT_EQ(smtp.command_line_limit, 512u);   // RFC 5321 section 4.5.3.1.4
  EXPECT_TRUE(imap.initial_response_needs_capability);
  EXPECT_FALSE(pop3.initial_response_by_default);  // Microsoft requires two steps
}

sasl_client client(mail_protocol p, sasl::mechanism m = sasl::mechanism::xoauth2) {
  return sasl_client(profile(p), m, "alice@contoso.com", secret("t0ken"), {}, std::nullopt);
}

TEST(sasl_client, initial_response_by_protocol_policy_and_length) {
  const auto imap = client(mail_protocol::imap);
  EXPECT_FALSE(imap.use_initial_response(false, policy::automatic, 100));  // no SASL-IR
  EXPECT_FALSE(imap.use_initial_response(false, policy::prefer, 100));
  EXPECT_TRUE(imap.use_initial_response(true, policy::automatic, 100));
  EXPECT_FALSE(imap.use_initial_response(true, policy::never, 100));
  EXPECT_TRUE(imap.use_initial_response(true, policy::automatic, 8192));
  EXPECT_FALSE(imap.use_initial_response(true, policy::automatic, 8193));

  const auto pop3 = client(mail_protocol::pop3);
  EXPECT_FALSE(pop3.use_initial_response(false, policy::automatic, 100));
  EXPECT_TRUE(pop3.use_initial_response(false, policy::prefer, 255));
  EXPECT_FALSE(pop3.use_initial_response(false, policy::prefer, 256));

  const auto smtp = client(mail_protocol::smtp);
  EXPECT_TRUE(smtp.use_initial_response(false, policy::automatic, 512));
  EXPECT_FALSE(smtp.use_initial_response(false, policy::automatic, 513));
  EXPECT_FALSE(smtp.use_initial_response(false, policy::never, 100));
}

TEST(sasl_client, answers_each_challenge_by_mechanism) {
  using k = sasl_client::step::kind;
  auto x = client(mail_protocol::imap);
  EXPECT_EQ(x.on_continuation("", false).k, k::send_response);
  const auto answer = x.on_continuation("eyJzdGF0dXMiOiI0MDEifQ==", true);  // {"status":"401"}
  EXPECT_EQ(answer.k, k::answer);
  EXPECT_EQ(answer.line, "");  // XOAUTH2: an empty response
  ASSERT_TRUE(x.challenge());
  EXPECT_EQ(x.challenge()->status, "401");
  EXPECT_EQ(x.on_continuation("", true).k, k::fail);

  auto o = client(mail_protocol::smtp, sasl::mechanism::oauthbearer);
  EXPECT_EQ(o.on_continuation("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=", true).line, "AQ==");

  auto u = client(mail_protocol::pop3);
  const auto cancel = u.on_continuation("not json", true);
  EXPECT_EQ(cancel.k, k::cancel);
  EXPECT_EQ(cancel.line, "*");  // RFC 4954 section 4
  EXPECT_TRUE(u.cancelled());
}

TEST(sasl_server, xoauth2_with_an_initial_response) {
  using k = sasl_server::step::kind;
  sasl_server s(profile(mail_protocol::imap), sasl::mechanism::xoauth2);
  const auto ir =
      sasl::base64_encode(sasl::xoauth2_response("alice@contoso.com", secret("t0ken")).reveal());
  ASSERT_EQ(s.start(ir).k, k::verify);
  EXPECT_EQ(s.pending().user, "alice@contoso.com");
  EXPECT_EQ(s.pending().proof.reveal(), "t0ken");
  verdict v;
  v.k = verdict::kind::accept;
  v.identity = "alice@contoso.com";
  EXPECT_EQ(s.on_verdict(v).k, k::success);
  EXPECT_EQ(s.identity(), "alice@contoso.com");
  EXPECT_TRUE(s.pending().proof.empty());  // wiped once decided
}

TEST(sasl_server, a_refusal_with_a_challenge_waits_for_the_clients_answer) {
  using k = sasl_server::step::kind;
  sasl_server s(profile(mail_protocol::smtp), sasl::mechanism::oauthbearer);
  auto first = s.start(std::nullopt);
  EXPECT_EQ(first.k, k::challenge);
  EXPECT_EQ(first.line, "");
  const auto response =
      sasl::base64_encode(sasl::oauthbearer_response("alice@contoso.com", secret("old")).reveal());
  ASSERT_EQ(s.on_line(response).k, k::verify);
  verdict v;
  v.error_challenge = R"({"status":"invalid_token"})";
  const auto ch = s.on_verdict(v);
  EXPECT_EQ(ch.k, k::challenge);
  EXPECT_EQ(ch.line, sasl::base64_encode(v.error_challenge));
  EXPECT_EQ(s.on_line("AQ==").k, k::failure);
}

TEST(sasl_server, login_asks_for_the_user_then_the_password) {
  using k = sasl_server::step::kind;
  sasl_server s(profile(mail_protocol::smtp), sasl::mechanism::login);
  EXPECT_EQ(s.start(std::nullopt).line, "VXNlcm5hbWU6");  // "Username:"
  EXPECT_EQ(s.on_line("Ym9i").line, "UGFzc3dvcmQ6");      // "Password:"
  ASSERT_EQ(s.on_line("aHVudGVyMg==").k, k::verify);
  EXPECT_EQ(s.pending().user, "bob");
  EXPECT_EQ(s.pending().proof.reveal(), "hunter2");
}

TEST(sasl_server, cancel_and_malformed) {
  using k = sasl_server::step::kind;
  sasl_server a(profile(mail_protocol::imap), sasl::mechanism::plain);
  a.start(std::nullopt);
  EXPECT_EQ(a.on_line("*").k, k::cancelled);
  sasl_server b(profile(mail_protocol::imap), sasl::mechanism::plain);
  EXPECT_EQ(b.start("!!!").k, k::malformed);
  sasl_server c(profile(mail_protocol::imap), sasl::mechanism::xoauth2);
  const auto bad = c.start("=");
  EXPECT_EQ(bad.k, k::malformed);
  EXPECT_FALSE(bad.why.empty());
}

TEST(sasl_server, temporary_failure) {
  using k = sasl_server::step::kind;
  sasl_server s(profile(mail_protocol::pop3), sasl::mechanism::plain);
  ASSERT_EQ(s.start(sasl::base64_encode(std::string("\0u\0p", 4))).k, k::verify);
  verdict v;
  v.k = verdict::kind::temporary;
  EXPECT_EQ(s.on_verdict(v).k, k::temporary);
}

}  // namespace
}  // namespace mailoauth::protocol::detail
