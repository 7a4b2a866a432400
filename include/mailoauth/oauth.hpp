// Getting and keeping access tokens: steps 1-3 of Microsoft's guide. Endpoints and scopes per
// provider, the sign-in flows (authorization code + PKCE with a loopback redirect or a pasted URL,
// device code, implicit grant, client credentials), refresh, and the MSAL-like token manager that
// hands out a fresh token, refreshing it once across processes.
#pragma once

#include <mailoauth/config.hpp>
#include <mailoauth/result.hpp>
#include <mailoauth/store.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace mailoauth::oauth {

struct endpoints {
  std::string authorization;
  std::string token;
  std::string device_authorization;
  std::string issuer;
  /// From discovery; empty when unknown. Decides the implicit grant's response_type.
  std::vector<std::string> response_types;
};

/// The scopes the account asks for: Microsoft's full Outlook resource scopes for the account's
/// protocols plus offline_access (app-only: https://outlook.office365.com/.default); Google's
/// https://mail.google.com/; a custom provider's configured list.
std::vector<std::string> scopes_for(const config::account& a);

/// The mail server for a protocol: the account's override, else the provider's default.
result<config::server> server_for(const config::account& a, protocol::mail_protocol p);

/// The provider's endpoints. A custom provider with an issuer is looked up through OpenID
/// discovery (an HTTP request); everything else is computed.
result<endpoints> resolve_endpoints(const config::account& a);

/// What the device authorization endpoint said (RFC 8628 section 3.2; Microsoft's shape).
struct device_code_info {
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;
  std::string message;
  std::chrono::seconds expires_in{900};
  std::chrono::seconds interval{5};
};

/// The user's side of the interactive flows; the CLI implements it for a terminal.
class interaction {
 public:
  virtual ~interaction() = default;
  /// Show the authorization URL, and open it in the browser unless `print_only`.
  virtual void open_authorization_url(const std::string& url, bool print_only) = 0;
  /// The paste flow: read the URL the browser was redirected to.
  virtual std::string read_redirect_url() = 0;
  virtual void show_device_code(const device_code_info& info) = 0;
  /// Called about once a second while the device flow polls.
  virtual void device_waiting(std::chrono::seconds remaining) = 0;
  virtual void device_done() = 0;
  virtual void notice(const std::string& text) = 0;
};

struct login_options {
  config::flow_kind flow = config::flow_kind::browser;
  /// How long the browser flows wait for the redirect.
  std::chrono::seconds browser_timeout{std::chrono::minutes(5)};
};

/// Signs in with the given flow and returns the tokens (the caller stores them).
result<store::token_set> login(const config::account& a, const login_options& options,
                               interaction& ui);

/// Redeems the refresh token. invalid_grant and its kind become errc::login_required with
/// "run `mailoauth login ACCOUNT`"; 429/5xx/network errors are retried with back-off
/// (Retry-After honoured) before failing; the caller's stored tokens are never touched here.
result<store::token_set> refresh(const config::account& a, const store::token_set& current);

struct fresh_options {
  /// Refresh even if the cached token looks valid (check's retry after a server rejection).
  bool force_refresh = false;
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(60)};
};

/// A usable access token for the account: the cached one while it is fresh (no lock, no
/// network), else one refresh under the account's lock, re-reading the cache first so that
/// concurrent callers refresh once and all get the new token.
result<store::token_set> fresh_tokens(const config::account& a, const store::token_store& store,
                                      const fresh_options& options = {});

/// The store for an account (encrypted at rest when it has a key_command).
result<store::token_store> store_for(const config::account& a);

/// Seconds since the epoch, the clock of expires_at and refresh_at. The tests stop it at a
/// moment of their choosing with $MAILOAUTH_TEST_NOW (unix seconds).
std::int64_t now();

}  // namespace mailoauth::oauth
