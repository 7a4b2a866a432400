#include "identity_fixture.hpp"

#include "sandbox/core/jwt.hpp"
#include "sandbox/core/pki.hpp"

#include <boost/json/parse.hpp>

#include <fstream>
#include <random>
#include <sstream>

namespace mailoauth::identity_test {

namespace fs = std::filesystem;

sandbox::directory test_directory() {
  sandbox::directory d;
  d.tenant = {tenant_id, tenant_domain, "Contoso (test)"};
  const std::vector<std::string> delegated{"IMAP.AccessAsUser.All",
                                           "POP.AccessAsUser.All",
                                           "SMTP.Send",
                                           "offline_access",
                                           "openid",
                                           "profile",
                                           "email"};
  sandbox::app_registration mail;
  mail.client_id = mail_app;
  mail.display_name = "mailoauth (test)";
  mail.object_id = "4b9f50b2-6388-4a5f-8ec2-af5260d37e05";
  mail.redirect_uris = {"http://localhost"};
  mail.delegated_permissions = delegated;
  d.applications.push_back(mail);

  auto implicit = mail;
  implicit.client_id = implicit_app;
  implicit.display_name = "implicit (test)";
  implicit.implicit_access_tokens = true;
  d.applications.push_back(implicit);

  sandbox::app_registration daemon;
  daemon.client_id = daemon_app;
  daemon.display_name = "daemon (test)";
  daemon.object_id = "5ca061c3-7499-4b60-9fd3-b07371e48f06";
  daemon.confidential = true;
  daemon.client_secret = secret(daemon_secret);
  daemon.application_permissions = sandbox::known_application_permissions();
  daemon.admin_consent = true;
  d.applications.push_back(daemon);

  auto unconsented = daemon;
  unconsented.client_id = unconsented_app;
  unconsented.client_secret = secret(unconsented_secret);
  unconsented.admin_consent = false;
  d.applications.push_back(unconsented);

  d.users.push_back({user, secret(password), "Test User", "6db172d4-85aa-4c71-a0e4-c18482f59007"});
  d.users.push_back({other_user, secret("Passw0rd-alex!"), "Alex Wilber",
                     "7ec283e5-96bb-4d82-b1f5-d29593060a08"});
  return d;
}

void identity_test::SetUp() {
  std::random_device rd;
  scratch_ = fs::temp_directory_path() / ("mailoauth-identity-" + std::to_string(rd()));
  fs::create_directories(scratch_ / "home");
  config_path_ = scratch_ / "config.toml";
  auto k = sandbox::load_or_create_pki(scratch_ / "sandbox-state");
  ASSERT_TRUE(k) << k.error().message;
  keys_ = std::move(*k);
  restart(default_options());
}

sandbox::identity_options identity_test::default_options() const {
  sandbox::identity_options o;
  o.dir = test_directory();
  o.keys = keys_;
  o.device_poll_interval = std::chrono::seconds(1);  // tests need not wait 5 s per poll
  return o;
}

void identity_test::restart(sandbox::identity_options o) {
  if (server_) {
    server_->stop();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    io_.restart();
  }
  server_ = std::make_unique<sandbox::identity_server>(std::move(o));
  auto port = server_->start(io_, 0);
  ASSERT_TRUE(port) << port.error().message;
  authority_ = "https://127.0.0.1:" + std::to_string(*port);
  thread_ = std::thread([this] { io_.run(); });
}

void identity_test::TearDown() {
  if (server_) server_->stop();
  io_.stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
  std::error_code ec;
  fs::remove_all(scratch_, ec);
}

void identity_test::write_config(const std::vector<account>& accounts) {
  std::string toml;
  for (const auto& a : accounts) {
    toml += "[accounts." + a.name + "]\nprovider = \"microsoft\"\ntenant = \"" + tenant_domain +
            "\"\nauthority = \"" + authority_ + "\"\nclient_id = \"" + a.client_id +
            "\"\nusername = \"" + user + "\"\nflow = \"" + a.flow +
            "\"\nprotocols = " + a.protocols + "\ncafile = \"" + keys_.ca_file.string() + "\"\n";
    for (const auto& line : a.extra) toml += line + "\n";
    toml += "\n";
  }
  std::ofstream(config_path_) << toml;
}

namespace {

test::child_options cli_env(const fs::path& scratch, std::vector<std::string> env) {
  test::child_options o;
  o.set_env = {"XDG_STATE_HOME=" + (scratch / "state").string(),
               "XDG_CONFIG_HOME=" + (scratch / "xdg-config").string(),
               "HOME=" + (scratch / "home").string()};
  o.set_env.insert(o.set_env.end(), env.begin(), env.end());
  o.unset_env = {"MAILOAUTH_CONFIG", "MAILOAUTH_TOKEN", "http_proxy", "https_proxy",
                 "HTTP_PROXY",       "HTTPS_PROXY",     "ALL_PROXY",  "all_proxy"};
  bool browser = false;
  for (const auto& kv : env) browser = browser || kv.starts_with("BROWSER=");
  if (!browser) o.unset_env.push_back("BROWSER");
  return o;
}

}  // namespace

run_result identity_test::mailoauth(const std::vector<std::string>& args,
                                    std::vector<std::string> env, std::chrono::milliseconds timeout,
                                    const std::string& input) {
  std::vector<std::string> argv{MAILOAUTH_BINARY, "--config", config_path_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run(argv, cli_env(scratch_, std::move(env)), timeout, input);
}

std::unique_ptr<child> identity_test::start_mailoauth(const std::vector<std::string>& args,
                                                      std::vector<std::string> env,
                                                      bool pipe_stdin) {
  std::vector<std::string> argv{MAILOAUTH_BINARY, "--config", config_path_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto o = cli_env(scratch_, std::move(env));
  o.pipe_stdin = pipe_stdin;
  return std::make_unique<child>(argv, o);
}

std::string user_code_in(const std::string& err) {
  const auto at = err.find("Code: ");
  if (at == std::string::npos) return {};
  const auto end = err.find('\n', at);
  if (end == std::string::npos) return {};
  return err.substr(at + 6, end - at - 6);
}

void identity_test::device_login(const std::string& account, const std::string& who) {
  auto login = start_mailoauth({"login", account, "--flow", "device"});
  ASSERT_TRUE(login->wait_for(
      [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
      std::chrono::seconds(60)))
      << login->err();
  auto ok = server_->approve_device_code(user_code_in(login->err()), who);
  ASSERT_TRUE(ok) << ok.error().message;
  const auto r = login->wait(std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
}

run_result identity_test::browser(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"node", std::string(MAILOAUTH_IDENTITY_TEST_DIR) + "/browser.mjs"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run(argv, {}, std::chrono::seconds(150));
}

std::vector<std::string> identity_test::browser_env() const {
  return {"BROWSER=" + std::string(MAILOAUTH_IDENTITY_TEST_DIR) + "/browser.mjs",
          "SANDBOX_TEST_LOGIN=" + user, "SANDBOX_TEST_PASSWORD=" + password,
          "SANDBOX_TEST_TIMEOUT=120", "SANDBOX_TEST_OUT=" + (scratch_ / "browser.json").string()};
}

json::object identity_test::post(const std::string& url, const std::string& form) {
  const auto r =
      test::run({"curl", "-sS", "--cacert", keys_.ca_file.string(), "--data-raw", form, url});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  boost::system::error_code ec;
  auto v = boost::json::parse(r.out, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not JSON: " << r.out;
    return {};
  }
  return v.as_object();
}

json::object identity_test::get(const std::string& url) {
  const auto r = test::run({"curl", "-sS", "--cacert", keys_.ca_file.string(), url});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  boost::system::error_code ec;
  auto v = boost::json::parse(r.out, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not JSON: " << r.out;
    return {};
  }
  return v.as_object();
}

json::object identity_test::stored(const std::string& account) const {
  std::ifstream in(scratch_ / "state" / "mailoauth" / "tokens" / (account + ".json"));
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(text.str(), ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

sandbox::access_claims identity_test::verified_token(const std::string& account) {
  const auto t = mailoauth({"token", account});
  EXPECT_EQ(t.exit_code, 0) << t.describe();
  const auto token = t.out.substr(0, t.out.find('\n'));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto claims = sandbox::verify_access_token(token, keys_.token_key.public_pem, now);
  EXPECT_TRUE(claims) << (claims ? std::string() : claims.error().message);
  return claims ? *claims : sandbox::access_claims{};
}

}  // namespace mailoauth::identity_test
