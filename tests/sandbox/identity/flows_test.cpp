// Every flow of the token issue against the sandbox's identity platform, end to end with the
// real `mailoauth login` and, where a user acts in a browser, headless Chromium.
#include "identity_fixture.hpp"

#include "sandbox/core/jwt.hpp"

#include <gmock/gmock.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <sstream>

namespace mailoauth::identity_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

const std::vector<std::string> all_scopes{"IMAP.AccessAsUser.All", "POP.AccessAsUser.All",
                                          "SMTP.Send"};

void expect_delegated(const sandbox::access_claims& c, const std::string& client) {
  EXPECT_EQ(c.audience, "https://outlook.office365.com");
  EXPECT_EQ(c.issuer, "https://sts.windows.net/" + tenant_id + "/");
  EXPECT_EQ(c.tenant_id, tenant_id);
  EXPECT_EQ(c.client_id, client);
  EXPECT_EQ(c.username, user);
  EXPECT_EQ(c.object_id, "6db172d4-85aa-4c71-a0e4-c18482f59007");
  EXPECT_EQ(c.scopes, all_scopes);
  EXPECT_THAT(c.roles, IsEmpty());
  EXPECT_EQ(c.expires_at - c.issued_at, 3600);
}

TEST_F(identity_test, device_flow_approved_through_the_api) {
  write_config({{}});
  auto login = start_mailoauth({"login", "acct", "--flow", "device"});
  ASSERT_TRUE(login->wait_for(
      [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
      std::chrono::seconds(60)))
      << login->err();
  const auto code = user_code_in(login->err());
  // Microsoft's message, with the sandbox's device-login page.
  EXPECT_THAT(login->err(),
              HasSubstr("To sign in, use a web browser to open the page " + authority_ +
                        "/devicelogin and enter the code " + code + " to authenticate."));
  ASSERT_TRUE(server_->approve_device_code(code, user));
  const auto r = login->wait(std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Signed in as " + user));
  EXPECT_FALSE(stored().at("refresh_token").as_string().empty());
  expect_delegated(verified_token(), mail_app);
  // A code is good once.
  EXPECT_FALSE(server_->approve_device_code(code, user));
}

TEST_F(identity_test, device_flow_in_chromium) {
  write_config({{}});
  auto login = start_mailoauth({"login", "acct", "--flow", "device"});
  ASSERT_TRUE(login->wait_for(
      [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
      std::chrono::seconds(60)))
      << login->err();
  const auto code = user_code_in(login->err());
  const auto b = browser({"device", authority_ + "/devicelogin", "--code", code, "--login", user,
                          "--password", password});
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  const auto result = boost::json::parse(b.out).as_object();
  EXPECT_EQ(result.at("page"), "device-done") << b.out;
  EXPECT_THAT(std::string(result.at("text").as_string()),
              HasSubstr("You have signed in to the mailoauth (test) application on your device"));
  const auto r = login->wait(std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expect_delegated(verified_token(), mail_app);
}

TEST_F(identity_test, device_flow_declined_in_chromium) {
  write_config({{}});
  auto login = start_mailoauth({"login", "acct", "--flow", "device"});
  ASSERT_TRUE(login->wait_for(
      [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
      std::chrono::seconds(60)))
      << login->err();
  const auto b =
      browser({"device", authority_ + "/devicelogin", "--code", user_code_in(login->err()),
               "--login", user, "--password", password, "--deny"});
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  EXPECT_EQ(boost::json::parse(b.out).as_object().at("page"), "device-declined") << b.out;
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("authorization_declined"));
}

TEST_F(identity_test, wrong_password_is_refused_on_the_sign_in_page) {
  write_config({{}});
  auto login = start_mailoauth({"login", "acct", "--flow", "device"});
  ASSERT_TRUE(login->wait_for(
      [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
      std::chrono::seconds(60)));
  const auto b = browser({"device", authority_ + "/devicelogin", "--code",
                          user_code_in(login->err()), "--login", user, "--password", "wrong"});
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  const auto result = boost::json::parse(b.out).as_object();
  EXPECT_THAT(std::string(result.at("signin_error").as_string()),
              HasSubstr("Your account or password is incorrect. (AADSTS50126)"));
  EXPECT_THAT(b.out, Not(HasSubstr("wrong\""))) << "the password came back in the page";
}

TEST_F(identity_test, browser_flow_with_pkce_through_the_loopback_listener) {
  write_config({{.flow = "browser"}});
  const auto r = mailoauth({"login", "acct", "--flow", "browser", "--timeout", "150"},
                           browser_env(), std::chrono::seconds(200));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Signed in as " + user + " (browser)"));
  // The authorization request the CLI sent: code, S256, state, login_hint.
  EXPECT_THAT(r.err, HasSubstr("code_challenge_method=S256"));
  EXPECT_THAT(r.err, HasSubstr("response_type=code"));
  EXPECT_FALSE(stored().at("refresh_token").as_string().empty());
  expect_delegated(verified_token(), mail_app);
}

TEST_F(identity_test, paste_flow_with_the_redirect_captured_in_chromium) {
  write_config({{.flow = "paste"}});
  auto login = start_mailoauth({"login", "acct", "--flow", "paste"}, {}, /*pipe_stdin=*/true);
  ASSERT_TRUE(login->wait_for_stderr("Redirected URL: ", std::chrono::seconds(60))) << login->err();
  const std::string intro = "sign in:\n\n  ";
  const auto err = login->err();
  const auto at = err.find(intro);
  ASSERT_NE(at, std::string::npos) << err;
  const auto url =
      err.substr(at + intro.size(), err.find('\n', at + intro.size()) - at - intro.size());
  ASSERT_THAT(url, StartsWith(authority_ + "/" + tenant_domain + "/oauth2/v2.0/authorize?"));
  const auto b =
      browser({"authorize", url, "--login", user, "--password", password, "--capture-redirect"});
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  const std::string redirect(boost::json::parse(b.out).as_object().at("url").as_string());
  ASSERT_THAT(redirect, StartsWith("http://localhost/?code=")) << b.out;
  EXPECT_THAT(redirect, HasSubstr("&state="));
  EXPECT_THAT(redirect, HasSubstr("&iss="));
  login->write_stdin(redirect + "\n");
  const auto r = login->wait(std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expect_delegated(verified_token(), mail_app);
}

TEST_F(identity_test, implicit_grant_where_the_registration_enables_it) {
  write_config({{.client_id = implicit_app, .flow = "implicit"}});
  const auto r = mailoauth({"login", "acct", "--flow", "implicit", "--timeout", "150"},
                           browser_env(), std::chrono::seconds(200));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Signed in as " + user + " (implicit)"));
  EXPECT_TRUE(stored().at("refresh_token").as_string().empty());
  expect_delegated(verified_token(), implicit_app);
}

TEST_F(identity_test, client_credentials_with_admin_consent_carry_the_roles) {
  write_config({{.client_id = daemon_app,
                 .flow = "client-credentials",
                 .extra = {"client_secret = \"" + daemon_secret + "\""}}});
  const auto r = mailoauth({"login", "acct", "--flow", "client-credentials"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto c = verified_token();
  EXPECT_EQ(c.audience, "https://outlook.office365.com");
  EXPECT_EQ(c.client_id, daemon_app);
  EXPECT_EQ(c.object_id, "5ca061c3-7499-4b60-9fd3-b07371e48f06");
  EXPECT_THAT(c.username, IsEmpty());
  EXPECT_THAT(c.scopes, IsEmpty());
  EXPECT_THAT(c.roles, ElementsAre("IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"));
}

TEST_F(identity_test, client_credentials_without_admin_consent_carry_no_roles) {
  write_config({{.client_id = unconsented_app,
                 .flow = "client-credentials",
                 .extra = {"client_secret = \"" + unconsented_secret + "\""}}});
  const auto r = mailoauth({"login", "acct", "--flow", "client-credentials"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(verified_token().roles, IsEmpty());
}

std::vector<std::string> stored_and_logged_secrets(const json::object& s) {
  std::vector<std::string> out;
  for (const char* k : {"access_token", "refresh_token", "id_token"})
    if (const auto* v = s.if_contains(k); v && v->is_string() && !v->as_string().empty())
      out.emplace_back(v->as_string());
  return out;
}

TEST_F(identity_test, refresh_rotates_and_a_reused_refresh_token_revokes_the_sign_in) {
  // Everything the platform logs, at the most verbose level, for the leak check at the end.
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_level(spdlog::level::trace);

  write_config({{}});
  device_login();
  const auto first = stored();
  const std::string old_refresh(first.at("refresh_token").as_string());

  const auto r = mailoauth({"token", "acct", "--force-refresh"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto second = stored();
  const std::string new_refresh(second.at("refresh_token").as_string());
  EXPECT_NE(new_refresh, old_refresh) << "the refresh token was not rotated";
  expect_delegated(verified_token(), mail_app);

  // The old one again: refused, and the whole sign-in revoked.
  const auto token_url = authority_ + "/" + tenant_id + "/oauth2/v2.0/token";
  const auto reuse = post(token_url, "grant_type=refresh_token&client_id=" + mail_app +
                                         "&refresh_token=" + old_refresh);
  EXPECT_EQ(reuse.at("error"), "invalid_grant") << json::serialize(reuse);
  EXPECT_EQ(reuse.at("error_codes").as_array().at(0), 70000);
  const auto after = mailoauth({"token", "acct", "--force-refresh"});
  EXPECT_EQ(after.exit_code, 3) << after.describe();
  EXPECT_THAT(after.err, HasSubstr("AADSTS50173"));

  spdlog::set_default_logger(previous);
  const auto text = log.str();
  EXPECT_THAT(text, HasSubstr("identity:")) << "nothing was logged";
  for (const auto& s : stored_and_logged_secrets(first)) EXPECT_EQ(text.find(s), std::string::npos);
  for (const auto& s : stored_and_logged_secrets(second))
    EXPECT_EQ(text.find(s), std::string::npos);
  EXPECT_EQ(text.find(password), std::string::npos);
}

TEST_F(identity_test, discovery_document_and_keys) {
  const auto d = get(authority_ + "/" + tenant_domain + "/v2.0/.well-known/openid-configuration");
  EXPECT_EQ(std::string(d.at("issuer").as_string()), authority_ + "/" + tenant_id + "/v2.0");
  EXPECT_EQ(std::string(d.at("token_endpoint").as_string()),
            authority_ + "/" + tenant_domain + "/oauth2/v2.0/token");
  EXPECT_EQ(std::string(d.at("device_authorization_endpoint").as_string()),
            authority_ + "/" + tenant_domain + "/oauth2/v2.0/devicecode");
  EXPECT_EQ(std::string(d.at("jwks_uri").as_string()),
            authority_ + "/" + tenant_domain + "/discovery/v2.0/keys");
  const auto common = get(authority_ + "/common/v2.0/.well-known/openid-configuration");
  EXPECT_EQ(std::string(common.at("issuer").as_string()), authority_ + "/{tenantid}/v2.0");
  const auto k = get(authority_ + "/common/discovery/v2.0/keys");
  const auto& key = k.at("keys").as_array().at(0).as_object();
  EXPECT_EQ(key.at("kty"), "RSA");
  EXPECT_EQ(key.at("kid"), keys_.token_key.kid.c_str());
}

TEST_F(identity_test, minted_tokens_verify_and_an_expired_one_does_not) {
  const auto now = std::chrono::system_clock::now();
  sandbox::mint_request delegated;
  delegated.username = user;
  auto fresh = server_->mint_access_token(delegated);
  ASSERT_TRUE(fresh);
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  auto c = sandbox::verify_access_token(fresh->reveal(), keys_.token_key.public_pem, secs);
  ASSERT_TRUE(c) << c.error().message;
  expect_delegated(*c, mail_app);

  sandbox::mint_request old = delegated;
  old.issued_at = now - std::chrono::hours(2);
  old.lifetime = std::chrono::hours(1);
  auto expired = server_->mint_access_token(old);
  ASSERT_TRUE(expired);
  EXPECT_FALSE(sandbox::verify_access_token(expired->reveal(), keys_.token_key.public_pem, secs));

  auto app = server_->mint_access_token(sandbox::mint_request{});
  ASSERT_TRUE(app);
  auto ac = sandbox::verify_access_token(app->reveal(), keys_.token_key.public_pem, secs);
  ASSERT_TRUE(ac);
  EXPECT_EQ(ac->client_id, daemon_app);
  EXPECT_EQ(ac->roles.size(), 3U);
}

}  // namespace
}  // namespace mailoauth::identity_test
