// The authorization-code flows with a real browser: `browser` (loopback listener, $BROWSER =
// tests/support/oidc/browser.mjs driving headless Chromium), `paste` (the redirect captured by
// the browser and typed into mailoauth's stdin), `implicit` (the id_token token variant: the
// fragment posted back by the listener's page), and redirects that are not ours.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>
#include <boost/json/parse.hpp>

#include <thread>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace fs = std::filesystem;

// The authorization request of this test's log (exactly one expected).
json::object authorization_request(const std::vector<json::object>& log) {
  std::vector<json::object> found;
  for (const auto& e : log)
    if (e.at("event") == "authorization") found.push_back(e);
  EXPECT_EQ(found.size(), 1U);
  return found.empty() ? json::object{} : found.front();
}

int token_requests(const std::vector<json::object>& log) {
  int n = 0;
  for (const auto& e : log) n += e.at("event") == "token" ? 1 : 0;
  return n;
}

// The authorization URL the paste flow printed.
std::string printed_url(const std::string& err) {
  const std::string intro = "sign in:\n\n  ";
  const auto at = err.find(intro);
  if (at == std::string::npos) return {};
  const auto start = at + intro.size();
  return err.substr(start, err.find('\n', start) - start);
}

std::string query_value(const std::string& url, const std::string& name) {
  const auto at = url.find("&" + name + "=") != std::string::npos ? url.find("&" + name + "=")
                                                                  : url.find("?" + name + "=");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 2;
  return url.substr(start, url.find('&', start) - start);
}

class browser_flows : public oauth_test {
 protected:
  // $BROWSER for `mailoauth login`: browser.mjs as the user alice, its result in a file.
  std::vector<std::string> browser_env() const {
    return {"BROWSER=" + oidc_support("browser.mjs"), "OIDC_TEST_LOGIN=" + user_name,
            "OIDC_TEST_TIMEOUT=120", "OIDC_TEST_BROWSER_OUT=" + browser_out().string()};
  }
  fs::path browser_out() const { return scratch_ / "browser.json"; }

  // What browser.mjs reported once it has closed Chromium (mailoauth does not wait for it).
  json::object browser_result() const {
    const auto text = wait_for_file(browser_out());
    if (text.empty()) return {};
    return boost::json::parse(text).as_object();
  }

  void expect_usable_token() {
    const auto t = mailoauth({"token", "acct"});
    ASSERT_EQ(t.exit_code, 0) << t.describe();
    const auto token = t.out.substr(0, t.out.find('\n'));
    EXPECT_TRUE(jwt_signature_valid(token)) << token;
    EXPECT_EQ(jwt_payload(token).at("email"), user_name.c_str());
  }
};

TEST_F(browser_flows, browser_flow_signs_in_through_the_loopback_listener) {
  write_config({{}});
  const auto r = mailoauth({"login", "acct", "--flow", "browser", "--timeout", "150"},
                           browser_env(), std::chrono::seconds(200));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Opening the browser to sign in. If it does not open, visit:"));
  EXPECT_THAT(r.err, HasSubstr("Signed in as " + user_name + " (browser), account acct"));
  EXPECT_THAT(r.err, HasSubstr("refresh token stored"));

  // The browser went through login and consent and landed on the listener's page.
  const auto b = browser_result();
  ASSERT_FALSE(b.empty()) << "browser.mjs wrote no result";
  EXPECT_EQ(b.at("ok"), true) << json::serialize(b);
  EXPECT_THAT(std::string(b.at("text").as_string()),
              HasSubstr("Signed in. You can close this tab and return to the terminal."));
  const std::string landed(b.at("url").as_string());
  EXPECT_THAT(landed, StartsWith("http://127.0.0.1:"));
  EXPECT_THAT(landed, HasSubstr("iss="));  // RFC 9207's parameter, accepted

  // Authorization code + PKCE (S256) with state and a loopback redirect on the listener's port.
  const auto log_entries = log();
  const auto a = authorization_request(log_entries);
  EXPECT_EQ(a.at("response_type"), "code");
  EXPECT_EQ(a.at("code_challenge_method"), "S256");
  EXPECT_EQ(a.at("has_code_challenge"), true);
  EXPECT_EQ(a.at("has_state"), true);
  EXPECT_THAT(std::string(a.at("redirect_uri").as_string()), StartsWith("http://127.0.0.1:"));
  EXPECT_EQ(count_token_requests("authorization_code", "ok"), 1);
  EXPECT_EQ(token_requests(log_entries), 1);

  const auto s = stored();
  EXPECT_FALSE(s.at("refresh_token").as_string().empty());
  expect_usable_token();
}

