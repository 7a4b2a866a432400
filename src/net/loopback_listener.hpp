// Internal: the loopback redirect listener of the browser flows (RFC 8252 section 7.3). It
// listens on 127.0.0.1 (and ::1 when the redirect names "localhost"), answers the browser with
// a short page, and hands back the parameters of the redirect.
#pragma once

#include <mailoauth/result.hpp>

#include "common/secret_buffer.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace mailoauth::net {

class loopback_listener {
 public:
  /// Binds `port` on loopback (0: a free port chosen by the system). `dual_stack` also binds
  /// ::1 on the same port, for redirect URIs that say "localhost".
  static result<loopback_listener> open(std::uint16_t port, bool dual_stack);

  loopback_listener(loopback_listener&&) noexcept;
  loopback_listener& operator=(loopback_listener&&) noexcept;
  ~loopback_listener();

  [[nodiscard]] std::uint16_t port() const noexcept;

  /// Waits for the browser. Returns the redirect's parameters: the query of a GET to `path`
  /// (authorization code: code, state, iss; or error, error_description). With
  /// `fragment_page`, a GET without parameters is answered with a tiny page whose script POSTs
  /// location.hash back to `path` (the implicit grant's token arrives in the fragment, which
  /// the server never sees otherwise); the POSTed parameters are returned. Requests to other
  /// paths (favicon.ico) get 404 and waiting goes on. Times out after `timeout`. The
  /// parameters hold the code or the tokens, so their values are wiped when they go.
  result<mailoauth::detail::secret_fields> wait(const std::string& path, bool fragment_page,
                                                std::chrono::milliseconds timeout);

 private:
  struct impl;
  explicit loopback_listener(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace mailoauth::net
