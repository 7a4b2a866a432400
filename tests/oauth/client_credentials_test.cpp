// App-only access (client credentials) with the confidential client: the secret from the
// config or from client_secret_command, no refresh token (asking again is the refresh), a wrong
// secret explained, and a `check` against Dovecot with the server's cc_email claim.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>

#include <thread>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

const std::string secret_value = "mailoauth-test-secret";

account_spec app_account(std::vector<std::string> extra, bool mail_servers = false) {
  return {.client_id = "mailoauth-confidential",
          .flow = "client-credentials",
          .extra = std::move(extra),
          .mail_servers = mail_servers};
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

class client_credentials : public oauth_test {
 protected:
  // The app-only token is a JWT with the application's roles and no delegated scopes.
  void expect_app_token(const std::string& token) {
    EXPECT_TRUE(jwt_signature_valid(token));
    const auto claims = jwt_payload(token);
    EXPECT_EQ(claims.at("idtyp"), "app");
    EXPECT_EQ(claims.at("sub"), "mailoauth-confidential");
    EXPECT_EQ(json::serialize(claims.at("roles")),
              R"(["IMAP.AccessAsApp","POP.AccessAsApp","SMTP.SendAsApp"])");
    EXPECT_FALSE(claims.contains("scp"));
  }

  std::vector<json::object> cc_requests() {
    std::vector<json::object> out;
    for (const auto& e : log())
      if (e.at("event") == "token" && e.at("grant_type") == "client_credentials") out.push_back(e);
    return out;
  }
};

TEST_F(client_credentials, secret_from_the_config) {
  write_config({app_account({"client_secret = \"" + secret_value + "\""})});
  const auto r = mailoauth({"login", "acct"});  // the account's flow
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("(client-credentials), account acct"));
  EXPECT_THAT(r.err, HasSubstr("no refresh token"));
  const auto requests = cc_requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].at("outcome"), "ok");
  EXPECT_EQ(requests[0].at("client_id"), "mailoauth-confidential");
  EXPECT_EQ(requests[0].at("scope"), "https://outlook.office365.com/.default");
  EXPECT_TRUE(stored().at("refresh_token").as_string().empty());

  const auto t = mailoauth({"token", "acct"});
  ASSERT_EQ(t.exit_code, 0) << t.describe();
  EXPECT_EQ(first_line(t.out), std::string(stored().at("access_token").as_string()));
  expect_app_token(first_line(t.out));
  EXPECT_EQ(cc_requests().size(), 1U) << "a valid app-only token was fetched again";
}

TEST_F(client_credentials, secret_from_client_secret_command) {
  const auto secret_file = scratch_ / "secret.txt";
  write_file(secret_file, secret_value + "\n", 0600);
  write_config({app_account({"client_secret_command = \"cat " + secret_file.string() + "\""})});
  // `token` without a login: app-only access needs no user, so it simply asks.
  const auto t = mailoauth({"token", "acct"});
  ASSERT_EQ(t.exit_code, 0) << t.describe();
  expect_app_token(first_line(t.out));
  const auto requests = cc_requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].at("outcome"), "ok");
  EXPECT_TRUE(fs::exists(token_file()));
}

TEST_F(client_credentials, expired_app_token_is_fetched_again) {
  write_config({app_account({"client_secret = \"" + secret_value + "\""})});
  configure({{"access_ttl", 2}});
  ASSERT_EQ(mailoauth({"login", "acct"}).exit_code, 0);
  const std::string first(stored().at("access_token").as_string());
  const auto expires = stored().at("expires_at").to_number<std::int64_t>();
  while (unix_now() <= expires) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  configure({{"access_ttl", 3600}});
  const auto t = mailoauth({"token", "acct"});
  ASSERT_EQ(t.exit_code, 0) << t.describe();
  EXPECT_NE(first_line(t.out), first);
  expect_app_token(first_line(t.out));
  EXPECT_EQ(cc_requests().size(), 2U);
  EXPECT_EQ(count_token_requests("refresh_token"), 0);
}

TEST_F(client_credentials, wrong_secret_is_explained) {
  write_config({app_account({"client_secret = \"not-the-secret\""})});
  const auto r = mailoauth({"login", "acct"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("app-only sign-in (client credentials) failed: invalid_client: "
                               "the identity platform does not accept this client: check "
                               "client_id and client_secret of account acct"));
  EXPECT_FALSE(fs::exists(token_file()));
}

TEST_F(client_credentials, app_token_with_cc_email_authenticates_to_dovecot) {
  // Dovecot maps the user by the email claim, which app tokens carry only with cc_email.
  configure({{"cc_email", user_name}});
  write_config({app_account({"client_secret = \"" + secret_value + "\""}, true)});
  ASSERT_EQ(mailoauth({"login", "acct"}).exit_code, 0);
  const auto c = mailoauth({"check", "acct", "--imap", "--pop", "--smtp"});
  EXPECT_EQ(c.exit_code, 0) << c.describe() << dovecot().log_tail();
  std::size_t ok = 0;
  for (auto at = c.out.find("verdict: OK"); at != std::string::npos;
       at = c.out.find("verdict: OK", at + 1))
    ++ok;
  EXPECT_EQ(ok, 3U) << c.out;
  EXPECT_EQ(cc_requests().size(), 1U);
}

}  // namespace
}  // namespace mailoauth::oauth_test
