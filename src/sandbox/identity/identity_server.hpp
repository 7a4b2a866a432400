// The sandbox's identity platform (issue 4): Microsoft identity platform v2.0 endpoint shapes
// over HTTPS on loopback, for the app registrations and users of a directory (identity.toml).
//
//   https://127.0.0.1:PORT/{tenant}/oauth2/v2.0/authorize | token | devicecode
//   https://127.0.0.1:PORT/{tenant}/v2.0/.well-known/openid-configuration
//   https://127.0.0.1:PORT/{tenant}/discovery/v2.0/keys
//   https://127.0.0.1:PORT/devicelogin          (like microsoft.com/devicelogin)
//
// {tenant}: common, organizations, the tenant's GUID or its domain; consumers is refused as
// Entra ID refuses it for work-account-only apps (AADSTS9002346). Flows: authorization code
// with PKCE, device code, implicit grant (where the registration enables it), refresh with
// rotation and reuse detection, client credentials. Errors carry Entra ID's AADSTS codes.
#pragma once

#include <mailoauth/result.hpp>
#include <mailoauth/secret.hpp>

#include "sandbox/core/pki.hpp"
#include "sandbox/identity/directory.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace mailoauth::sandbox {

struct identity_options {
  directory dir;
  /// The HTTPS server certificate and key, and the token-signing key.
  pki keys;
  std::chrono::seconds access_token_lifetime{3600};
  std::chrono::seconds refresh_token_lifetime{std::chrono::hours(24 * 90)};
  std::chrono::seconds authorization_code_lifetime{600};
  std::chrono::seconds device_code_lifetime{900};
  std::chrono::seconds device_poll_interval{5};
  /// The time the platform lives in (tests move it); empty: the system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
  /// Connections served at once; more wait in the listen queue.
  std::size_t max_connections = 512;
  /// Deadline of each TLS handshake, request read and response write.
  std::chrono::seconds io_timeout{30};
};

/// Where the running platform answers (all under `authority`).
struct identity_endpoints {
  std::string authority;  // https://127.0.0.1:PORT: a config.toml account's `authority`
  std::string authorize;  // for the tenant's GUID
  std::string token;
  std::string devicecode;
  std::string discovery;
  std::string jwks;
  std::string devicelogin;          // the device flow's verification_uri
  std::string issuer;               // the v2.0 issuer (ID tokens): AUTHORITY/{tid}/v2.0
  std::string access_token_issuer;  // iss of access tokens: https://sts.windows.net/{tid}/
};

/// A token the demo mints without a flow (its expired-token step).
struct mint_request {
  /// Delegated: the user (must exist). Empty: an app-only token.
  std::string username;
  /// Empty: the first public app (delegated) or the first confidential one (app-only).
  std::string client_id;
  /// Delegated short names (IMAP.AccessAsUser.All...); empty: the app's registered ones.
  std::vector<std::string> scopes;
  /// App-only roles; empty: the app's application permissions.
  std::vector<std::string> roles;
  /// Default: now. With a past time and a short lifetime the token is already expired.
  std::optional<std::chrono::system_clock::time_point> issued_at;
  std::optional<std::chrono::seconds> lifetime;
};

class identity_server {
 public:
  explicit identity_server(identity_options options);
  identity_server(const identity_server&) = delete;
  identity_server& operator=(const identity_server&) = delete;
  /// Stops the server (see stop()).
  ~identity_server();

  /// Listens on 127.0.0.1:`port` (0: any free port) and serves on `io` (which may run on any
  /// number of threads). Returns the bound port.
  result<std::uint16_t> start(boost::asio::io_context& io, std::uint16_t port = 0);
  /// Closes the listener and every connection; callable from any thread. The coroutines end
  /// as `io` runs, after which io.run() returns if nothing else keeps it busy.
  void stop();

  /// The bound port (0 before start()).
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] identity_endpoints endpoints() const;
  [[nodiscard]] const directory& dir() const noexcept;

  /// Signs the user in on the device flow's behalf: the code shown to the user is approved
  /// (with consent to what the app asked for) and the next poll gets the tokens. Fails for an
  /// unknown, used or expired code or an unknown user.
  result<void> approve_device_code(std::string_view user_code, std::string_view username);

  /// An access token signed like the platform's own, without a flow.
  [[nodiscard]] result<secret> mint_access_token(const mint_request& request) const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace mailoauth::sandbox
