// Internal: the one acceptor and server-connection driver (issue 8, build item 3). Every server
// of the project (the sandbox's identity platform and mail servers, the loopback redirect
// listener, the proxy) listens through a tcp_server and talks through server_connection, so the
// accept loop, the live-connection set, the connection limit, TLS and the deadlines exist once.
//
// The shape is that of Asio's src/examples/cpp20/channels/throttling_proxy.cpp: a coroutine per
// connection, an accept loop that logs an error and goes on, a deadline on every read and write.
//
// The connection's API is what a sans-I/O server session needs (src/protocol/): bytes in
// (read_some), bytes out (write), start TLS (start_tls), close (finish / close); the session's
// actions map one to one onto these calls, and their std::error_code results go back to it.
//
// Only Asio's awaitable and executor headers are included here: sockets, TLS and timers stay in
// tcp_server.cpp.
#pragma once

#include <mailoauth/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace mailoauth::net {

/// Where a listener binds and how its connections begin.
struct listener_options {
  /// An IPv4 or IPv6 address literal: "127.0.0.1", "::1", "0.0.0.0".
  std::string address = "127.0.0.1";
  /// 0: a free port chosen by the system (listen() returns the one bound).
  std::uint16_t port = 0;
  /// The TLS handshake runs before the handler is called (IMAPS, POP3S, SMTPS, HTTPS); the
  /// server needs set_tls() first.
  bool implicit_tls = false;
  /// Names the listener in logs and in server_connection::listener(): "imaps", "identity".
  std::string name = "tcp";
};

/// What every listener of one server shares.
struct tcp_server_options {
  /// Connections served at once, all listeners together. More are refused (see listen()).
  std::size_t max_connections = 512;
  /// Refused connections that may be answered at once (each gets one short reply); beyond
  /// that, a connection over the limit is closed as soon as it is accepted.
  std::size_t max_refusing = 16;
  /// The deadline of each read, write and TLS handshake whose call does not name its own.
  std::chrono::milliseconds io_timeout{std::chrono::seconds(30)};
  /// How long finish() waits for the peer (TLS close_notify, then draining its input).
  std::chrono::milliseconds finish_timeout{std::chrono::seconds(2)};
  /// How long an accept loop waits after a failed accept (out of descriptors and the like)
  /// before it accepts again, so that an error that persists cannot spin.
  std::chrono::milliseconds accept_error_pause{std::chrono::milliseconds(100)};
};

/// The outcome of a read or a write: `bytes` transferred, or why not.
struct io_result {
  std::error_code ec;
  std::size_t bytes = 0;
};

/// One accepted connection, as its handler coroutine sees it. Every operation has a deadline
/// (the call's own, or tcp_server_options::io_timeout); when it passes the connection is closed
/// and the operation returns errc::timeout. All members must be called on executor() (the
/// connection's strand), which is where the handler runs; tcp_server::stop() may close it from
/// any thread. One read and one write may be pending at once (a proxy's two directions joined
/// with awaitable operators), each under its own deadline.
///
/// Errors returned by the operations:
///   errc::timeout             the deadline passed (the connection is closed)
///   errc::connection_closed   the peer closed (TCP FIN, or TLS close_notify / a truncated TLS
///                             stream, which clients that just close produce)
///   std::errc::operation_canceled   close(), or tcp_server::pause() / stop()
///   errc::tls_handshake_failed      start_tls() failed (the connection is closed)
///   errc::invalid_argument    a bug of the caller: start_tls() without set_tls() or twice (the
///                             connection is closed), read_some() into an empty buffer
///   anything else             the socket's own error (connection_reset, broken_pipe...)
class server_connection {
 public:
  /// Internal: made by tcp_server for each accepted connection.
  struct state;
  explicit server_connection(std::unique_ptr<state> s);
  server_connection(const server_connection&) = delete;
  server_connection& operator=(const server_connection&) = delete;
  ~server_connection();

  /// Reads what has arrived, at least one octet, into `buffer` (never buffers anything of its
  /// own: after STARTTLS nothing read in plaintext survives here). A result with bytes > 0
  /// has no error; an error comes with 0 bytes.
  boost::asio::awaitable<io_result> read_some(std::span<char> buffer);
  /// The same under `timeout` (an idle deadline longer or shorter than the default).
  boost::asio::awaitable<io_result> read_some(std::span<char> buffer,
                                              std::chrono::milliseconds timeout);

  /// Writes all of `data` (through TLS once it is up), within the deadline. The caller owns
  /// and wipes its buffer: the connection keeps no copy.
  boost::asio::awaitable<std::error_code> write(std::string_view data);
  boost::asio::awaitable<std::error_code> write(std::string_view data,
                                                std::chrono::milliseconds timeout);
  /// Writes the pieces in order in one gather write (a line and its CRLF, a header and a body).
  boost::asio::awaitable<std::error_code> write(std::span<const std::string_view> pieces);

