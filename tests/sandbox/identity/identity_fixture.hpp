// What the identity platform's tests share: a platform started in-process on its own
// io_context thread, with a test directory (apps and users), and the real mailoauth CLI with
// its own config.toml and token store pointed at it.
#pragma once

#include "process_run.hpp"
#include "sandbox/identity/identity_server.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mailoauth::identity_test {

using test::child;
using test::run_result;
namespace json = boost::json;

// The test directory's fixed identities.
inline const std::string tenant_id = "6f1c1a52-3c6d-4b8e-9a51-0d3b0c7a2e11";
inline const std::string tenant_domain = "contoso.onmicrosoft.com";
inline const std::string mail_app = "0d5b1c7e-2f44-4c1b-9a8e-6b1e2b9f3a01";      // public
inline const std::string implicit_app = "1e6c2d8f-3055-4d2c-8b9f-7c2f3ca04b02";  // public, implicit
inline const std::string daemon_app = "2f7d3e90-4166-4e3d-9ca0-8d304db15c03";    // confidential
inline const std::string daemon_secret = "daemon~secret.value-1234567890";
inline const std::string unconsented_app = "3a8e4fa1-5277-4f4e-8db1-9e415ec26d04";
inline const std::string unconsented_secret = "unconsented~secret-0987654321";
inline const std::string user = "test@contoso.onmicrosoft.com";
inline const std::string password = "Passw0rd-test!";
inline const std::string other_user = "alex@contoso.onmicrosoft.com";

sandbox::directory test_directory();

/// One account of config.toml.
struct account {
  std::string name = "acct";
  std::string client_id = mail_app;
  std::string flow = "device";
  std::vector<std::string> extra{};  // raw TOML lines
  std::string protocols = R"(["imap", "pop3", "smtp"])";
};

class identity_test : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// Restarts the platform with these options (the test's directory and keys are kept).
  void restart(sandbox::identity_options o);
  sandbox::identity_options default_options() const;

  void write_config(const std::vector<account>& accounts);
  run_result mailoauth(const std::vector<std::string>& args, std::vector<std::string> env = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(120),
                       const std::string& input = {});
  std::unique_ptr<child> start_mailoauth(const std::vector<std::string>& args,
                                         std::vector<std::string> env = {},
                                         bool pipe_stdin = false);
  /// `login --flow device`, the code approved through the API as `who`; fails the test
  /// otherwise.
  void device_login(const std::string& account = "acct", const std::string& who = user);
  /// browser.mjs with these arguments.
  run_result browser(const std::vector<std::string>& args);
  /// $BROWSER for `mailoauth login`: browser.mjs signing in as the test user.
  std::vector<std::string> browser_env() const;
  /// POSTs a form to the platform with curl; the JSON answer.
  json::object post(const std::string& url, const std::string& form);
  json::object get(const std::string& url);

  /// The stored token set of an account.
  json::object stored(const std::string& account = "acct") const;
  /// `mailoauth token ACCOUNT`'s access token, verified with the platform's key.
  sandbox::access_claims verified_token(const std::string& account = "acct");

  std::filesystem::path scratch_;
  std::filesystem::path config_path_;
  sandbox::pki keys_;
  boost::asio::io_context io_;
  std::unique_ptr<sandbox::identity_server> server_;
  std::thread thread_;
  std::string authority_;
};

std::string user_code_in(const std::string& err);

}  // namespace mailoauth::identity_test
