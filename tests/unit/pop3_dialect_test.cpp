// POP3 replies: +OK / -ERR, response codes (RFC 3206), CAPA (RFC 2449) and AUTH (RFC 5034).
#include "protocol/dialect.hpp"

#include <gtest/gtest.h>

namespace mailoauth::protocol::detail {
namespace {

using st = reply::status;
using fk = feed_result::kind;

class pop3_dialect_test : public ::testing::Test {
 protected:
  std::unique_ptr<dialect> d = make_pop3_dialect();

  // Feeds a single-line reply and returns its status; fails the test if it is incomplete.
  st status_of(std::string_view line, expectation e = expectation::single) {
    d->expect(e);
    const auto r = d->feed(line);
    EXPECT_EQ(r.k, fk::complete) << line << ": " << r.why;
    return d->current().st;
  }
};

TEST_F(pop3_dialect_test, greeting) {
  EXPECT_EQ(status_of("+OK The Microsoft Exchange POP3 service is ready.", expectation::greeting),
            st::ok);
  EXPECT_EQ(
      status_of("+OK Dovecot ready. <1896.697170952@dbc.mtview.ca.us>", expectation::greeting),
      st::ok);
  EXPECT_EQ(status_of("+OK", expectation::greeting), st::ok);
  EXPECT_EQ(status_of("-ERR [SYS/TEMP] Service unavailable", expectation::greeting), st::temporary);
  EXPECT_EQ(status_of("-ERR go away", expectation::greeting), st::no);
}

TEST_F(pop3_dialect_test, ok_and_err) {
  EXPECT_EQ(status_of("+OK Welcome.", expectation::authenticate), st::ok);
  EXPECT_EQ(status_of("+ok begin TLS negotiation"), st::ok);
  EXPECT_EQ(status_of("-ERR Authentication failure: unknown user name or bad password.",
                      expectation::authenticate),
            st::no);
  EXPECT_EQ(status_of("-ERR [AUTH] Authentication failed.", expectation::authenticate), st::no);
  EXPECT_EQ(status_of("-ERR Protocol error. Connection closed."), st::no);
  EXPECT_EQ(status_of("-ERR"), st::no);
  EXPECT_EQ(d->current().line, "-ERR");
}

TEST_F(pop3_dialect_test, temporary_failures) {
  // RFC 3206: SYS/TEMP and IN-USE say that trying later may work.
  EXPECT_EQ(
      status_of("-ERR [SYS/TEMP] Temporary authentication failure", expectation::authenticate),
      st::temporary);
  EXPECT_EQ(status_of("-ERR [IN-USE] Mailbox locked"), st::temporary);
  EXPECT_EQ(status_of("-err [sys/temp]"), st::temporary);
  EXPECT_EQ(status_of("-ERR [SYS/PERM] Account disabled"), st::no);
}

TEST_F(pop3_dialect_test, malformed_status) {
  for (const auto line : {"", "OK", "+OKAY", "+OK\tx", "-ERROR", "-ERR[SYS/TEMP]", "* OK",
                          "220 ready", "+", "+ ", " +OK"}) {
    d->expect(expectation::single);
    const auto r = d->feed(line);
    EXPECT_EQ(r.k, fk::error) << line;
  }
}

TEST_F(pop3_dialect_test, capa_multiline_with_dot_stuffing) {
  EXPECT_EQ(d->capability_command(), "CAPA");
  EXPECT_TRUE(d->capability_reply_multiline());
  d->expect(expectation::multiline);
  for (const auto line : {"+OK Capability list follows", "TOP", "UIDL", "SASL XOAUTH2 oauthbearer",
                          "STLS", "..HIDDEN dot-stuffed", "IMPLEMENTATION Dovecot", "+OK", ""}) {
    EXPECT_EQ(d->feed(line).k, fk::more) << line;
  }
  ASSERT_EQ(d->feed(".").k, fk::complete);
  const auto& r = d->current();
  EXPECT_EQ(r.st, st::ok);
  EXPECT_EQ(r.line, "+OK Capability list follows");
  EXPECT_EQ(r.lines,
            (std::vector<std::string>{"TOP", "UIDL", "SASL XOAUTH2 oauthbearer", "STLS",
                                      ".HIDDEN dot-stuffed", "IMPLEMENTATION Dovecot", "+OK", ""}));
  const auto caps = d->parse_capabilities(r);
  ASSERT_TRUE(caps.has_value());
  EXPECT_TRUE(caps->starttls);
  EXPECT_EQ(caps->mechanisms, (std::vector<std::string>{"XOAUTH2", "OAUTHBEARER"}));
  EXPECT_TRUE(caps->offers("XOAUTH2"));
  EXPECT_FALSE(caps->sasl_ir);
}

TEST_F(pop3_dialect_test, capa_without_sasl) {
  d->expect(expectation::multiline);
  d->feed("+OK");
  d->feed("USER");
  ASSERT_EQ(d->feed(".").k, fk::complete);
  const auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_TRUE(caps->mechanisms.empty());
  EXPECT_FALSE(caps->starttls);
}

TEST_F(pop3_dialect_test, capa_refused) {
  // RFC 2449 is an extension: old servers answer -ERR, with no body to read.
  EXPECT_EQ(status_of("-ERR unknown command", expectation::multiline), st::no);
  EXPECT_EQ(d->parse_capabilities(d->current()), std::nullopt);
}

TEST_F(pop3_dialect_test, continuation_only_in_auth) {
  for (const auto e : {expectation::greeting, expectation::single, expectation::multiline}) {
    d->expect(e);
    const auto r = d->feed("+ ");
    EXPECT_EQ(r.k, fk::error);
    EXPECT_EQ(r.error, errc::unexpected_reply);
  }
  for (const auto& [line, payload] :
       {std::pair<std::string_view, std::string_view>{"+", ""},
        {"+ ", ""},
        {"+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xl"
         "LmNvbS8ifQ==",
         "eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNv"
         "bS8ifQ=="}}) {
    EXPECT_EQ(status_of(line, expectation::authenticate), st::continuation) << line;
    EXPECT_EQ(d->current().payload, payload);
  }
}

TEST_F(pop3_dialect_test, commands) {
  EXPECT_EQ(d->starttls_command(), "STLS");
  EXPECT_EQ(d->auth_command(sasl::mechanism::xoauth2), "AUTH XOAUTH2");
  EXPECT_EQ(d->auth_command(sasl::mechanism::oauthbearer), "AUTH OAUTHBEARER");
  EXPECT_EQ(d->logout_command(), "QUIT");
}

}  // namespace
}  // namespace mailoauth::protocol::detail
