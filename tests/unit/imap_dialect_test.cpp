// IMAP replies: greetings, tagged status, untagged data, continuations and literals.
#include "protocol/dialect.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace mailoauth::protocol::detail {
namespace {

using st = reply::status;
using fk = feed_result::kind;

class imap_dialect_test : public ::testing::Test {
 protected:
  std::unique_ptr<dialect> d = make_imap_dialect();

  feed_result greet(std::string_view line) {
    d->expect(expectation::greeting);
    return d->feed(line);
  }
};

TEST_F(imap_dialect_test, greeting_ok_with_capabilities) {
  const auto r = greet(
      "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
      "AUTH=PLAIN AUTH=XOAUTH2 auth=oauthbearer] Dovecot ready.");
  ASSERT_EQ(r.k, fk::complete);
  EXPECT_EQ(d->current().st, st::ok);
  const auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_TRUE(caps->imap4rev1);
  EXPECT_FALSE(caps->imap4rev2);
  EXPECT_TRUE(caps->sasl_ir);
  EXPECT_FALSE(caps->starttls);
  EXPECT_EQ(caps->mechanisms, (std::vector<std::string>{"PLAIN", "XOAUTH2", "OAUTHBEARER"}));
  EXPECT_TRUE(caps->offers("XOAUTH2"));
  EXPECT_EQ(caps->words.front(), "IMAP4rev1");
}

TEST_F(imap_dialect_test, greeting_ok_without_capabilities) {
  ASSERT_EQ(greet("* OK The Microsoft Exchange IMAP4 service is ready.").k, fk::complete);
  EXPECT_EQ(d->current().st, st::ok);
  EXPECT_EQ(d->current().line, "* OK The Microsoft Exchange IMAP4 service is ready.");
  EXPECT_EQ(d->parse_capabilities(d->current()), std::nullopt);
  ASSERT_EQ(greet("* ok").k, fk::complete);
  EXPECT_EQ(d->current().st, st::ok);
}

TEST_F(imap_dialect_test, greeting_preauth_and_bye) {
  ASSERT_EQ(greet("* PREAUTH [CAPABILITY IMAP4rev2] Logged in as joe").k, fk::complete);
  EXPECT_EQ(d->current().st, st::preauth);
  EXPECT_TRUE(d->parse_capabilities(d->current())->imap4rev2);
  ASSERT_EQ(greet("* BYE [UNAVAILABLE] Server shutting down").k, fk::complete);
  EXPECT_EQ(d->current().st, st::bye);
}

TEST_F(imap_dialect_test, greeting_garbage_is_malformed) {
  for (const auto line : {"", "*", "* ", "+OK POP3 ready", "220 smtp ready", "* NO go away",
                          "C01 OK", "* OKAY", "* PREAUTHENTICATED", "* BYEBYE", "OK"}) {
    const auto r = greet(line);
    EXPECT_EQ(r.k, fk::error) << line;
    EXPECT_EQ(r.error, errc::malformed_reply) << line;
  }
}

TEST_F(imap_dialect_test, command_tags_follow_the_seed) {
  EXPECT_EQ(d->capability_command(), "C01 CAPABILITY");
  EXPECT_EQ(d->starttls_command(), "S01 STARTTLS");
  EXPECT_EQ(d->auth_command(sasl::mechanism::xoauth2), "A01 AUTHENTICATE XOAUTH2");
  EXPECT_EQ(d->auth_command(sasl::mechanism::oauthbearer), "A02 AUTHENTICATE OAUTHBEARER");
  EXPECT_EQ(d->capability_command(), "C02 CAPABILITY");
  EXPECT_EQ(d->logout_command(), "L01 LOGOUT");
  EXPECT_FALSE(d->capability_reply_multiline());
}

TEST_F(imap_dialect_test, capability_reply) {
  d->capability_command();
  d->expect(expectation::single);
  EXPECT_EQ(d->feed("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED AUTH=XOAUTH2").k, fk::more);
  ASSERT_EQ(d->feed("C01 OK Completed").k, fk::complete);
  EXPECT_EQ(d->current().st, st::ok);
  EXPECT_EQ(d->current().lines.size(), 1u);
  const auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_TRUE(caps->starttls);
  EXPECT_FALSE(caps->sasl_ir);
  EXPECT_TRUE(caps->offers("xoauth2"));
  EXPECT_FALSE(caps->offers("OAUTHBEARER"));
}

TEST_F(imap_dialect_test, capabilities_in_the_tagged_reply) {
  d->auth_command(sasl::mechanism::xoauth2);
  d->expect(expectation::authenticate);
  ASSERT_EQ(d->feed("A01 OK [CAPABILITY IMAP4rev1 IDLE] Logged in").k, fk::complete);
  const auto caps = d->parse_capabilities(d->current());
  ASSERT_TRUE(caps.has_value());
  EXPECT_EQ(caps->words, (std::vector<std::string>{"IMAP4rev1", "IDLE"}));
}

TEST_F(imap_dialect_test, tagged_status) {
  const std::pair<std::string_view, st> cases[] = {
      {"A01 OK AUTHENTICATE completed.", st::ok},
      {"A01 ok", st::ok},
      {"A01 NO AUTHENTICATE failed.", st::no},
      {"A01 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", st::no},
      {"A01 NO", st::no},
      {"A01 NO [UNAVAILABLE] Temporary authentication failure", st::temporary},
      {"A01 no [unavailable]", st::temporary},
      {"A01 BAD Invalid SASL argument.", st::bad},
      {"A01 BAD", st::bad},
  };
  for (const auto& [line, status] : cases) {
    d = make_imap_dialect();
    d->auth_command(sasl::mechanism::xoauth2);
    d->expect(expectation::authenticate);
    ASSERT_EQ(d->feed(line).k, fk::complete) << line;
    EXPECT_EQ(d->current().st, status) << line;
    EXPECT_EQ(d->current().line, line);
  }
}

TEST_F(imap_dialect_test, malformed_tagged_lines) {
  d->capability_command();
  for (const auto line : {"C01 MAYBE", "C01 OKAY", "C01", "C01 ", "C02 OK", "A01 OK", "C011 OK",
                          "c01 OK", "OK", "*CAPABILITY", "garbage", ""}) {
    d->expect(expectation::single);
    const auto r = d->feed(line);
    EXPECT_EQ(r.k, fk::error) << line;
    EXPECT_EQ(r.error, errc::malformed_reply) << line;
  }
}

TEST_F(imap_dialect_test, continuation_only_in_authenticate) {
  d->capability_command();
  for (const auto e : {expectation::single, expectation::multiline}) {
    d->expect(e);
    const auto r = d->feed("+ go ahead");
    EXPECT_EQ(r.k, fk::error);
    EXPECT_EQ(r.error, errc::unexpected_reply);
  }
  d->expect(expectation::greeting);
  EXPECT_EQ(d->feed("+ ").k, fk::error);

  d->auth_command(sasl::mechanism::xoauth2);
  for (const auto& [line, payload] : {std::pair<std::string_view, std::string_view>{"+", ""},
                                      {"+ ", ""},
                                      {"+ eyJzdGF0dXMiOiI0MDAifQ==", "eyJzdGF0dXMiOiI0MDAifQ=="}}) {
    d->expect(expectation::authenticate);
    ASSERT_EQ(d->feed(line).k, fk::complete) << line;
    EXPECT_EQ(d->current().st, st::continuation);
    EXPECT_EQ(d->current().payload, payload);
  }
  // "+OK" is POP3's, not a continuation.
  d->expect(expectation::authenticate);
  EXPECT_EQ(d->feed("+OK").k, fk::error);
}

TEST_F(imap_dialect_test, untagged_lines_are_collected) {
  d->auth_command(sasl::mechanism::xoauth2);
  d->expect(expectation::authenticate);
  EXPECT_EQ(d->feed("* CAPABILITY IMAP4rev1 IDLE").k, fk::more);
  EXPECT_EQ(d->feed("* OK [ALERT] Your password expires soon").k, fk::more);
  EXPECT_EQ(d->feed("* 3 EXISTS").k, fk::more);
  ASSERT_EQ(d->feed("A01 NO AUTHENTICATE failed.").k, fk::complete);
  EXPECT_EQ(d->current().st, st::no);
  EXPECT_EQ(d->current().lines,
            (std::vector<std::string>{"* CAPABILITY IMAP4rev1 IDLE",
                                      "* OK [ALERT] Your password expires soon", "* 3 EXISTS"}));
}

TEST_F(imap_dialect_test, literals) {
  d->capability_command();
  d->expect(expectation::single);
  auto r = d->feed("* 1 FETCH (BODY[] {12}");
  EXPECT_EQ(r.k, fk::more);
  EXPECT_EQ(r.literal, 12u);
  // RFC 3501 section 4.3: after the literal the same response goes on; ")" is not a new one.
  r = d->feed(" FLAGS (\\Seen) BODY[HEADER] {5+}");
  EXPECT_EQ(r.k, fk::more);
  EXPECT_EQ(r.literal, 5u);
  r = d->feed(")");
  EXPECT_EQ(r.k, fk::more);
  EXPECT_EQ(r.literal, 0u);
  r = d->feed("* ID NIL");
  EXPECT_EQ(r.k, fk::more);
  ASSERT_EQ(d->feed("C01 OK done").k, fk::complete);
  EXPECT_EQ(d->current().lines.size(), 2u);
  EXPECT_EQ(d->current().lines[0], "* 1 FETCH (BODY[] {12} FLAGS (\\Seen) BODY[HEADER] {5+})");
}

TEST_F(imap_dialect_test, an_empty_literal_is_still_a_literal) {
  d->capability_command();
  d->expect(expectation::single);
  auto r = d->feed("* X {0}");
  EXPECT_EQ(r.k, fk::more);
  EXPECT_EQ(r.literal, 0u);
  EXPECT_EQ(d->feed(")").k, fk::more);
  ASSERT_EQ(d->feed("C01 OK").k, fk::complete);
}

TEST_F(imap_dialect_test, literal_lookalikes) {
  d->capability_command();
  for (const auto line :
       {"* X {}", "* X {abc}", "* X {12", "* X 12}", "* X {-1}", "* X {+}", "* X {1 2}"}) {
    d->expect(expectation::single);
    const auto r = d->feed(line);
    EXPECT_EQ(r.k, fk::more) << line;
    EXPECT_EQ(r.literal, 0u) << line;
    // Not a literal, so the next line is a response of its own.
    EXPECT_EQ(d->feed("C01 OK").k, fk::complete) << line;
  }
}

TEST_F(imap_dialect_test, an_overflowing_literal_is_reported_huge) {
  // Ignoring it would read the literal's bytes as responses; the session refuses huge ones.
  d->capability_command();
  d->expect(expectation::single);
  const auto r = d->feed("* X {99999999999999999999999999}");
  EXPECT_EQ(r.k, fk::more);
  EXPECT_EQ(r.literal, static_cast<std::size_t>(-1));
}

TEST_F(imap_dialect_test, a_tagged_line_ending_in_braces_is_no_literal) {
  d->capability_command();
  d->expect(expectation::single);
  ASSERT_EQ(d->feed("C01 OK {5}").k, fk::complete);
}

TEST_F(imap_dialect_test, expect_resets_the_reply) {
  d->capability_command();
  d->expect(expectation::single);
  d->feed("* CAPABILITY X");
  d->feed("* X {3}");
  d->expect(expectation::single);
  EXPECT_TRUE(d->current().lines.empty());
  // The pending literal belonged to the abandoned reply.
  EXPECT_EQ(d->feed("C01 OK").k, fk::complete);
}

}  // namespace
}  // namespace mailoauth::protocol::detail