TEST_F(browser_flows, paste_flow_reads_the_redirect_from_stdin) {
  write_config({{}});
  auto login = start_mailoauth({"login", "acct", "--flow", "paste"}, {}, /*pipe_stdin=*/true);
  ASSERT_TRUE(login->wait_for_stderr("Redirected URL: ", std::chrono::seconds(60))) << login->err();
  const auto url = printed_url(login->err());
  ASSERT_THAT(url, StartsWith(server().issuer() + "/auth?")) << login->err();

  // The user opens the URL elsewhere and copies the address the browser ends on.
  const auto b = run_browser(
      {"authorize", url, "--login", user_name, "--capture-redirect", "--timeout", "120"});
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  const auto captured = boost::json::parse(b.out).as_object();
  const std::string redirect(captured.at("url").as_string());
  ASSERT_THAT(redirect, StartsWith("http://127.0.0.1/?code="));

  login->write_stdin(redirect + "\n");
  const auto r = login->wait(std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Signed in as " + user_name + " (paste), account acct"));
  const auto a = authorization_request(log());
  EXPECT_EQ(a.at("code_challenge_method"), "S256");
  EXPECT_EQ(a.at("redirect_uri"), "http://127.0.0.1/");
  EXPECT_EQ(count_token_requests("authorization_code", "ok"), 1);
  expect_usable_token();
}

TEST_F(browser_flows, implicit_flow_gets_the_token_from_the_fragment) {
  write_config({{}});
  const auto r = mailoauth({"login", "acct", "--flow", "implicit", "--timeout", "150"},
                           browser_env(), std::chrono::seconds(200));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("mailoauth: warning: the implicit grant is deprecated"));
  EXPECT_THAT(r.err, HasSubstr("Signed in as " + user_name + " (implicit), account acct"));
  EXPECT_THAT(r.err, HasSubstr("no refresh token"));

  const auto b = browser_result();
  ASSERT_FALSE(b.empty()) << "browser.mjs wrote no result";
  EXPECT_EQ(b.at("ok"), true) << json::serialize(b);

  // oidc-provider offers only "id_token token" (with openid and a nonce), no token endpoint.
  const auto log_entries = log();
  const auto a = authorization_request(log_entries);
  EXPECT_EQ(a.at("response_type"), "id_token token");
  EXPECT_EQ(a.at("has_nonce"), true);
  EXPECT_THAT(std::string(a.at("scope").as_string()), HasSubstr("openid"));
  EXPECT_EQ(token_requests(log_entries), 0);

  const auto s = stored();
  EXPECT_TRUE(s.at("refresh_token").as_string().empty());
  EXPECT_GT(s.at("expires_at").to_number<std::int64_t>(), unix_now() + 600);
  expect_usable_token();
}

TEST_F(browser_flows, paste_flow_refuses_a_redirect_with_the_wrong_state) {
  write_config({{}});
  auto login = start_mailoauth({"login", "acct", "--flow", "paste"}, {}, /*pipe_stdin=*/true);
  ASSERT_TRUE(login->wait_for_stderr("Redirected URL: ", std::chrono::seconds(60))) << login->err();
  login->write_stdin(
      "http://127.0.0.1/?code=forged-code&state=forged-state&iss=" + server().issuer() + "\n");
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("sign-in failed: the redirect carried the wrong state"));
  EXPECT_EQ(token_requests(log()), 0) << "the forged code was redeemed";
  EXPECT_FALSE(fs::exists(token_file()));
}

TEST_F(browser_flows, paste_flow_refuses_a_redirect_from_another_issuer) {
  write_config({{}});
  auto login = start_mailoauth({"login", "acct", "--flow", "paste"}, {}, /*pipe_stdin=*/true);
  ASSERT_TRUE(login->wait_for_stderr("Redirected URL: ", std::chrono::seconds(60))) << login->err();
  const auto state = query_value(printed_url(login->err()), "state");
  ASSERT_FALSE(state.empty()) << login->err();
  login->write_stdin("http://127.0.0.1/?code=forged-code&state=" + state +
                     "&iss=https%3A%2F%2Fevil.example\n");
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("the redirect came from issuer https://evil.example, not " +
                               server().issuer()));
  EXPECT_EQ(token_requests(log()), 0);
  EXPECT_FALSE(fs::exists(token_file()));
}

TEST_F(browser_flows, paste_flow_explains_an_empty_or_wrong_paste) {
  write_config({{}});
  // End of input at the prompt.
  const auto eof = mailoauth({"login", "acct", "--flow", "paste"});
  EXPECT_EQ(eof.exit_code, 2) << eof.describe();
  EXPECT_THAT(eof.err, HasSubstr("no redirected URL was pasted"));
  EXPECT_THAT(eof.err, Not(HasSubstr("wrong state")));

  // The authorization URL itself instead of the address the browser ended on.
  auto login = start_mailoauth({"login", "acct", "--flow", "paste"}, {}, /*pipe_stdin=*/true);
  ASSERT_TRUE(login->wait_for_stderr("Redirected URL: ", std::chrono::seconds(60))) << login->err();
  login->write_stdin(printed_url(login->err()) + "\n");
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("that address carries no sign-in response (no code or error)"));
  EXPECT_EQ(token_requests(log()), 0);
  EXPECT_FALSE(fs::exists(token_file()));
}

