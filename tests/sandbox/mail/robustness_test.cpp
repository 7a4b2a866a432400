// Hostile and careless clients: commands injected before TLS, overlong lines, long tokens,
// garbage, silence. Each gets a protocol answer or a closed connection, never a crash, and the
// servers go on serving others.
#include "auth_helpers.hpp"

#include <thread>

namespace mailoauth::sandbox::test {
namespace {

using sasl::mechanism;

constexpr const char* alice = "alice@contoso.onmicrosoft.com";

class robustness : public mail_fixture {
 protected:
  // A fresh connection still logs in: the servers survived whatever came before.
  void expect_still_serving() {
    auto c = connect(mail_listener::imaps);
    EXPECT_EQ(imap_auth(*c, mechanism::xoauth2, alice, mint({})).final_line,
              "a1 OK AUTHENTICATE completed.");
  }
};

TEST_F(robustness, imap_starttls_discards_injected_commands) {
  auto c = connect(mail_listener::imap);
  c->read_line();
  // One write: the go-ahead request and a command that must not run inside the TLS session.
  c->send_raw("a1 STARTTLS\r\na2 LOGOUT\r\n");
  EXPECT_EQ(c->read_line(), "a1 OK Begin TLS negotiation now.");
  EXPECT_FALSE(c->buffered());
  c->start_tls();
  c->send("a3 NOOP");
  EXPECT_EQ(c->read_line(), "a3 OK NOOP completed.");
  c->send("a4 CAPABILITY");
  const auto caps = c->read_until("a4 ");
  EXPECT_NE(caps[0].find("AUTH=XOAUTH2"), std::string::npos);
  EXPECT_EQ(caps[0].find("STARTTLS"), std::string::npos);
  for (const auto& l : transcript(mail_listener::imap)) EXPECT_EQ(l.find("a2"), std::string::npos);
  c->send("a5 AUTHENTICATE XOAUTH2 " + xoauth2_b64(alice, mint({})));
  EXPECT_EQ(c->read_line(), "a5 OK AUTHENTICATE completed.");
}

TEST_F(robustness, pop3_stls_discards_injected_commands) {
  auto c = connect(mail_listener::pop3);
  c->read_line();
  c->send_raw("STLS\r\nQUIT\r\n");
  EXPECT_EQ(c->read_line(), "+OK Begin TLS negotiation.");
  c->start_tls();
  c->send("CAPA");
  const auto capa = c->read_until(".");
  EXPECT_EQ(capa.front(), "+OK");
  EXPECT_NE(std::find(capa.begin(), capa.end(), "SASL XOAUTH2 OAUTHBEARER"), capa.end());
  for (const auto& l : transcript(mail_listener::pop3)) EXPECT_NE(l, "C: QUIT");
}

TEST_F(robustness, smtp_starttls_discards_injected_commands) {
  auto c = connect(mail_listener::smtp);
  c->read_line();
  c->send("EHLO x");
  c->read_until("250 ");
  c->send_raw("STARTTLS\r\nRSET\r\n");
  EXPECT_EQ(c->read_line(), "220 2.0.0 SMTP server ready");
  c->start_tls();
  c->send("EHLO x");
  const auto ehlo = c->read_until("250 ");
  EXPECT_TRUE(ehlo.front().starts_with("250-")) << ehlo.front();
  EXPECT_NE(std::find(ehlo.begin(), ehlo.end(), "250-AUTH XOAUTH2 OAUTHBEARER"), ehlo.end());
  for (const auto& l : transcript(mail_listener::smtp)) EXPECT_NE(l, "C: RSET");
}

TEST_F(robustness, overlong_lines_get_an_error_and_a_close) {
  const std::string huge(200 * 1024, 'A');
  {
    auto c = connect(mail_listener::imaps);
    c->read_line();
    c->send_raw_lenient("a1 NOOP " + huge);
    std::vector<std::string> lines;
    EXPECT_TRUE(c->closed_by_server(&lines));
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), "* BYE Line too long.");
  }
  {
    // After login the limit is the shorter one.
    auto c = connect(mail_listener::imaps);
    ASSERT_EQ(imap_auth(*c, mechanism::xoauth2, alice, mint({})).final_line,
              "a1 OK AUTHENTICATE completed.");
    c->send_raw_lenient("a2 NOOP " + std::string(20 * 1024, 'B') + "\r\n");
    std::vector<std::string> lines;
    EXPECT_TRUE(c->closed_by_server(&lines));
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), "* BYE Line too long.");
  }
  {
    auto c = connect(mail_listener::pop3s);
    c->read_line();
    c->send_raw_lenient(huge + "\r\n");
    std::vector<std::string> lines;
    EXPECT_TRUE(c->closed_by_server(&lines));
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), "-ERR Line too long.");
  }
  {
    auto c = connect(mail_listener::smtps);
    c->read_line();
    c->send_raw_lenient(huge + "\r\n");
    std::vector<std::string> lines;
    EXPECT_TRUE(c->closed_by_server(&lines));
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), "500 5.5.6 Line too long");
  }
  expect_still_serving();
}

TEST_F(robustness, tokens_of_8_kb_and_more_are_accepted) {
  token_spec big;
  for (int i = 0; i < 400; ++i) big.scopes.push_back("Sandbox.Padding.Scope." + std::to_string(i));
  const auto token = mint(big);
  ASSERT_GT(token.size(), 8u * 1024);
  {
    auto c = connect(mail_listener::imaps);
    EXPECT_EQ(imap_auth(*c, mechanism::xoauth2, alice, token).final_line,
              "a1 OK AUTHENTICATE completed.");
  }
  {
    auto c = connect(mail_listener::pop3s);
    EXPECT_EQ(pop3_auth(*c, mechanism::oauthbearer, alice, token).final_line, "+OK Welcome.");
  }
  {
    auto c = connect(mail_listener::smtps);
    EXPECT_EQ(smtp_auth(*c, mechanism::xoauth2, alice, token).final_line,
              "235 2.7.0 Authentication successful");
  }
}

