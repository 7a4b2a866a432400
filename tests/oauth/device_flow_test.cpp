// The device authorization grant (RFC 8628) end to end: `mailoauth login --flow device` polls
// the real authorization server while headless Chromium enters the code; the token then
// authenticates to the real Dovecot through `mailoauth check`. Plus slow_down, declined and
// expired codes.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>

#include <csignal>
#include <thread>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The device_code polls of this test's log, in order.
std::vector<json::object> polls(const std::vector<json::object>& log) {
  std::vector<json::object> out;
  for (const auto& e : log)
    if (e.at("event") == "token" && e.at("grant_type") == "device_code") out.push_back(e);
  return out;
}

std::int64_t at_ms(const json::object& e) {
  return e.at("t").to_number<std::int64_t>();
}

std::string forced(const json::object& e) {
  const auto* f = e.if_contains("forced");
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

class device_flow : public oauth_test {
 protected:
  // Starts `login --flow device` and waits for the code it shows.
  std::unique_ptr<child> start_login(std::string& code, const std::string& account = "acct") {
    auto login = start_mailoauth({"login", account, "--flow", "device"});
    EXPECT_TRUE(login->wait_for(
        [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
        std::chrono::seconds(60)))
        << "no user code shown; stderr:\n"
        << login->err();
    code = user_code_in(login->err());
    return login;
  }
};

TEST_F(device_flow, browser_enters_code_then_token_and_check_authenticate_to_dovecot) {
  write_config({{.mail_servers = true}});
  std::string code;
  auto login = start_login(code);
  ASSERT_FALSE(code.empty());
  // What the user is shown: the provider's message (URL and code) and a QR code of the URL.
  EXPECT_THAT(login->err(), HasSubstr("open the page " + server().issuer() + "/device"));
  EXPECT_THAT(login->err(), HasSubstr("Or scan this with a phone"));

  // The user, in a real browser: enters the code, signs in, consents.
  const auto browser = run_browser({"device", server().issuer() + "/device", "--code", code,
                                    "--login", user_name, "--timeout", "120"});
  ASSERT_EQ(browser.exit_code, 0) << browser.describe();

  const auto r = login->wait(std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Signed in as " + user_name + " (device), account acct"));
  EXPECT_THAT(r.err, HasSubstr("refresh token stored"));

  // Polled at the interval (never a slow_down for polling early) and never after the tokens came.
  const auto p = polls(log());
  ASSERT_FALSE(p.empty());
  for (const auto& e : p) EXPECT_NE(forced(e), "interval") << json::serialize(e);
  EXPECT_EQ(p.back().at("outcome"), "ok") << "a poll came after the tokens";
  EXPECT_EQ(count_token_requests("device_code", "ok"), 1);

  // `token` prints the stored access token: a JWT of this server for this user.
  const auto t = mailoauth({"token", "acct"});
  ASSERT_EQ(t.exit_code, 0) << t.describe();
  const auto token = t.out.substr(0, t.out.find('\n'));
  EXPECT_EQ(t.out, token + "\n");
  EXPECT_EQ(token, std::string(stored().at("access_token").as_string()));
  EXPECT_TRUE(jwt_signature_valid(token));
  const auto claims = jwt_payload(token);
  EXPECT_EQ(claims.at("iss"), server().issuer().c_str());
  EXPECT_EQ(claims.at("email"), user_name.c_str());
  EXPECT_EQ(claims.at("aud"), "https://outlook.office365.com");
  EXPECT_EQ(claims.at("scp"), "IMAP.AccessAsUser.All POP.AccessAsUser.All SMTP.Send");

  // And Dovecot, validating the server's signature, lets the user in on all three protocols.
  const auto c = mailoauth({"check", "acct", "--imap", "--pop", "--smtp"});
  EXPECT_EQ(c.exit_code, 0) << c.describe() << dovecot().log_tail();
  EXPECT_EQ(c.out.find("verdict: FAILED"), std::string::npos) << c.out;
  std::size_t ok = 0;
  for (auto at = c.out.find("verdict: OK"); at != std::string::npos;
       at = c.out.find("verdict: OK", at + 1))
    ++ok;
  EXPECT_EQ(ok, 3U) << c.out;
  // The token was good: no refresh was needed.
  EXPECT_EQ(count_token_requests("refresh_token"), 0);
}

TEST_F(device_flow, slow_down_adds_five_seconds_to_the_interval_for_all_later_polls) {
  write_config({{}});
  // interval 1 s; the first poll of the code is answered slow_down (the interval becomes 6 s);
  // the server answers slow_down again to any later poll that comes sooner than that.
  configure({{"device_interval", 1}, {"device_slow_down", 1}});
  std::string code;
  auto login = start_login(code);
  ASSERT_FALSE(code.empty());

  // Three polls: the slow_down, then two at the new interval.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (polls(log()).size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Enough seen: no need to wait another 6 s for the next poll.
  login->signal_group(SIGTERM);
  const auto r = login->wait(std::chrono::seconds(60));

  const auto p = polls(log());
  ASSERT_GE(p.size(), 3U) << r.describe();
  EXPECT_EQ(forced(p[0]), "slow_down");
  EXPECT_EQ(p[0].at("error"), "slow_down");
  for (std::size_t k = 1; k < 3; ++k) {
    EXPECT_EQ(forced(p[k]), "") << "poll " << k << ": " << json::serialize(p[k]);
    EXPECT_EQ(p[k].at("error"), "authorization_pending") << json::serialize(p[k]);
    const auto gap = at_ms(p[k]) - at_ms(p[k - 1]);
    // 1 s + 5 s; the upper bound only guards against a client that waits far too long.
    EXPECT_GE(gap, 5900) << "poll " << k << " came " << gap << " ms after the one before";
    EXPECT_LE(gap, 9500) << "poll " << k << " came " << gap << " ms after the one before";
  }
}

// Declined at the authorization server: RFC 8628's access_denied, and Microsoft's
// authorization_declined.
class device_flow_declined : public device_flow,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(device_flow_declined, stops_with_exit_3_and_says_so) {
  const bool microsoft = GetParam() == std::string("microsoft");
  std::string account = "acct";
  if (microsoft) {
    // A Microsoft account, and the server answering as Microsoft does: authorization_declined,
    // AADSTS fields on every error (authorization_pending included), no
    // verification_uri_complete.
    account = "ms";
    write_config_text(microsoft_account_toml());
    configure({{"device_errors", "microsoft"},
               {"ms_error_fields", true},
               {"verification_uri_complete", false}});
  } else {
    write_config({{}});
  }
  std::string code;
  auto login = start_login(code, account);
  ASSERT_FALSE(code.empty());
  if (microsoft) {
    EXPECT_THAT(login->err(),
                HasSubstr("Or scan this with a phone (" + server().issuer() + "/device):"));
  }
  // Wait for one authorization_pending before declining, so that polling on through it is
  // covered too.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (polls(log()).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server().post("/test/device", {{"action", "deny"}, {"user_code", code}});
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  const std::string error = microsoft ? "authorization_declined" : "access_denied";
  EXPECT_THAT(r.err, HasSubstr("mailoauth: error: the device sign-in failed: " + error +
                               ": the sign-in was declined; run `mailoauth login " + account +
                               "` to try again"));
  EXPECT_FALSE(std::filesystem::exists(token_file(account)));
  // It polled on through authorization_pending and stopped at the refusal.
  const auto p = polls(log());
  ASSERT_GE(p.size(), 2U);
  EXPECT_EQ(p.front().at("error"), "authorization_pending");
  EXPECT_EQ(forced(p.back()), "declined");
}

INSTANTIATE_TEST_SUITE_P(errors, device_flow_declined, ::testing::Values("rfc", "microsoft"));

TEST_F(device_flow, code_expired_at_the_server_stops_with_exit_3) {
  write_config({{}});
  std::string code;
  auto login = start_login(code);
  ASSERT_FALSE(code.empty());
  server().post("/test/device", {{"action", "expire"}, {"user_code", code}});
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("mailoauth: error: the device sign-in failed: expired_token: the "
                               "code expired before the sign-in finished; run `mailoauth login "
                               "acct` and finish within the time shown"));
  EXPECT_FALSE(std::filesystem::exists(token_file()));
  EXPECT_EQ(forced(polls(log()).back()), "expired");
}

TEST_F(device_flow, code_lifetime_running_out_stops_polling_with_exit_3) {
  write_config({{}});
  // expires_in = 3: the client's own countdown ends the wait.
  configure({{"device_ttl", 3}});
  std::string code;
  auto login = start_login(code);
  ASSERT_FALSE(code.empty());
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("the code expired before the sign-in finished; run `mailoauth "
                               "login acct`"));
  EXPECT_THAT(r.err, Not(HasSubstr("Signed in")));
  EXPECT_FALSE(std::filesystem::exists(token_file()));
  EXPECT_LE(polls(log()).size(), 4U);
}

}  // namespace
}  // namespace mailoauth::oauth_test
