// The network driver: connects, protects the connection with TLS, and runs a client session to
// its verdict. The only public entry point that touches sockets.
#pragma once

#include <mailoauth/protocol.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace mailoauth::net {

struct connect_options {
  std::string host;
  std::uint16_t port = 0;
  /// CA bundle to verify the server with; empty means the system's CAs.
  std::string cafile;
  /// Deadline for each step: resolving, connecting, the TLS handshake, every read and write.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

/// What the driver learned besides the session's outcome.
struct connection_info {
  std::string peer;         // address:port actually connected to
  std::string tls_version;  // empty when no TLS
  std::string tls_cipher;
  std::string certificate_subject;
};

struct check_result {
  protocol::session_outcome outcome;
  connection_info connection;
};

/// Connects and authenticates. Never throws for network, TLS or protocol failures: they come
/// back in outcome.error with diagnostics. Plaintext (security none) is refused unless the
/// host resolves to loopback addresses only.
check_result authenticate(const connect_options& where, protocol::session_options session,
                          std::function<void(const protocol::transcript_line&)> transcript = {});

}  // namespace mailoauth::net
