// Internal: HTTPS requests to identity endpoints, through libcurl (system CAs, HTTPS_PROXY /
// NO_PROXY honoured, timeouts). libcurl is loaded only when a request is made, so that the
// token helper's fast path (a cached, valid token) does not pay for loading it.
#pragma once

#include <mailoauth/result.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace mailoauth::net {

struct http_request {
  std::string method = "POST";  // "GET" or "POST"
  std::string url;
  /// Form fields for POST (application/x-www-form-urlencoded). Values may hold secrets
  /// (client_secret, refresh_token, code, code_verifier): they are never logged.
  std::vector<std::pair<std::string, std::string>> form;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  /// Extra CA bundle (tests, sandbox); empty means the system's CAs.
  std::string cafile;
};

struct http_response {
  long status = 0;
  std::string body;
  std::string content_type;
  /// Retry-After in seconds, when the server sent one (429, 503).
  std::optional<long> retry_after;
};

/// Performs the request. Network and TLS failures are failures (errc::http_failed with what
/// curl said); any HTTP status is a response. Plain http:// is refused unless the host is a
/// loopback address (127.0.0.0/8, ::1, localhost).
result<http_response> perform(const http_request& request);

/// True when `url` is https://, or http:// to a loopback host.
bool url_allowed(const std::string& url);

/// application/x-www-form-urlencoded encoding of one value (RFC 3986 unreserved kept).
std::string form_encode(std::string_view value);

}  // namespace mailoauth::net
