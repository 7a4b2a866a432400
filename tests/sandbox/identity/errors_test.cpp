// Misconfigurations produce Entra ID's errors: the AADSTS codes users search for, in
// Microsoft's JSON shape, or on a page where Entra ID shows them instead of redirecting.
#include "identity_fixture.hpp"

#include <gmock/gmock.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace mailoauth::identity_test {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(identity_test, unknown_client_is_700016_from_the_cli_and_on_the_page) {
  write_config({{.client_id = "99999999-9999-4999-8999-999999999999"}});
  const auto r = mailoauth({"login", "acct", "--flow", "device"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("AADSTS700016"));

  const auto b =
      browser({"authorize", authority_ + "/common/oauth2/v2.0/authorize?client_id="
                                         "99999999-9999-4999-8999-999999999999&response_type="
                                         "code&redirect_uri=http%3A%2F%2Flocalhost%3A9&scope="
                                         "openid&state=s1"});
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  const auto page = boost::json::parse(b.out).as_object();
  EXPECT_EQ(page.at("page"), "error") << b.out;
  EXPECT_THAT(std::string(page.at("text").as_string()), HasSubstr("AADSTS700016"));
  EXPECT_THAT(std::string(page.at("url").as_string()), StartsWith(authority_)) << "redirected";
}

TEST_F(identity_test, redirect_uri_mismatch_is_50011_on_the_page_never_redirected) {
  const auto b = browser({"authorize", authority_ + "/" + tenant_id +
                                           "/oauth2/v2.0/authorize?client_id=" + mail_app +
                                           "&response_type=code&redirect_uri=https%3A%2F%2F"
                                           "evil.example%2Fcb&scope=https%3A%2F%2Foutlook."
                                           "office365.com%2FIMAP.AccessAsUser.All&state=s1"});
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  const auto page = boost::json::parse(b.out).as_object();
  EXPECT_EQ(page.at("page"), "error") << b.out;
  EXPECT_THAT(std::string(page.at("text").as_string()),
              HasSubstr("AADSTS50011: The redirect URI 'https://evil.example/cb' specified in "
                        "the request does not match"));
  EXPECT_THAT(std::string(page.at("url").as_string()), StartsWith(authority_));
}

TEST_F(identity_test, implicit_grant_not_enabled_is_700051) {
  write_config({{.flow = "implicit"}});
  const auto r = mailoauth({"login", "acct", "--flow", "implicit", "--timeout", "150"},
                           browser_env(), std::chrono::seconds(200));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("unsupported_response_type (AADSTS700051)"));
}

