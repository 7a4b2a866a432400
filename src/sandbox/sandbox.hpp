// The whole sandbox: the identity platform and the six mail listeners on loopback, sharing one
// state folder (keys, CA, directory, mailboxes), as `mailoauth sandbox` runs it and `mailoauth
// demo` embeds it.
#pragma once

#include <mailoauth/result.hpp>

#include "sandbox/core/pki.hpp"
#include "sandbox/identity/identity_server.hpp"
#include "sandbox/mail/mail_servers.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace mailoauth::sandbox {

struct sandbox_options {
  /// Keys, CA, identity.toml and mailboxes; created (0700) when missing.
  std::filesystem::path state_dir;
  /// 0: any free ports. Else the identity platform listens on N and the mail listeners on N+1
  /// (imaps), N+2 (imap), N+3 (pop3s), N+4 (pop3), N+5 (smtps), N+6 (smtp).
  std::uint16_t port_base = 0;
  /// Refuse POP3's one-line AUTH, as Office 365 does today.
  bool strict = false;
  std::chrono::seconds access_token_lifetime{3600};
  /// The device flow's polling interval (Microsoft's is 5 s; the demo uses 1 s).
  std::chrono::seconds device_poll_interval{5};
  /// Every line of every mail session, credentials redacted (the demo prints them).
  std::function<void(const transcript_line&)> on_transcript;
};

/// The default state folder: $XDG_STATE_HOME/mailoauth/sandbox (~/.local/state/...).
std::filesystem::path default_state_dir();

class sandbox {
 public:
  explicit sandbox(sandbox_options options);
  ~sandbox();
  sandbox(const sandbox&) = delete;
  sandbox& operator=(const sandbox&) = delete;

  /// Creates or loads the keys and directory, then binds every listener on `io`. On failure
  /// nothing is left listening.
  result<void> start(boost::asio::io_context& io);
  /// Stops every listener and connection; callable from any thread.
  void stop();

  [[nodiscard]] const pki& keys() const;
  [[nodiscard]] identity_endpoints identity_urls() const;
  [[nodiscard]] mail_ports ports() const;
  [[nodiscard]] identity_server& identity();
  [[nodiscard]] mail_servers& mail();
  [[nodiscard]] const sandbox_options& options() const noexcept { return options_; }

  /// A ready config.toml account for the directory's first user and public app:
  /// `[accounts.NAME]` with authority, tenant, client_id, cafile, the device flow and the
  /// sandbox's hosts and ports (IMAP and POP3 over implicit TLS, SMTP with STARTTLS, as
  /// Office 365 has them).
  [[nodiscard]] std::string config_account(const std::string& name) const;

 private:
  sandbox_options options_;
  std::optional<pki> keys_;
  std::unique_ptr<identity_server> identity_;
  std::unique_ptr<mail_servers> mail_;
};

}  // namespace mailoauth::sandbox