  /// The server side of a TLS handshake (STARTTLS / STLS, after the go-ahead reply has been
  /// written). The server's certificate comes from tcp_server::set_tls(). On failure the
  /// connection is closed: after a failed handshake nothing more may be said in plaintext.
  boost::asio::awaitable<std::error_code> start_tls();

  /// Ends the connection gracefully: TLS close_notify, no more sending, then what the peer
  /// still sends is read and dropped (bounded in time and size) before the socket closes.
  /// Closing with unread input would reset the connection and could destroy the last reply
  /// before the peer reads it (RFC 9112 section 9.6). Does nothing when already closed.
  boost::asio::awaitable<void> finish();
  /// Closes at once; pending operations end with std::errc::operation_canceled.
  void close() noexcept;

  /// The connection's strand: the handler runs there; work that touches the connection from
  /// elsewhere (a proxy's other direction) is posted or spawned there.
  [[nodiscard]] boost::asio::any_io_executor executor() const;
  [[nodiscard]] bool is_open() const noexcept;
  /// True once TLS is up (implicit or after start_tls()).
  [[nodiscard]] bool tls() const noexcept;
  /// True when a deadline closed the connection.
  [[nodiscard]] bool timed_out() const noexcept;
  /// A number unique within the server, for logs and transcripts.
  [[nodiscard]] std::uint64_t id() const noexcept;
  /// The peer's address ("127.0.0.1", "::1"), "?" when unknown.
  [[nodiscard]] const std::string& peer() const noexcept;
  /// The name of the listener that accepted it (listener_options::name).
  [[nodiscard]] const std::string& listener() const noexcept;
  /// The local port it was accepted on.
  [[nodiscard]] std::uint16_t local_port() const noexcept;
  /// "TLSv1.3" and the cipher once TLS is up; empty before.
  [[nodiscard]] std::string tls_version() const;
  [[nodiscard]] std::string tls_cipher() const;

 private:
  std::unique_ptr<state> s_;
};

/// A connection's coroutine. It runs on the connection's strand; when it returns the server
/// finishes the connection (finish()) unless it is closed already. An exception it throws is
/// logged and closes the connection; it never reaches the accept loop.
using connection_handler = std::function<boost::asio::awaitable<void>(server_connection&)>;

/// Listeners, their accept loops and the set of live connections, on one io_context.
///
/// Lifetime: the coroutines keep the server's shared state alive, so the tcp_server object may
/// be destroyed (which stops it) while they still run; handlers must not capture anything that
/// dies sooner (capture a weak_ptr and lock it in the coroutine, as identity_server does).
class tcp_server {
 public:
  /// Serves on `io`, which may run on any number of threads.
  explicit tcp_server(boost::asio::io_context& io, tcp_server_options options = {});
  tcp_server(const tcp_server&) = delete;
  tcp_server& operator=(const tcp_server&) = delete;
  /// Stops (see stop()).
  ~tcp_server();

  /// The certificate chain (PEM, leaf first) and private key (PEM) for implicit-TLS listeners
  /// and start_tls(): TLS 1.2 or later. Call before start().
  result<void> set_tls(std::string_view cert_chain_pem, std::string_view key_pem);

  /// Binds a listener; it accepts once start() is called (or at once when the server runs
  /// already). Each connection runs `handler`. A connection over max_connections runs `refuse`
  /// instead, after the implicit TLS handshake, so that it can answer in its protocol's words
  /// ("* BYE Too many connections"); without `refuse` it is closed as soon as accepted.
  /// Returns the bound port. Failures: errc::invalid_argument (a bad address, a TLS listener
  /// without set_tls(), a stopped server), errc::connect_failed (cannot bind: the port is
  /// taken, the address is not ours), with the address and port in the message.
  result<std::uint16_t> listen(const listener_options& where, connection_handler handler,
                               connection_handler refuse = {});

  /// Starts (or resumes) the accept loop of every listener. Callable from any thread.
  void start();
  /// Stops accepting and closes every open connection, but keeps the listeners bound: new
  /// connections wait in the listen queue until start() again (the loopback listener between
  /// two waits). Callable from any thread.
  void pause();
  /// Closes the listeners and every open connection, for good; callable from any thread. The
  /// coroutines end as the io_context runs, after which it runs out of work (nothing of the
  /// server keeps it busy).
  void stop();

  /// The bound ports, in the order of the listen() calls.
  [[nodiscard]] std::vector<std::uint16_t> ports() const;
  /// Connections open now (refused ones being answered not included).
  [[nodiscard]] std::size_t connection_count() const;

  struct shared;

 private:
  std::shared_ptr<shared> s_;
};

}  // namespace mailoauth::net