TEST_F(robustness, garbage_gets_protocol_errors) {
  {
    auto c = connect(mail_listener::imaps);
    c->read_line();
    const std::vector<std::pair<std::string, std::string>> cases{
        {"", "* BAD"},
        {"*", "* BAD"},
        {"a1", "a1 BAD"},
        {"a2 (((((((((((((((((((((((((((((((((((((", "a2 BAD"},
        {"a3 \"unterminated", "a3 BAD"},
        {"a4 FETCH 1:* (BODY[", "a4 BAD"},
        {std::string("a5 \x01\x02\xff\x00 NOOP", 16), "a5 BAD"},
        {"a6 SELECT INBOX", "a6 BAD"},  // not authenticated
        {"a7 UID FETCH 1 FLAGS", "a7 BAD"},
    };
    for (const auto& [line, prefix] : cases) {
      c->send(line);
      const auto reply = c->read_line();
      EXPECT_TRUE(reply.starts_with(prefix)) << line << " -> " << reply;
    }
    // A literal the server will not take: refused and closed.
    c->send("a8 APPEND INBOX {999999999999}");
    std::vector<std::string> lines;
    EXPECT_TRUE(c->closed_by_server(&lines));
  }
  {
    auto c = connect(mail_listener::imaps);
    ASSERT_EQ(imap_auth(*c, mechanism::xoauth2, alice, mint({})).final_line,
              "a1 OK AUTHENTICATE completed.");
    c->send("a2 SELECT INBOX");
    c->read_until("a2 ");
    // Thousands of wildcards: answered at once (a naive matcher takes exponential time).
    c->send("a2 LIST \"\" \"" + std::string(8000, '*') + "Z\"");
    EXPECT_EQ(c->read_line(), "a2 OK LIST completed.");
    c->send("a2 LIST \"\" \"%" + std::string(4000, '*') + "bo%\"");
    EXPECT_EQ(c->read_line(), "* LIST (\\HasNoChildren) \"/\" INBOX");
    c->read_line();
    // Syntax errors all: a tagged BAD and nothing else, as Dovecot answers them too ("a3 BAD
    // Error in IMAP command FETCH: Invalid messageset" and so on). A message number 0 is not
    // an nz-number (RFC 3501 section 9).
    for (const auto* bad : {"a3 FETCH 0 FLAGS", "a3 FETCH 1:x FLAGS", "a3 FETCH 1 (ENVELOPE",
                            "a3 STORE 1 +FLAGZ (\\Seen)"}) {
      c->send(bad);
      const auto reply = c->read_until("a3 ");
      ASSERT_EQ(reply.size(), 1u) << bad << " -> " << reply.front();
      EXPECT_TRUE(reply.back().starts_with("a3 BAD ")) << bad << " -> " << reply.back();
    }
  }
  {
    auto c = connect(mail_listener::pop3s);
    c->read_line();
    // Before authentication: an error for each, except the bare AUTH, which lists the
    // mechanisms (the old-style SASL discovery Outlook uses; Dovecot answers it the same way).
    for (const auto* bad : {"", "RETR 1", "AUTH NOPE", "\x7f\x01"}) {
      c->send(bad);
      const auto reply = c->read_line();
      EXPECT_TRUE(reply.starts_with("-ERR ")) << bad << " -> " << reply;
    }
    c->send("AUTH");
    EXPECT_EQ(c->read_until("."), (std::vector<std::string>{"+OK", "XOAUTH2", "OAUTHBEARER", "."}));
    c->send("NOOP");  // still in the AUTHORIZATION state
    EXPECT_TRUE(c->read_line().starts_with("-ERR "));
  }
  {
    auto c = connect(mail_listener::smtps);
    c->read_line();
    for (const auto* bad : {"", "MAIL FROM:<x@y>", "EHLO", "DATA", "\xff\xfe"}) {
      c->send(bad);
      const auto reply = c->read_line();
      EXPECT_TRUE(reply.starts_with("5")) << bad << " -> " << reply;
    }
  }
  expect_still_serving();
}

class timeouts : public mail_fixture {
 protected:
  void configure(mail_server_options& o) override {
    o.idle_timeout = std::chrono::milliseconds(700);
    o.io_timeout = std::chrono::milliseconds(700);
  }
};

TEST_F(timeouts, silent_clients_are_disconnected) {
  const auto started = std::chrono::steady_clock::now();
  auto idle = connect(mail_listener::imaps);
  idle->read_line();
  EXPECT_TRUE(idle->closed_by_server());
  // A client that never starts the TLS handshake holds nothing for long either.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket raw(io);
  raw.connect({boost::asio::ip::make_address("127.0.0.1"), port(mail_listener::pop3s)});
  char byte;
  boost::system::error_code ec;
  raw.read_some(boost::asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "the server should have hung up";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST_F(robustness, stop_closes_open_sessions) {
  auto c = connect(mail_listener::imaps);
  c->read_line();
  auto p = connect(mail_listener::pop3);
  p->read_line();
  stop_servers();
  EXPECT_TRUE(c->closed_by_server());
  EXPECT_TRUE(p->closed_by_server());
}

}  // namespace
}  // namespace mailoauth::sandbox::test
