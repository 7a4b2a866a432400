// `mailoauth check` with a valid token against the real Dovecot: every scheme (implicit TLS
// and STARTTLS for IMAP, POP3 and submission) with each mechanism. Dovecot's own log confirms
// what the exit code claims: it logged this user in, with this mechanism, over TLS.
#include "integration_environment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>

namespace mailoauth::test {
namespace {

struct endpoint {
  std::string scheme;
  std::uint16_t (dovecot_instance::*port)() const;
  std::string login_service;  // the Dovecot process that logs the login
};

const endpoint endpoints[] = {
    {"imaps", &dovecot_instance::imaps_port, "imap-login"},
    {"imap", &dovecot_instance::imap_port, "imap-login"},
    {"pop3s", &dovecot_instance::pop3s_port, "pop3-login"},
    {"pop3", &dovecot_instance::pop3_port, "pop3-login"},
    {"smtps", &dovecot_instance::submissions_port, "submission-login"},
    {"smtp", &dovecot_instance::submission_port, "submission-login"},
};

struct valid_case {
  endpoint where;
  std::string mech;  // as given to --mech
  std::string mech_name;
};

void PrintTo(const valid_case& c, std::ostream* os) {
  *os << c.where.scheme << " " << c.mech;
}

std::string case_name(const ::testing::TestParamInfo<valid_case>& info) {
  return info.param.where.scheme + "_" + info.param.mech;
}

std::vector<valid_case> all_cases() {
  std::vector<valid_case> cases;
  for (const auto& e : endpoints) {
    cases.push_back({e, "xoauth2", "XOAUTH2"});
    cases.push_back({e, "oauthbearer", "OAUTHBEARER"});
  }
  return cases;
}

// A transcript line the client sent ("C: ...") that holds every one of `parts`.
bool has_client_line(const std::string& output, const std::vector<std::string>& parts) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("C: ")) continue;
    if (std::all_of(parts.begin(), parts.end(),
                    [&](const std::string& p) { return line.find(p) != std::string::npos; }))
      return true;
  }
  return false;
}

class valid_token : public ::testing::TestWithParam<valid_case> {};

TEST_P(valid_token, authenticates) {
  const auto& c = GetParam();
  const auto& dovecot = main_dovecot();
  // A user of its own, so that the log line found below is this test's and no other's.
  const std::string user = c.where.scheme + "-" + c.mech + "@example.org";
  const auto token_file = write_token_file(mint_token(dovecot, {.email = user}));

  const auto r = run_mailoauth({"check", url(c.where.scheme, (dovecot.*c.where.port)()), "--user",
                                user, "--token-file", token_file, "--mech", c.mech, "--cafile",
                                dovecot.ca_file(), "--timeout", "20"});

  ASSERT_EQ(r.exit_code, 0) << r.describe() << dovecot.log_tail();
  // The transcript shows the client's command with the mechanism asked for ("C: A01
  // AUTHENTICATE XOAUTH2 ...", "C: AUTH OAUTHBEARER"); the capability lists name both.
  EXPECT_TRUE(has_client_line(r.out, {"AUTH", " " + c.mech_name})) << r.describe();
  EXPECT_TRUE(log_has_line(dovecot, {c.where.login_service + ": Info: Login: user=<" + user + ">",
                                     "method=" + c.mech_name, ", TLS"}))
      << "Dovecot did not log a TLS login of " << user << " with " << c.mech_name << "\n"
      << dovecot.log_tail();
}

INSTANTIATE_TEST_SUITE_P(dovecot, valid_token, ::testing::ValuesIn(all_cases()), case_name);

// Office 365 issues tokens of 1.5-3 KB and more than 4 KB has been seen. A 4.5 KB token makes
// a 6 KB SASL response: on one line where it fits (IMAP with SASL-IR), in the two-step
// exchange where it does not (SMTP's 512-octet command line; POP3 always).
TEST_P(valid_token, long_token_authenticates) {
  const auto& c = GetParam();
  const auto& dovecot = main_dovecot();
  const std::string user = "long-" + c.where.scheme + "-" + c.mech + "@example.org";
  const auto token = mint_token(dovecot, {.email = user, .padding = 3000});
  ASSERT_GT(token.size(), 4096U);
  const auto r = run_mailoauth({"check", url(c.where.scheme, (dovecot.*c.where.port)()), "--user",
                                user, "--token-file", write_token_file(token), "--mech", c.mech,
                                "--cafile", dovecot.ca_file(), "--timeout", "20"});
  ASSERT_EQ(r.exit_code, 0) << r.describe() << dovecot.log_tail();
  EXPECT_TRUE(log_has_line(dovecot, {"Login: user=<" + user + ">", "method=" + c.mech_name}))
      << dovecot.log_tail();
}

// Dovecot's login processes refuse SASL responses above 8 KB ("Authentication response too
// large": they hang up; submission answers "500 5.5.2 Line too long"). The client must end
// cleanly and at once with a failure, not hang or report success.
TEST(oversized_token, fails_cleanly_at_dovecots_limit) {
  const auto& dovecot = main_dovecot();
  const std::string user = "oversized@example.org";
  const auto token_file = write_token_file(mint_token(dovecot, {.email = user, .padding = 9000}));
  const std::pair<std::string, std::uint16_t> targets[] = {{"imaps", dovecot.imaps_port()},
                                                           {"pop3s", dovecot.pop3s_port()},
                                                           {"smtps", dovecot.submissions_port()}};
  for (const auto& [scheme, port] : targets) {
    const auto r = run_mailoauth({"check", url(scheme, port), "--user", user, "--token-file",
                                  token_file, "--cafile", dovecot.ca_file(), "--timeout", "20"});
    EXPECT_NE(r.exit_code, 0) << scheme << "\n" << r.describe();
    EXPECT_FALSE(r.timed_out) << scheme;
    EXPECT_LT(r.elapsed, std::chrono::seconds(10)) << scheme << "\n" << r.describe();
  }
}

// Without --mech the client picks XOAUTH2 when offered (the seed's mechanism), and that is what
// the XOAUTH2-only instance offers too.
TEST(default_mechanism, is_xoauth2_when_offered) {
  for (const auto* dovecot : {&main_dovecot(), &xoauth2_dovecot()}) {
    const std::string user = "default-mech@example.org";
    const auto token_file = write_token_file(mint_token(*dovecot, {.email = user}));
    const auto r = run_mailoauth({"check", url("imaps", dovecot->imaps_port()), "--user", user,
                                  "--token-file", token_file, "--cafile", dovecot->ca_file()});
    ASSERT_EQ(r.exit_code, 0) << r.describe() << dovecot->log_tail();
    EXPECT_TRUE(log_has_line(*dovecot, {"Login: user=<" + user + ">", "method=XOAUTH2"}))
        << dovecot->log_tail();
  }
}

}  // namespace
}  // namespace mailoauth::test
