// Error codes and diagnostics shared by every layer of mailoauth.
#pragma once

#include <string>
#include <system_error>

namespace mailoauth {

/// Everything that can stop an authentication attempt, grouped by what the user must do about it.
enum class errc {
  // usage or configuration (exit 2)
  invalid_argument = 1,
  config_invalid,
  unknown_account,
  // the server rejected the credentials, or the identity platform refused us (exit 3)
  authentication_failed = 100,
  login_required,
  oauth_rejected,
  authorization_declined,
  authorization_expired,
  // TLS or security failures (exit 4)
  tls_handshake_failed = 200,
  certificate_verify_failed,
  starttls_not_offered,
  starttls_refused,
  starttls_injection,
  preauth_without_tls,
  plaintext_refused,
  // connection failures (exit 5)
  resolve_failed = 300,
  connect_failed,
  timeout,
  connection_closed,
  server_unavailable,
  http_failed,
  // protocol errors (exit 6)
  malformed_reply = 400,
  line_too_long,
  unexpected_reply,
  mechanism_not_offered,
  preauthenticated,
  too_many_lines,
  malformed_response,
  // local state: the token store cannot be read or written (exit 7)
  store_failed = 500,
  store_locked,
};

/// The category of mailoauth::errc.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// What a failure means for the user; also the CLI's exit codes (see README).
enum class failure_kind {
  none = 0,
  usage = 2,
  rejected = 3,
  security = 4,
  connection = 5,
  protocol = 6,
  local = 7,
};

/// Classifies any error code (ours, Asio's, OpenSSL's) into a failure kind.
failure_kind classify(const std::error_code& ec) noexcept;

/// Keeps what the server said apart from what we concluded, as Boost.MySQL does.
struct diagnostics {
  /// The server's own line that ended the exchange, verbatim (never holds credentials).
  std::string server_message;
  /// Our explanation and what to do about it.
  std::string client_message;
};

}  // namespace mailoauth

template <>
struct std::is_error_code_enum<mailoauth::errc> : std::true_type {};