TEST_F(browser_flows, loopback_listener_refuses_a_redirect_with_the_wrong_state) {
  write_config({{}});
  // A "browser" that skips the sign-in and calls the listener with a forged code and state.
  const auto script = scratch_ / "forger.sh";
  write_file(script,
             "#!/bin/sh\n"
             "redirect=$(node -e 'console.log(new URL(process.argv[1]).searchParams.get("
             "\"redirect_uri\"))' \"$1\")\n"
             "curl -s --noproxy '*' \"${redirect}?code=forged-code&state=forged-state\" > \"" +
                 (scratch_ / "forger.out").string() + "\"\n",
             0700);
  const auto r = mailoauth({"login", "acct", "--flow", "browser", "--timeout", "60"},
                           {"BROWSER=" + script.string()});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("the redirect carried the wrong state"));
  EXPECT_EQ(token_requests(log()), 0);
  EXPECT_FALSE(fs::exists(token_file()));
}

// The same without Chromium (tests/oauth/http_user.mjs), for the outcomes around the flow.
class loopback_flow : public browser_flows {
 protected:
  std::vector<std::string> http_user(std::vector<std::string> more = {}) const {
    std::vector<std::string> env{"BROWSER=node " + oauth_support("http_user.mjs"),
                                 "HTTP_USER_LOGIN=" + user_name,
                                 "HTTP_USER_OUT=" + (scratch_ / "http_user.json").string()};
    env.insert(env.end(), more.begin(), more.end());
    return env;
  }
};

TEST_F(loopback_flow, consent_declined_in_the_browser_is_reported) {
  write_config({{}});
  const auto r = mailoauth({"login", "acct", "--flow", "browser", "--timeout", "60"},
                           http_user({"HTTP_USER_DENY=1"}));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("mailoauth: error: sign-in failed: access_denied: the sign-in was "
                               "declined; run `mailoauth login acct` to try again"));
  EXPECT_EQ(token_requests(log()), 0);
  EXPECT_FALSE(fs::exists(token_file()));
  // The browser was told too.
  EXPECT_THAT(wait_for_file(scratch_ / "http_user.json"),
              HasSubstr("Sign-in failed: access_denied"));
}

TEST_F(loopback_flow, a_forged_error_with_the_wrong_state_is_refused) {
  write_config({{}});
  // Another local process answers the listener first, with an error of its choosing.
  const auto script = scratch_ / "forger.sh";
  write_file(script,
             "#!/bin/sh\n"
             "redirect=$(node -e 'console.log(new URL(process.argv[1]).searchParams.get("
             "\"redirect_uri\"))' \"$1\")\n"
             "curl -s --noproxy '*' \"${redirect}?error=access_denied&error_description=Call+"
             "0900-SCAM&state=forged\" > /dev/null\n",
             0700);
  const auto r = mailoauth({"login", "acct", "--flow", "browser", "--timeout", "60"},
                           {"BROWSER=" + script.string()});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("the redirect carried the wrong state"));
  EXPECT_THAT(r.both(), Not(HasSubstr("0900-SCAM")));
}

TEST_F(loopback_flow, no_redirect_within_the_timeout_ends_the_wait) {
  write_config({{}});
  const auto r = mailoauth({"login", "acct", "--flow", "browser", "--timeout", "2"},
                           {"BROWSER=true"}, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 5) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("no sign-in response reached the loopback listener within 2 s"));
  EXPECT_LT(r.elapsed, std::chrono::seconds(30));
  EXPECT_FALSE(fs::exists(token_file()));
}

TEST_F(loopback_flow, configured_redirect_port_is_used) {
  // A port that is free now.
  const auto probe = run({"python3", "-c",
                          "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); "
                          "print(s.getsockname()[1])"});
  ASSERT_EQ(probe.exit_code, 0) << probe.describe();
  const auto port = probe.out.substr(0, probe.out.find('\n'));
  write_config({{.extra = {"redirect_port = " + port}}});
  const auto r = mailoauth({"login", "acct", "--flow", "browser", "--timeout", "60"}, http_user());
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(authorization_request(log()).at("redirect_uri"),
            ("http://127.0.0.1:" + port + "/").c_str());
}

TEST_F(loopback_flow, microsoft_account_uses_localhost_and_a_login_hint) {
  write_config_text(microsoft_account_toml() + "protocols = [\"imap\", \"smtp\"]\n");
  const auto r = mailoauth({"login", "ms", "--flow", "browser", "--timeout", "60"}, http_user());
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const auto a = authorization_request(log());
  EXPECT_THAT(std::string(a.at("redirect_uri").as_string()), StartsWith("http://localhost:"));
  EXPECT_EQ(a.at("login_hint"), user_name.c_str());
  // The seed's scopes for the account's protocols, with the full resource URLs.
  EXPECT_EQ(a.at("scope"),
            "https://outlook.office365.com/IMAP.AccessAsUser.All "
            "https://outlook.office365.com/SMTP.Send offline_access");
  EXPECT_FALSE(stored("ms").at("refresh_token").as_string().empty());
  EXPECT_EQ(jwt_payload(std::string(stored("ms").at("access_token").as_string())).at("scp"),
            "IMAP.AccessAsUser.All SMTP.Send");
}

}  // namespace
}  // namespace mailoauth::oauth_test