TEST_F(identity_test, public_client_sending_a_secret_is_700025) {
  write_config({{.extra = {"client_secret = \"not-for-public-clients\""}}});
  const auto r = mailoauth({"login", "acct", "--flow", "device"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("invalid_client (AADSTS700025)"));
  EXPECT_THAT(r.both(), Not(HasSubstr("not-for-public-clients")));
}

TEST_F(identity_test, confidential_client_without_a_secret_is_7000218) {
  // The device flow of a confidential app that sends no secret (the CLI itself refuses
  // client-credentials without one).
  write_config({{.client_id = daemon_app}});
  const auto r = mailoauth({"login", "acct", "--flow", "device"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("invalid_client (AADSTS7000218)"));
  const auto e = post(authority_ + "/" + tenant_id + "/oauth2/v2.0/token",
                      "grant_type=client_credentials&client_id=" + daemon_app +
                          "&scope=https%3A%2F%2Foutlook.office365.com%2F.default");
  EXPECT_EQ(e.at("error_codes").as_array().at(0), 7000218) << json::serialize(e);
}

TEST_F(identity_test, wrong_client_secret_is_7000215) {
  write_config({{.client_id = daemon_app,
                 .flow = "client-credentials",
                 .extra = {"client_secret = \"wrong-secret-value\""}}});
  const auto r = mailoauth({"login", "acct", "--flow", "client-credentials"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("invalid_client (AADSTS7000215)"));
  EXPECT_THAT(r.both(), Not(HasSubstr("wrong-secret-value")));
}

TEST_F(identity_test, scope_not_registered_is_70011) {
  write_config({{.extra = {"scopes = [\"https://outlook.office365.com/Calendars.Read\"]"}}});
  const auto r = mailoauth({"login", "acct", "--flow", "device"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("invalid_scope (AADSTS70011)"));
}

TEST_F(identity_test, refresh_for_permissions_never_consented_is_65001) {
  write_config({{.protocols = R"(["imap"])"}});
  device_login();
  // The account now wants SMTP too, which the user never consented to.
  write_config({{.protocols = R"(["imap", "smtp"])"}});
  const auto r = mailoauth({"token", "acct", "--force-refresh"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("AADSTS65001"));
}

TEST_F(identity_test, token_errors_have_microsofts_json_shape) {
  const auto e = post(authority_ + "/" + tenant_id + "/oauth2/v2.0/token",
                      "grant_type=password&client_id=" + mail_app);
  EXPECT_EQ(e.at("error"), "unsupported_grant_type");
  EXPECT_THAT(std::string(e.at("error_description").as_string()),
              MatchesRegex("AADSTS70003: .*\r\nTrace ID: .*\r\nCorrelation ID: .*\r\nTimestamp: "
                           ".*Z"));
  EXPECT_EQ(e.at("error_codes").as_array().at(0), 70003);
  for (const char* k : {"timestamp", "trace_id", "correlation_id"}) EXPECT_TRUE(e.contains(k)) << k;

  const auto consumers =
      post(authority_ + "/consumers/oauth2/v2.0/devicecode",
           "client_id=" + mail_app + "&scope=https%3A%2F%2Foutlook.office365.com%2FSMTP.Send");
  EXPECT_EQ(consumers.at("error_codes").as_array().at(0), 9002346) << json::serialize(consumers);
  const auto tenant = post(authority_ + "/nowhere.example/oauth2/v2.0/token",
                           "grant_type=client_credentials&client_id=" + daemon_app);
  EXPECT_EQ(tenant.at("error_codes").as_array().at(0), 90002) << json::serialize(tenant);
  const auto code = post(authority_ + "/common/oauth2/v2.0/token",
                         "grant_type=authorization_code&client_id=" + mail_app +
                             "&code=forged&redirect_uri=http%3A%2F%2Flocalhost&code_verifier=x");
  EXPECT_EQ(code.at("error_codes").as_array().at(0), 70000) << json::serialize(code);
  const auto device = post(authority_ + "/common/oauth2/v2.0/token",
                           "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&"
                           "client_id=" +
                               mail_app + "&device_code=forged");
  EXPECT_EQ(device.at("error"), "bad_verification_code") << json::serialize(device);
}

TEST_F(identity_test, device_polling_errors_pending_slow_down_and_expired) {
  auto o = default_options();
  o.device_code_lifetime = std::chrono::seconds(3);
  o.device_poll_interval = std::chrono::seconds(2);
  // The platform's clock stands still until the test moves it: "at once" and "after the
  // lifetime" are exact on a machine of any speed (issue 8: no race against a timer).
  using time_point = std::chrono::system_clock::time_point;
  const auto now = std::make_shared<std::atomic<time_point>>(std::chrono::system_clock::now());
  o.clock = [now] { return now->load(); };
  restart(std::move(o));
  const auto base = authority_ + "/common/oauth2/v2.0/";
  const auto d = post(base + "devicecode", "client_id=" + mail_app +
                                               "&scope=https%3A%2F%2Foutlook.office365.com%2F"
                                               "IMAP.AccessAsUser.All");
  ASSERT_TRUE(d.contains("device_code")) << json::serialize(d);
  EXPECT_EQ(d.at("interval"), 2);
  EXPECT_EQ(d.at("expires_in"), 3);
  const std::string poll =
      "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&"
      "client_id=" +
      mail_app + "&device_code=" + std::string(d.at("device_code").as_string());
  // At once: faster than the interval.
  EXPECT_EQ(post(base + "token", poll).at("error"), "slow_down");
  now->store(now->load() + std::chrono::milliseconds(3200));
  EXPECT_EQ(post(base + "token", poll).at("error"), "expired_token");
  EXPECT_EQ(post(base + "token", poll).at("error_codes").as_array().at(0), 70020);
}

}  // namespace
}  // namespace mailoauth::identity_test
