// No secret in the output, at the most verbose level (-vv): login (browser, device,
// client credentials), token (with a refresh) and check print no access token, refresh token,
// id token, authorization code, code_verifier, device code or client secret, except the access
// token that `token` prints on stdout because that is its job. The secrets are learnt from a
// recording proxy in front of the token endpoint (capture_proxy.mjs).
#include "oauth_environment.hpp"

#include <gmock/gmock.h>
#include <boost/json/parse.hpp>

#include <fstream>
#include <set>

namespace mailoauth::oauth_test {
namespace {

using ::testing::IsEmpty;

namespace fs = std::filesystem;

class no_leak : public oauth_test {
 protected:
  void SetUp() override {
    oauth_test::SetUp();
    capture_ = scratch_ / "capture.jsonl";
    proxy_ = std::make_unique<child>(std::vector<std::string>{
        "node", oauth_support("capture_proxy.mjs"), server().issuer(), capture_.string()});
    ASSERT_TRUE(
        proxy_->wait_for([](const std::string& out,
                            const std::string&) { return out.find('\n') != std::string::npos; },
                         std::chrono::seconds(60)))
        << proxy_->err();
    const auto port = boost::json::parse(proxy_->out()).as_object().at("port").as_int64();
    proxy_origin_ = "http://127.0.0.1:" + std::to_string(port);
  }

  void TearDown() override {
    proxy_.reset();
    oauth_test::TearDown();
  }

  // Everything secret that went through the proxy, plus what the token store holds.
  std::vector<std::string> secrets() const {
    std::set<std::string> out;
    std::ifstream in(capture_);
    std::string line;
    while (std::getline(in, line)) {
      const auto e = boost::json::parse(line).as_object();
      for (const char* k :
           {"code", "code_verifier", "refresh_token", "client_secret", "device_code"})
        if (const auto* v = e.at("request").as_object().if_contains(k); v && v->is_string())
          out.insert(std::string(v->as_string()));
      if (const auto& resp = e.at("response"); resp.is_object())
        for (const char* k : {"access_token", "refresh_token", "id_token", "device_code"})
          if (const auto* v = resp.as_object().if_contains(k); v && v->is_string())
            out.insert(std::string(v->as_string()));
    }
    out.insert("mailoauth-test-secret");
    out.erase("");
    return {out.begin(), out.end()};
  }

  fs::path capture_;
  std::unique_ptr<child> proxy_;
  std::string proxy_origin_;
};

TEST_F(no_leak, most_verbose_output_holds_no_secret) {
  account_spec user{.mail_servers = true};
  user.extra = {"token_endpoint = \"" + proxy_origin_ + "/token\"",
                "device_authorization_endpoint = \"" + proxy_origin_ + "/device/auth\""};
  account_spec app{.name = "app",
                   .client_id = "mailoauth-confidential",
                   .flow = "client-credentials",
                   .extra = {"client_secret = \"mailoauth-test-secret\"",
                             "token_endpoint = \"" + proxy_origin_ + "/token\""}};
  write_config({user, app});

  struct step {
    std::string what;
    run_result result;
    std::string allowed_on_stdout;  // `token` prints the access token: that is its job
  };
  std::vector<step> steps;
  const auto access_token = [&](const std::string& account) {
    return std::string(stored(account).at("access_token").as_string());
  };
  const auto http_user_out = scratch_ / "http_user.json";
  steps.push_back(
      {"login (browser)",
       mailoauth({"-vv", "login", "acct", "--flow", "browser"},
                 {"BROWSER=node " + oauth_support("http_user.mjs"),
                  "HTTP_USER_OUT=" + http_user_out.string(), "HTTP_USER_LOGIN=" + user_name}),
       {}});
  ASSERT_EQ(steps.back().result.exit_code, 0) << steps.back().result.describe();
  steps.push_back({"token --force-refresh", mailoauth({"-vv", "token", "acct", "--force-refresh"}),
                   access_token("acct")});
  ASSERT_EQ(steps.back().result.exit_code, 0) << steps.back().result.describe();
  ASSERT_EQ(count_token_requests("refresh_token", "ok"), 1);
  steps.push_back({"token --format json", mailoauth({"-vv", "token", "acct", "--format", "json"}),
                   access_token("acct")});
  steps.push_back({"check", mailoauth({"-vv", "check", "acct", "--imap", "--pop", "--smtp"}), {}});
  EXPECT_EQ(steps.back().result.exit_code, 0) << steps.back().result.describe();
  steps.push_back({"accounts", mailoauth({"-vv", "accounts", "--json"}), {}});
  steps.push_back({"login (client credentials)", mailoauth({"-vv", "login", "app"}), {}});
  EXPECT_EQ(steps.back().result.exit_code, 0) << steps.back().result.describe();
  steps.push_back(
      {"token (app-only, forced)", mailoauth({"-vv", "token", "app", "--force-refresh"}), {}});
  EXPECT_EQ(steps.back().result.exit_code, 0) << steps.back().result.describe();
  steps.back().allowed_on_stdout = access_token("app");

  // A device sign-in that is declined: the device code went through the proxy.
  auto device = start_mailoauth({"-vv", "login", "acct", "--flow", "device"});
  ASSERT_TRUE(device->wait_for(
      [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
      std::chrono::seconds(60)))
      << device->err();
  server().post("/test/device", {{"action", "deny"}});
  steps.push_back({"login (device, declined)", device->wait(std::chrono::seconds(60)), {}});
  EXPECT_EQ(steps.back().result.exit_code, 3) << steps.back().result.describe();

  const auto all = secrets();
  // The proxy saw the code exchange, the refresh and the client credentials.
  ASSERT_GE(all.size(), 8U);
  for (const auto& s : steps) {
    SCOPED_TRACE(s.what);
    EXPECT_THAT(leaked(s.result.err, all), IsEmpty()) << s.result.describe();
    std::string out = s.result.out;
    if (!s.allowed_on_stdout.empty()) {
      EXPECT_NE(out.find(s.allowed_on_stdout), std::string::npos) << out;
      for (auto at = out.find(s.allowed_on_stdout); at != std::string::npos;
           at = out.find(s.allowed_on_stdout))
        out.erase(at, s.allowed_on_stdout.size());
    }
    EXPECT_THAT(leaked(out, all), IsEmpty()) << s.result.describe();
  }
  // -vv did say something where there was something to say (the network steps): the test would
  // prove nothing against a silent program.
  for (const auto& s : steps) {
    if (s.what == "accounts" || s.what == "token --format json") continue;  // cached: no I/O
    EXPECT_NE(s.result.err.find("mailoauth: debug: "), std::string::npos) << s.what << ":\n"
                                                                          << s.result.err;
  }
  if (std::getenv("MAILOAUTH_SHOW_OUTPUT") != nullptr)
    for (const auto& s : steps)
      std::cerr << "==== " << s.what << "\n" << s.result.describe() << "\n";
}

}  // namespace
}  // namespace mailoauth::oauth_test
