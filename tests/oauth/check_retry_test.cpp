// `mailoauth check ACCOUNT`: when the real Dovecot rejects a token that looked valid (here:
// signed by a key Dovecot does not trust, through the server's bad_signature_next), check
// forces exactly one refresh and tries again.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

using check_retry = oauth_test;

TEST_F(check_retry, rejected_token_is_refreshed_once_and_check_succeeds) {
  write_config({{.mail_servers = true}});
  configure({{"bad_signature_next", 1}});  // the sign-in's access token: a bad signature
  login_fast();
  const std::string bad(stored().at("access_token").as_string());
  ASSERT_FALSE(jwt_signature_valid(bad));  // yet unexpired and well-formed: it looks valid

  const auto c = mailoauth({"check", "acct", "--imap", "--pop", "--smtp"});
  EXPECT_EQ(c.exit_code, 0) << c.describe() << dovecot().log_tail();
  EXPECT_EQ(occurrences(c.out,
                        "[the server rejected a token that looked valid: refreshing it "
                        "once and trying again]"),
            1U)
      << c.out;
  EXPECT_EQ(occurrences(c.out, "verdict: OK"), 3U) << c.out;
  EXPECT_EQ(occurrences(c.out, "verdict: FAILED"), 1U) << c.out;  // IMAP's first try
  EXPECT_EQ(count_token_requests("refresh_token"), 1);
  EXPECT_EQ(count_token_requests("refresh_token", "ok"), 1);
  const std::string good(stored().at("access_token").as_string());
  EXPECT_NE(good, bad);
  EXPECT_TRUE(jwt_signature_valid(good));
}

TEST_F(check_retry, a_second_rejection_is_reported_without_refreshing_again) {
  write_config({{.mail_servers = true}});
  configure({{"bad_signature_next", 2}});  // the refreshed token is bad too
  login_fast();
  const auto c = mailoauth({"check", "acct", "--imap"});
  EXPECT_EQ(c.exit_code, 3) << c.describe();
  EXPECT_EQ(occurrences(c.out, "verdict: FAILED"), 2U) << c.out;
  EXPECT_THAT(c.out, HasSubstr("[the server rejected a token that looked valid"));
  EXPECT_EQ(count_token_requests("refresh_token"), 1);
}

}  // namespace
}  // namespace mailoauth::oauth_test
