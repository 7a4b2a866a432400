// Microsoft-shaped error bodies (the server's /test/next-error: AADSTS codes with Microsoft's
// fields) become one line that says what to change; --verbose adds the raw description and the
// correlation id. A refresh refused with invalid_grant, throttling (429), an outage (503) and a
// dropped connection never touch the stored tokens.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>

#include <regex>
#include <thread>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

struct hint_case {
  int code;
  std::string expected;  // after "<doing> failed: "
};

class error_hints : public oauth_test {
 protected:
  std::vector<std::string> http_user() const {
    return {"BROWSER=node " + oauth_support("http_user.mjs"), "HTTP_USER_LOGIN=" + user_name};
  }

  // Signs in to "ms" with a token that expires at once, so that every `token` refreshes.
  void sign_in_expired() {
    write_config_text("default = \"ms\"\n" + microsoft_account_toml());
    configure({{"access_ttl", 1}});
    const auto r = mailoauth({"login", "ms", "--flow", "browser"}, http_user());
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    const auto expires = stored("ms").at("expires_at").to_number<std::int64_t>();
    while (unix_now() <= expires) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    configure({{"access_ttl", 3600}});
  }

  int refreshes(const std::string& outcome = {}) const {
    return count_token_requests("refresh_token", outcome);
  }
};

TEST_F(error_hints, sign_in_errors_are_mapped_to_what_to_change) {
  write_config_text("default = \"ms\"\n" + microsoft_account_toml());
  const std::vector<hint_case> cases = {
      {50011,
       "invalid_request (AADSTS50011): the redirect URI is not registered for this app: "
       "in the app registration's Authentication page add the platform \"Mobile and "
       "desktop applications\" with redirect URI http://localhost"},
      {65001,
       "invalid_grant (AADSTS65001): nobody has consented to the app's permissions "
       "(IMAP.AccessAsUser.All, POP.AccessAsUser.All, SMTP.Send)"},
      {700016,
       "unauthorized_client (AADSTS700016): client_id mailoauth-native is not an "
       "application in tenant contoso.example: check client_id and tenant"},
      {7000218,
       "invalid_client (AADSTS7000218): the app requires a client secret: add "
       "client_secret to account ms, or enable \"Allow public client flows\""},
      {700025,
       "invalid_client (AADSTS700025): the app is a public client and must not send a "
       "secret: remove client_secret from account ms"},
      {90002,
       "invalid_request (AADSTS90002): tenant contoso.example does not exist: set tenant "
       "to your tenant's ID or domain"},
      {53003,
       "invalid_grant (AADSTS53003): blocked by a Conditional Access policy of your "
       "organisation"},
      {50126,
       "invalid_grant (AADSTS50126): the user name or password is wrong: run `mailoauth "
       "login ms`"},
      {70011, "invalid_scope (AADSTS70011): a requested scope is invalid"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("AADSTS" + std::to_string(c.code));
    queue_error({{"code", c.code}, {"grant_type", "authorization_code"}});
    const auto r = mailoauth({"login", "ms", "--flow", "browser"}, http_user());
    EXPECT_EQ(r.exit_code, 3) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("mailoauth: error: redeeming the authorization code failed: " +
                                 c.expected))
        << r.err;
    // One line without --verbose: the platform's own text stays out.
    EXPECT_THAT(r.err, Not(HasSubstr("error_description")));
    EXPECT_FALSE(fs::exists(token_file("ms")));
  }
  // The forced errors were all used, by the code redemptions they were aimed at.
  EXPECT_EQ(count_token_requests("authorization_code", "error"), static_cast<int>(cases.size()));
}

