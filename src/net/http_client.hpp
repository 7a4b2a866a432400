// Internal: HTTPS requests to identity endpoints, through libcurl (system CAs, HTTPS_PROXY /
// NO_PROXY honoured, timeouts). libcurl is loaded only when a request is made, so that the
// token helper's fast path (a cached, valid token) does not pay for loading it.
#pragma once

#include <mailoauth/result.hpp>
#include <mailoauth/secret.hpp>

#include "common/secret_buffer.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace mailoauth::net {

/// One application/x-www-form-urlencoded field. A credential (client_secret, refresh_token,
/// code, code_verifier, device_code) is given as a secret and stays one until it is encoded into
/// the request body, itself a secret_buffer: nobody fills a plain string with reveal() and has
/// to remember to wipe it.
struct form_field {
  form_field(std::string field_name, std::string plain_value)
      : name(std::move(field_name)), value(std::move(plain_value)) {}
  form_field(std::string field_name, secret secret_value)
      : name(std::move(field_name)), value(std::move(secret_value)) {}

  /// The value as it goes into the body (a secret revealed).
  [[nodiscard]] std::string_view wire_value() const noexcept;
  [[nodiscard]] bool holds_secret() const noexcept { return std::holds_alternative<secret>(value); }

  std::string name;
  std::variant<std::string, secret> value;
};

struct http_request {
  std::string method = "POST";  // "GET" or "POST"
  std::string url;
  /// Form fields for POST (application/x-www-form-urlencoded), in order. Never logged.
  std::vector<form_field> form;
  /// Extra request headers ("Authorization", ...); Accept: application/json and the
  /// User-Agent are always sent.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The whole request, connection included.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  /// Establishing the connection (TCP and TLS handshakes); never longer than `timeout`.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// A CA bundle to verify the server with instead of the system's (tests, sandbox); empty
  /// means the system's CAs. Verification itself is always on.
  std::string cafile;
};

struct http_response {
  long status = 0;
  /// Token responses hold access and refresh tokens: wiped when the response goes.
  mailoauth::detail::secret_buffer body;
  std::string content_type;
  /// Retry-After in seconds, when the server sent one (429, 503).
  std::optional<long> retry_after;
};

/// Performs the request. Network failures are failures (errc::http_failed with what curl said;
/// errc::timeout; errc::certificate_verify_failed or errc::tls_handshake_failed for TLS; a body
/// over 1 MiB is errc::malformed_response); any HTTP status is a response, redirects included
/// (they are not followed). Plain http:// is refused (errc::plaintext_refused) before any I/O
/// unless the host is a loopback address (127.0.0.0/8, ::1, localhost).
result<http_response> perform(const http_request& request);

/// True when `url` is https://, or http:// to a loopback host.
bool url_allowed(const std::string& url);

/// application/x-www-form-urlencoded encoding of one value (RFC 3986 unreserved kept).
std::string form_encode(std::string_view value);

/// The request body for `fields`: name=value pairs joined by '&', each form-encoded, in a
/// buffer that is wiped when it goes (it holds the secrets of the fields).
mailoauth::detail::secret_buffer encode_form(const std::vector<form_field>& fields);

}  // namespace mailoauth::net
