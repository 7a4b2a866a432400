// TLS failures against the real Dovecot: a certificate from a CA the client was not told to
// trust must stop the exchange before any credential is sent (exit code 4).
#include "integration_environment.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <ostream>
#include <string>

namespace mailoauth::test {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

struct tls_case {
  std::string scheme;
  std::uint16_t (dovecot_instance::*port)() const;
};

const tls_case tls_cases[] = {
    {"imaps", &dovecot_instance::imaps_port},       {"imap", &dovecot_instance::imap_port},
    {"pop3s", &dovecot_instance::pop3s_port},       {"pop3", &dovecot_instance::pop3_port},
    {"smtps", &dovecot_instance::submissions_port}, {"smtp", &dovecot_instance::submission_port},
};

void PrintTo(const tls_case& c, std::ostream* os) {
  *os << c.scheme;
}

std::string case_name(const ::testing::TestParamInfo<tls_case>& info) {
  return info.param.scheme;
}

class untrusted_certificate : public ::testing::TestWithParam<tls_case> {
 protected:
  // The user is unique per test so the log can prove the token never reached Dovecot.
  process_result run(const std::string& user, const std::vector<std::string>& extra) {
    const auto& dovecot = main_dovecot();
    const auto token_file = write_token_file(mint_token(dovecot, {.email = user}));
    std::vector<std::string> args{
        "check",        url(GetParam().scheme, (dovecot.*GetParam().port)()),
        "--user",       user,
        "--token-file", token_file,
        "--timeout",    "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_mailoauth(args);
  }

  static void expect_no_login_attempt(const std::string& user) {
    // auth_verbose logs every passdb lookup; none may exist for this user.
    EXPECT_FALSE(log_has_line(main_dovecot(), {user}, std::chrono::milliseconds(300)))
        << "the token reached Dovecot despite the TLS failure\n"
        << main_dovecot().log_tail();
  }
};

TEST_P(untrusted_certificate, other_ca_is_refused) {
  const std::string user = "other-ca-" + GetParam().scheme + "@example.org";
  const auto r = run(user, {"--cafile", main_dovecot().other_ca_file()});
  EXPECT_EQ(r.exit_code, 4) << r.describe();
  EXPECT_NE(lower(r.both()).find("certificate"), std::string::npos)
      << "no word about the certificate\n"
      << r.describe();
  expect_no_login_attempt(user);
}

TEST_P(untrusted_certificate, system_cas_are_refused) {
  // The test CA is in no system store, so without --cafile verification must fail.
  const std::string user = "system-ca-" + GetParam().scheme + "@example.org";
  const auto r = run(user, {});
  EXPECT_EQ(r.exit_code, 4) << r.describe();
  EXPECT_NE(lower(r.both()).find("certificate"), std::string::npos) << r.describe();
  expect_no_login_attempt(user);
}

INSTANTIATE_TEST_SUITE_P(dovecot, untrusted_certificate, ::testing::ValuesIn(tls_cases), case_name);

}  // namespace
}  // namespace mailoauth::test
