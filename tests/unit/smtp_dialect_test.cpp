// SMTP replies: codes (RFC 5321 section 4.2), multi-line EHLO, AUTH (RFC 4954).
#include "protocol/dialect.hpp"

#include <gtest/gtest.h>

namespace mailoauth::protocol::detail {
namespace {

using st = reply::status;
using fk = feed_result::kind;

class smtp_dialect_test : public ::testing::Test {
 protected:
  std::unique_ptr<dialect> d = make_smtp_dialect("client.example");

  // Feeds the lines of one reply; all but the last must ask for more.
  feed_result reply_of(std::initializer_list<std::string_view> lines,
                       expectation e = expectation::single) {
    d->expect(e);
    feed_result r;
    std::size_t i = 0;
    for (const auto line : lines) {
      r = d->feed(line);
      if (++i < lines.size()) {
        EXPECT_EQ(r.k, fk::more) << line;
      }
    }
    return r;
  }
  st status_of(std::string_view line, expectation e = expectation::single) {
    const auto r = reply_of({line}, e);
    EXPECT_EQ(r.k, fk::complete) << line << ": " << r.why;
    return d->current().st;
  }
};

TEST_F(smtp_dialect_test, greeting) {
  EXPECT_EQ(status_of("220 BN9PR03CA0123.outlook.office365.com Microsoft ESMTP MAIL Service ready",
                      expectation::greeting),
            st::ok);
  ASSERT_EQ(reply_of({"220-smtp.example.com ESMTP", "220-Do not spam", "220 ready"},
                     expectation::greeting)
                .k,
            fk::complete);
  EXPECT_EQ(d->current().st, st::ok);
  EXPECT_EQ(d->current().line, "220 ready");
  EXPECT_EQ(status_of("554 No SMTP service here", expectation::greeting), st::bad);
  EXPECT_EQ(status_of("421 Service not available", expectation::greeting), st::temporary);
}

TEST_F(smtp_dialect_test, ehlo_multiline) {
  EXPECT_EQ(d->capability_command(), "EHLO client.example");
  EXPECT_FALSE(d->capability_reply_multiline());
  ASSERT_EQ(reply_of({"250-smtp.example.com Hello [192.0.2.1]", "250-SIZE 35882577", "250-8BITMIME",
                      "250-AUTH XOAUTH2 PLAIN", "250-AUTH=LOGIN", "250-ENHANCEDSTATUSCODES",
                      "250-STARTTLS", "250 SMTPUTF8"})
                .k,
            fk::complete);
  EXPECT_EQ(d->current().st, st::ok);
  const auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_TRUE(caps->starttls);
  EXPECT_EQ(caps->mechanisms, (std::vector<std::string>{"XOAUTH2", "PLAIN", "LOGIN"}));
  EXPECT_EQ(caps->words, (std::vector<std::string>{"SIZE 35882577", "8BITMIME",
                                                   "AUTH XOAUTH2 PLAIN", "AUTH=LOGIN",
                                                   "ENHANCEDSTATUSCODES", "STARTTLS", "SMTPUTF8"}));
}

TEST_F(smtp_dialect_test, ehlo_office365_before_and_after_tls) {
  ASSERT_EQ(
      reply_of({"250-BN9PR03CA0123.outlook.office365.com Hello [192.0.2.1]", "250-SIZE 157286400",
                "250-PIPELINING", "250-DSN", "250-ENHANCEDSTATUSCODES", "250-STARTTLS",
                "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8"})
          .k,
      fk::complete);
  auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_TRUE(caps->starttls);
  EXPECT_TRUE(caps->mechanisms.empty());

  ASSERT_EQ(reply_of({"250-BN9PR03CA0123.outlook.office365.com Hello [192.0.2.1]",
                      "250-SIZE 157286400", "250-AUTH LOGIN XOAUTH2", "250 SMTPUTF8"})
                .k,
            fk::complete);
  caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_FALSE(caps->starttls);
  EXPECT_TRUE(caps->offers("XOAUTH2"));
}

TEST_F(smtp_dialect_test, ehlo_auth_on_the_last_line) {
  ASSERT_EQ(reply_of({"250-mx.example.com", "250 AUTH OAUTHBEARER XOAUTH2"}).k, fk::complete);
  const auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_EQ(caps->mechanisms, (std::vector<std::string>{"OAUTHBEARER", "XOAUTH2"}));
}

TEST_F(smtp_dialect_test, ehlo_single_line_has_no_extensions) {
  ASSERT_EQ(status_of("250 mx.example.com greets client.example"), st::ok);
  const auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_TRUE(caps->words.empty());
  EXPECT_FALSE(caps->starttls);
}

TEST_F(smtp_dialect_test, ehlo_refused) {
  EXPECT_EQ(status_of("502 Command not implemented"), st::bad);
  EXPECT_EQ(d->parse_capabilities(d->current()), std::nullopt);
}

TEST_F(smtp_dialect_test, mixed_codes_are_malformed) {
  const auto r = reply_of({"250-smtp.example.com", "251 AUTH XOAUTH2"});
  EXPECT_EQ(r.k, fk::error);
  EXPECT_EQ(r.error, errc::malformed_reply);
  d->expect(expectation::single);
  EXPECT_EQ(d->feed("250-a").k, fk::more);
  EXPECT_EQ(d->feed("550 b").k, fk::error);
}

TEST_F(smtp_dialect_test, continuation_334) {
  for (const auto& [line, payload] :
       {std::pair<std::string_view, std::string_view>{"334 ", ""},
        {"334", ""},
        {"334 eyJzdGF0dXMiOiI0MDEifQ==", "eyJzdGF0dXMiOiI0MDEifQ=="}}) {
    EXPECT_EQ(status_of(line, expectation::authenticate), st::continuation) << line;
    EXPECT_EQ(d->current().payload, payload) << line;
  }
}

TEST_F(smtp_dialect_test, continuation_only_in_auth) {
  for (const auto e : {expectation::greeting, expectation::single, expectation::multiline}) {
    const auto r = reply_of({"334 "}, e);
    EXPECT_EQ(r.k, fk::error);
    EXPECT_EQ(r.error, errc::unexpected_reply);
  }
}

TEST_F(smtp_dialect_test, auth_outcomes) {
  const std::pair<std::string_view, st> cases[] = {
      {"235 2.7.0 Authentication successful", st::ok},
      {"535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]", st::no},
      {"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
       "Tenant.",
       st::no},
      {"530 5.7.0 Authentication required", st::no},
      {"534 5.7.9 Please log in with your web browser", st::no},
      {"454 4.7.0 Temporary authentication failure", st::temporary},
      {"421 4.7.0 Try again later, closing connection.", st::temporary},
      {"555 5.5.2 Syntax error", st::bad},
      {"501 5.5.2 Cannot Decode response", st::bad},
      {"500 5.5.2 Line too long", st::bad},
      {"504 5.7.4 Unrecognized authentication type", st::bad},
  };
  for (const auto& [line, status] : cases) {
    EXPECT_EQ(status_of(line, expectation::authenticate), status) << line;
    EXPECT_EQ(d->current().line, line);
  }
}

TEST_F(smtp_dialect_test, gmail_multiline_555) {
  const auto r =
      reply_of({"555-5.5.2 Syntax error, cannot decode response. For more information,",
                "555-5.5.2 go to", "555 5.5.2  https://support.google.com/a/answer/3221692"},
               expectation::authenticate);
  ASSERT_EQ(r.k, fk::complete);
  EXPECT_EQ(d->current().st, st::bad);
  EXPECT_EQ(d->current().lines.size(), 2u);
}

TEST_F(smtp_dialect_test, starttls_replies) {
  EXPECT_EQ(status_of("220 2.0.0 SMTP server ready"), st::ok);
  EXPECT_EQ(status_of("454 4.7.0 TLS not available due to temporary reason"), st::temporary);
  EXPECT_EQ(status_of("502 5.5.1 Unrecognized command."), st::bad);
}

TEST_F(smtp_dialect_test, malformed_lines) {
  for (const auto line : {"", "2", "25", "abc", "25O ok", "2500", "250x", "250_ok", " 250 ok",
                          "OK 250", "+OK", "* OK"}) {
    d->expect(expectation::single);
    const auto r = d->feed(line);
    EXPECT_EQ(r.k, fk::error) << line;
    EXPECT_EQ(r.error, errc::malformed_reply) << line;
  }
}

TEST_F(smtp_dialect_test, codes_outside_rfc5321_are_malformed) {
  // Reply-code = %x32-35 %x30-35 %x30-39: a "939" used to count as a refusal of the
  // credentials (exit 3); it is garbage.
  for (const auto line : {"000 x", "100 x", "199 x", "600 x", "939 x", "260 x", "599x", "2a0 x"}) {
    d->expect(expectation::authenticate);
    const auto r = d->feed(line);
    EXPECT_EQ(r.k, fk::error) << line;
    EXPECT_EQ(r.error, errc::malformed_reply) << line;
  }
}

TEST_F(smtp_dialect_test, other_3xx_replies_are_unexpected) {
  // 354 asks for message data; answering AUTH with it must not pass for success.
  for (const auto line : {"354 Start mail input; end with <CRLF>.<CRLF>", "300 x", "335 x"}) {
    const auto r = reply_of({line}, expectation::authenticate);
    EXPECT_EQ(r.k, fk::error) << line;
    EXPECT_EQ(r.error, errc::unexpected_reply) << line;
  }
}

TEST_F(smtp_dialect_test, commands) {
  EXPECT_EQ(d->starttls_command(), "STARTTLS");
  EXPECT_EQ(d->auth_command(sasl::mechanism::xoauth2), "AUTH XOAUTH2");
  EXPECT_EQ(d->logout_command(), "QUIT");
}

}  // namespace
}  // namespace mailoauth::protocol::detail
