// Internal: the identity platform's behaviour, apart from the network: an HTTP request in, an
// HTTP response out, with the sign-in state (flows between pages, codes, device codes, refresh
// token families, consents, sessions) behind one mutex.
#pragma once

#include "sandbox/identity/identity_server.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mailoauth::sandbox::detail {

struct http_in {
  std::string method;  // GET, POST, ...
  std::string target;  // path and query
  std::string content_type;
  std::string authorization;      // the Authorization header
  std::string cookie;             // the Cookie header
  std::string client_request_id;  // becomes the correlation id, as with Entra ID
  std::string body;
};

struct http_out {
  unsigned status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class authority {
 public:
  explicit authority(identity_options options);
  ~authority();

  /// The scheme, host and port the platform is reached at, once bound.
  void set_origin(std::string origin);
  [[nodiscard]] identity_endpoints endpoints() const;
  [[nodiscard]] const identity_options& options() const noexcept;

  /// Answers one request: a pure function of the request and the platform's state, no I/O.
  /// Thread-safe.
  http_out handle(const http_in& request);

  /// The sandbox signs the user in on the device flow's behalf (identity_server's).
  result<void> approve_device_code(std::string_view user_code, std::string_view username);
  [[nodiscard]] result<secret> mint_access_token(const mint_request& request) const;

  struct state;

 private:
  std::unique_ptr<state> state_;
};

}  // namespace mailoauth::sandbox::detail
