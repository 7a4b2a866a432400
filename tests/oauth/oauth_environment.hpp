// What the OAuth tests share: one test authorization server (tests/support/oidc/server.mjs) per
// test process, a private Dovecot started on first use, and a fixture that runs the real
// mailoauth CLI with its own config file and token store.
#pragma once

#include "dovecot_services.hpp"
#include "process_run.hpp"

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mailoauth::oauth_test {

namespace json = boost::json;
using test::child;
using test::child_options;
using test::run;
using test::run_result;

/// The login name typed on the authorization server's login page; tokens carry it as
/// sub/email/upn, and Dovecot compares the SASL user (lower-cased) with email.
inline const std::string user_name = "alice@example.test";

/// A file of tests/support/oidc (server.mjs, browser.mjs) or tests/oauth (http_user.mjs).
inline std::string oidc_support(const std::string& file) {
  return std::string(MAILOAUTH_SOURCE_DIR) + "/tests/support/oidc/" + file;
}
inline std::string oauth_support(const std::string& file) {
  return std::string(MAILOAUTH_SOURCE_DIR) + "/tests/oauth/" + file;
}

/// Runs browser.mjs (headless Chromium) with these arguments to completion.
run_result run_browser(const std::vector<std::string>& args);

/// The user code a `login --flow device` printed ("Code: ABCD-EFGH"), or empty.
std::string user_code_in(const std::string& err);

/// The test authorization server of this process (started by the environment).
class oidc_server {
 public:
  /// Starts `node server.mjs --port 0 --log DIR/token.log ...` and waits for its ready line.
  /// Throws with the server's output when it does not come up.
  void start(const std::filesystem::path& dir);
  void stop() noexcept;

  [[nodiscard]] const std::string& issuer() const { return issuer_; }
  [[nodiscard]] const std::filesystem::path& log_file() const { return log_file_; }

  /// GET / POST (JSON body) / DELETE on the server, e.g. "/test/config"; the answer as JSON.
  /// Throws unless the answer is 2xx JSON.
  json::value get(const std::string& path) const;
  json::value post(const std::string& path, const json::object& body) const;
  json::value del(const std::string& path) const;

  /// The request log (one JSON object a line), entries after `seq`.
  [[nodiscard]] std::vector<json::object> log_after(std::int64_t seq) const;
  /// The last seq in the log file (0 when empty).
  [[nodiscard]] std::int64_t last_seq() const;

  /// The settings /test/config answered at start, to restore before each test.
  [[nodiscard]] const json::object& initial_config() const { return initial_config_; }
  /// The signing key's public half (PEM) and its Dovecot key path "default/RS256/<kid>".
  [[nodiscard]] const std::string& public_pem() const { return public_pem_; }
  [[nodiscard]] const std::string& dovecot_key_path() const { return dovecot_key_path_; }

 private:
  json::value request(const std::string& method, const std::string& path,
                      const std::string& body) const;

  std::unique_ptr<child> process_;
  std::string issuer_;
  std::uint16_t port_ = 0;
  std::filesystem::path log_file_;
  json::object initial_config_;
  std::string public_pem_;
  std::string dovecot_key_path_;
};

/// Starts the authorization server before the first test, stops it (and Dovecot, if a test
/// started it) after the last. If the server cannot start, every test fails (never skips).
class environment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
};

/// The running server; throws (failing the test) if it could not be started.
oidc_server& server();

/// A private Dovecot (XOAUTH2 + OAUTHBEARER; dovecot-ctl.sh) started on first use, trusting
/// the authorization server's signing key: the public key is installed as
/// RUNTIME/keydict/default/RS256/<kid>, where its oauth2 passdb (introspection_mode = local,
/// username_attribute = email, no issuers) looks it up. Throws if it cannot be started.
const test::dovecot_instance& dovecot();

