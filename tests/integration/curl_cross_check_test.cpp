// curl as a second, independent client: the token mailoauth gets accepted must be accepted
// when curl sends it (`--oauth2-bearer`), and an expired one refused by both. curl 7.88 uses
// OAUTHBEARER whenever the server offers it, so the XOAUTH2-only instance checks curl's XOAUTH2.
#include "integration_environment.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace mailoauth::test {
namespace {

// curl's exit code for a refused login (CURLE_LOGIN_DENIED).
constexpr int curl_login_denied = 67;

struct curl_case {
  std::string instance;  // "main" or "xoauth2"
  std::string scheme;
  std::uint16_t (dovecot_instance::*port)() const;
  std::string login_service;
};

const curl_case curl_cases[] = {
    {"main", "imaps", &dovecot_instance::imaps_port, "imap-login"},
    {"main", "pop3s", &dovecot_instance::pop3s_port, "pop3-login"},
    {"main", "smtps", &dovecot_instance::submissions_port, "submission-login"},
    {"xoauth2", "imaps", &dovecot_instance::imaps_port, "imap-login"},
    {"xoauth2", "pop3s", &dovecot_instance::pop3s_port, "pop3-login"},
    {"xoauth2", "smtps", &dovecot_instance::submissions_port, "submission-login"},
};

void PrintTo(const curl_case& c, std::ostream* os) {
  *os << c.instance << " " << c.scheme;
}

std::string case_name(const ::testing::TestParamInfo<curl_case>& info) {
  return info.param.instance + "_" + info.param.scheme;
}

class curl_cross_check : public ::testing::TestWithParam<curl_case> {
 protected:
  const dovecot_instance& dovecot() const {
    return GetParam().instance == "main" ? main_dovecot() : xoauth2_dovecot();
  }
  std::string expected_mechanism() const {
    return GetParam().instance == "main" ? "OAUTHBEARER" : "XOAUTH2";
  }

  process_result curl(const std::string& user, const std::string& token) const {
    const auto& c = GetParam();
    std::vector<std::string> args{"--cacert", dovecot().ca_file(), "--oauth2-bearer", token,
                                  "--user",   user + ":"};
    // After logging in: IMAP and SMTP a NOOP; POP3 its default LIST (curl waits for a
    // multi-line answer to any custom POP3 command, and NOOP has none).
    if (c.scheme != "pop3s") args.insert(args.end(), {"--request", "NOOP"});
    args.push_back(url(c.scheme, (dovecot().*c.port)()) + "/");
    return run_curl(args);
  }

  process_result mailoauth(const std::string& user, const std::string& token) const {
    const auto& c = GetParam();
    return run_mailoauth({"check", url(c.scheme, (dovecot().*c.port)()), "--user", user,
                          "--token-file", write_token_file(token), "--cafile",
                          dovecot().ca_file()});
  }
};

TEST_P(curl_cross_check, same_token_accepted_by_both) {
  const std::string user = "curl-" + GetParam().instance + "-" + GetParam().scheme + "@example.org";
  const auto token = mint_token(dovecot(), {.email = user});

  const auto by_curl = curl(user, token);
  ASSERT_EQ(by_curl.exit_code, 0) << by_curl.describe() << dovecot().log_tail();
  EXPECT_TRUE(log_has_line(dovecot(), {GetParam().login_service + ": Info: Login: user=<" + user,
                                       "method=" + expected_mechanism(), ", TLS"}))
      << dovecot().log_tail();

  const auto by_mailoauth = mailoauth(user, token);
  EXPECT_EQ(by_mailoauth.exit_code, 0) << by_mailoauth.describe() << dovecot().log_tail();
}

TEST_P(curl_cross_check, expired_token_refused_by_both) {
  const std::string user =
      "curl-expired-" + GetParam().instance + "-" + GetParam().scheme + "@example.org";
  const auto token = mint_token(dovecot(), {.email = user, .expires_in = -120});

  const auto by_curl = curl(user, token);
  EXPECT_EQ(by_curl.exit_code, curl_login_denied) << by_curl.describe();
  const auto by_mailoauth = mailoauth(user, token);
  EXPECT_EQ(by_mailoauth.exit_code, 3) << by_mailoauth.describe();
  EXPECT_TRUE(log_has_line(dovecot(), {"oauth2(" + user, "Token has expired"}))
      << dovecot().log_tail();
}

INSTANTIATE_TEST_SUITE_P(dovecot, curl_cross_check, ::testing::ValuesIn(curl_cases), case_name);

}  // namespace
}  // namespace mailoauth::test