TEST_F(error_hints, refresh_errors_are_mapped_and_keep_the_stored_tokens) {
  ASSERT_NO_FATAL_FAILURE(sign_in_expired());
  const auto before = stored_tokens("ms");
  const std::vector<hint_case> cases = {
      {700082,
       "invalid_grant (AADSTS700082): the refresh token expired after a long time "
       "unused: run `mailoauth login ms`"},
      {70043,
       "invalid_grant (AADSTS70043): the refresh token expired because of your "
       "organisation's sign-in frequency policy: run `mailoauth login ms`"},
      {50076,
       "invalid_grant (AADSTS50076): multi-factor authentication is required: run "
       "`mailoauth login ms` with an interactive flow (browser or device)"},
      {7000012,
       "invalid_grant (AADSTS7000012): the sign-in belongs to another tenant than the "
       "one configured: check tenant, then run `mailoauth login ms`"},
      {900144, "invalid_request (AADSTS900144): the request lacks a required parameter"},
      {65001, "invalid_grant (AADSTS65001): nobody has consented to the app's permissions"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("AADSTS" + std::to_string(c.code));
    queue_error({{"code", c.code}, {"grant_type", "refresh_token"}});
    const auto r = mailoauth({"token", "ms"});
    EXPECT_EQ(r.exit_code, 3) << r.describe();
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, HasSubstr("mailoauth: error: refreshing the token failed: " + c.expected))
        << r.err;
    EXPECT_EQ(stored_tokens("ms"), before) << "the stored tokens changed";
  }
  // The refresh token survived all of that: the next refresh works.
  const auto r = mailoauth({"token", "ms"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(refreshes("ok"), 1);
}

TEST_F(error_hints, verbose_adds_the_error_description_and_correlation_id) {
  ASSERT_NO_FATAL_FAILURE(sign_in_expired());
  queue_error({{"code", 50076}, {"grant_type", "refresh_token"}});
  const auto r = mailoauth({"-v", "token", "ms"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("mailoauth: error: refreshing the token failed: invalid_grant "
                               "(AADSTS50076): multi-factor authentication is required"));
  EXPECT_THAT(r.err, HasSubstr("  error_description: AADSTS50076: Due to a configuration change "
                               "made by your administrator"));
  const std::regex correlation(
      "\n  correlation_id: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
      "[0-9a-f]{4}-[0-9a-f]{12}\n");
  EXPECT_TRUE(std::regex_search(r.err, correlation)) << r.err;
  // Microsoft's description ends its lines with CRLF; nothing of that reaches the terminal raw
  // or as escapes.
  EXPECT_THAT(r.err, Not(HasSubstr("\r")));
  EXPECT_THAT(r.err, Not(HasSubstr("\\x0d")));
}

TEST_F(error_hints, invalid_grant_on_refresh_says_login_and_keeps_the_file) {
  ASSERT_NO_FATAL_FAILURE(sign_in_expired());
  const auto before = stored_tokens("ms");
  // Someone else redeems the stored refresh token first (it rotates): the stored one is spent,
  // and the server's answer to it is a real invalid_grant (which also revokes the grant).
  const std::string refresh_token(stored("ms").at("refresh_token").as_string());
  const auto spent =
      run({"curl", "--silent", "--noproxy", "*", "--data-urlencode", "grant_type=refresh_token",
           "--data-urlencode", "client_id=mailoauth-native", "--data-urlencode",
           "refresh_token=" + refresh_token, server().issuer() + "/token"},
          {.set_env = {"CURL_HOME=/nonexistent"}}, std::chrono::seconds(60));
  ASSERT_THAT(spent.out, HasSubstr("\"access_token\"")) << spent.describe();

  const auto r = mailoauth({"-v", "token", "ms"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("mailoauth: error: refreshing the token failed: invalid_grant: the "
                               "sign-in is no longer valid (expired, revoked or already used): "
                               "run `mailoauth login ms`"));
  EXPECT_THAT(r.err, HasSubstr("error_description: grant request is invalid"));
  EXPECT_EQ(stored_tokens("ms"), before) << "the stored tokens changed";
  EXPECT_EQ(count_token_requests("refresh_token", "error", "invalid_grant"), 1);

  // Signing in again replaces the state.
  const auto again = mailoauth({"login", "ms", "--flow", "browser"}, http_user());
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_NE(stored_tokens("ms"), before);
  EXPECT_EQ(mailoauth({"token", "ms"}).exit_code, 0);
}

TEST_F(error_hints, throttling_and_dropped_connections_are_retried_after_retry_after) {
  ASSERT_NO_FATAL_FAILURE(sign_in_expired());
  queue_error({{"preset", "throttled"}, {"retry_after", 1}, {"grant_type", "refresh_token"}});
  queue_error({{"preset", "drop"}, {"grant_type", "refresh_token"}});
  const auto r = mailoauth({"token", "ms"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("failed (HTTP 429); retrying in 1 s"));
  std::vector<json::object> tries;
  for (const auto& e : log())
    if (e.at("event") == "token" && e.at("grant_type") == "refresh_token") tries.push_back(e);
  ASSERT_EQ(tries.size(), 3U);
  EXPECT_EQ(tries[0].at("status"), 429);
  EXPECT_EQ(tries[1].at("status"), 0);  // dropped without an answer
  EXPECT_EQ(tries[2].at("outcome"), "ok");
  const auto gap = [&](std::size_t k) {
    return tries[k].at("t").to_number<std::int64_t>() -
           tries[k - 1].at("t").to_number<std::int64_t>();
  };
  EXPECT_GE(gap(1), 1000) << "Retry-After: 1 was not honoured";
  EXPECT_GE(gap(2), 1000) << "no back-off after the dropped connection";
}

TEST_F(error_hints, persistent_outage_fails_with_exit_5_and_keeps_the_file) {
  ASSERT_NO_FATAL_FAILURE(sign_in_expired());
  const auto before = stored_tokens("ms");
  queue_error({{"preset", "unavailable"},
               {"retry_after", 1},
               {"count", 20},
               {"grant_type", "refresh_token"}});
  const auto r = mailoauth({"token", "ms"});
  EXPECT_EQ(r.exit_code, 5) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("refreshing the token failed: "));
  EXPECT_THAT(r.err, HasSubstr("503"));
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(stored_tokens("ms"), before) << "the stored tokens changed";
  // A bounded number of tries (a token helper must answer), each one after Retry-After.
  std::vector<json::object> tries;
  for (const auto& e : log())
    if (e.at("event") == "token" && e.at("grant_type") == "refresh_token") tries.push_back(e);
  EXPECT_GE(tries.size(), 2U);
  EXPECT_LE(tries.size(), 5U);
  for (std::size_t k = 0; k < tries.size(); ++k) {
    EXPECT_EQ(tries[k].at("status"), 503);
    if (k > 0) {
      EXPECT_GE(tries[k].at("t").to_number<std::int64_t>() -
                    tries[k - 1].at("t").to_number<std::int64_t>(),
                1000);
    }
  }

  // Once the platform is back and its Retry-After has passed, the kept refresh token works.
  server().del("/test/next-error");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto after = mailoauth({"token", "ms"});
  EXPECT_EQ(after.exit_code, 0) << after.describe();
}

}  // namespace
}  // namespace mailoauth::oauth_test
