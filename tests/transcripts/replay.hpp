// Replays transcripts against the sans-I/O sessions, client side and server side, with an
// optional failure injected at one I/O step (Boost.MySQL's check_network_errors, Beast's
// fail_count): the step's result is an error instead of what the transcript has.
#pragma once

#include "server_transcript.hpp"
#include "transcript.hpp"

#include <mailoauth/protocol.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mailoauth::test {

/// A failure at the n-th I/O step (0-based; reads, writes and TLS handshakes count).
struct fault {
  enum class kind {
    error,    // the step fails: a reset read, a broken pipe, a TLS alert
    timeout,  // the step's deadline passes (the driver's watchdog)
  };
  std::size_t step = 0;
  kind k = kind::error;
};

/// What an I/O step was, for the assertions of the fault suite.
enum class io_step { read, write, tls };

struct replay_result {
  /// I/O steps performed (with a fault: up to and including the failed one).
  std::size_t steps = 0;
  /// The kind of the step that failed, when a fault was injected there.
  std::optional<io_step> failed;
  /// The session's stage then, in its own words ("authenticating", ...), from the transcript.
  bool during_logout = false;
  /// Every transcript line the session emitted, and its diagnostics.
  std::vector<std::string> lines;
  bool finished = false;
  /// Byte by byte: the session started TLS with plaintext behind the go-ahead still to come,
  /// which a real handshake reads as garbage; the replay failed the handshake there.
  bool plaintext_behind_tls = false;
  /// Server side: the session reported the authenticated action.
  bool authenticated_reported = false;
};

/// The client side: the session against the transcript's server lines. Mismatches are gtest
/// failures; `outcome` receives the session's outcome.
replay_result replay_client(const transcript& t, protocol::transport_security security,
                            bool byte_by_byte, std::optional<fault> f,
                            protocol::session_outcome& outcome);

/// The server side: the session against the transcript's client lines.
replay_result replay_server(const server_transcript& t, bool byte_by_byte, std::optional<fault> f,
                            protocol::server_outcome& outcome);

/// The transport securities a client transcript runs under ("any": plaintext and implicit TLS).
std::vector<protocol::transport_security> securities(const transcript& t);

}  // namespace mailoauth::test