/// The payload of a JWT, decoded (throws if it is not a JWT).
json::object jwt_payload(const std::string& token);
/// True when the JWT's RS256 signature verifies with the authorization server's key.
bool jwt_signature_valid(const std::string& token);
/// Seconds since the epoch.
std::int64_t unix_now();

std::string read_file(const std::filesystem::path& p);
/// Waits for a file that another process writes (browser.mjs, http_user.mjs report after
/// mailoauth, which does not wait for its browser, has exited); its content, or empty.
std::string wait_for_file(const std::filesystem::path& p,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));
void write_file(const std::filesystem::path& p, const std::string& text, unsigned mode = 0600);

/// One account of config.toml, as the tests need them.
struct account_spec {
  std::string name = "acct";
  std::string client_id = "mailoauth-native";
  std::string flow{};  // empty: the config default (browser)
  /// Raw TOML lines added to the account table (client_secret = "...", refresh_margin = 5).
  std::vector<std::string> extra{};
  /// Point the account's IMAP/POP3/SMTP at the test Dovecot (starts it).
  bool mail_servers = false;
  /// The issuer; empty: the test server's.
  std::string issuer{};
};

/// Each test: a scratch folder with its own config.toml and token store ($XDG_STATE_HOME), the
/// server's settings and error queue reset, and the log position noted.
class oauth_test : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// TOML of one [accounts.NAME] table.
  std::string account_toml(const account_spec& spec);
  /// TOML of a Microsoft account named `name` (tenant contoso.example) whose endpoints are the
  /// test server's: the provider's own scopes, localhost redirect, login_hint and refresh.
  std::string microsoft_account_toml(const std::string& name = "ms") const;
  /// Writes config.toml with these accounts (the first one is the default).
  void write_config(const std::vector<account_spec>& accounts);
  void write_config_text(const std::string& toml);

  /// argv and environment for the CLI under test (its own config, state and home folders; no
  /// proxies, no $BROWSER unless `env` sets one).
  std::vector<std::string> mailoauth_argv(const std::vector<std::string>& args) const;
  child_options mailoauth_env(std::vector<std::string> set_env = {}) const;

  /// Runs `mailoauth --config CONFIG ARGS...` to completion.
  run_result mailoauth(const std::vector<std::string>& args, std::vector<std::string> set_env = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(120),
                       const std::string& input = {});
  /// Starts it and returns at once.
  std::unique_ptr<child> start_mailoauth(const std::vector<std::string>& args,
                                         std::vector<std::string> set_env = {},
                                         bool pipe_stdin = false);

  /// `login ACCOUNT --flow browser` with tests/oauth/http_user.mjs as the browser (fast; for
  /// tests whose subject is not the sign-in itself). Fails the test if it does not succeed.
  void login_fast(const std::string& account = "acct");

  /// $XDG_STATE_HOME/mailoauth/tokens/ACCOUNT.json and its parsed content.
  std::filesystem::path token_file(const std::string& account = "acct") const;
  json::object stored(const std::string& account = "acct") const;
  /// The stored tokens without the record of the last failed refresh: what must survive every
  /// failure unchanged.
  json::object stored_tokens(const std::string& account = "acct") const;

  /// This test's entries of the server's request log.
  std::vector<json::object> log() const;
  /// How many token requests of `grant` (refresh_token, device_code, ...) the log holds, with
  /// the given outcome ("ok"/"error", empty: any) and error (empty: any).
  int count_token_requests(const std::string& grant, const std::string& outcome = {},
                           const std::string& error = {}) const;

  /// POST /test/config and /test/next-error.
  void configure(const json::object& settings);
  void queue_error(const json::object& error);

  std::filesystem::path scratch_;
  std::filesystem::path config_path_;
  std::filesystem::path state_dir_;
  std::int64_t log_start_ = 0;
};

/// Every string in `haystack` that equals or contains one of `secrets`, for leak assertions;
/// empty secrets are ignored.
std::vector<std::string> leaked(const std::string& haystack,
                                const std::vector<std::string>& secrets);

}  // namespace mailoauth::oauth_test
