// A line-oriented test client for the sandbox's mail servers: plaintext, implicit TLS or
// STARTTLS, every read under a deadline (a hung server fails the test instead of hanging it).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::sandbox::test {

class line_client {
 public:
  /// Connects to 127.0.0.1:port; with `tls`, does the TLS handshake at once (verifying the
  /// server against `ca_file`).
  line_client(std::uint16_t port, bool tls, const std::string& ca_file,
              std::chrono::milliseconds timeout = std::chrono::seconds(20));

  void send(std::string_view line);  // CRLF added
  void send_raw(std::string_view data);
  /// Sends what it can: a server that hangs up on an overlong line may stop reading midway.
  void send_raw_lenient(std::string_view data);
  /// One line without its CRLF; throws std::runtime_error on EOF or timeout.
  std::string read_line();
  /// Lines up to and including the first that starts with `prefix`.
  std::vector<std::string> read_until(std::string_view prefix);
  /// Lines up to and including a line that is exactly "." (POP3's multi-line end).
  std::vector<std::string> read_dot_terminated();
  /// Octets, exactly.
  std::string read_exact(std::size_t n);
  /// The TLS handshake after a STARTTLS go-ahead; plaintext already buffered is kept, so that
  /// a test can see whether the server answered commands injected before TLS.
  void start_tls();
  /// Whether the server closes the connection (EOF or reset) within the timeout; lines it
  /// sends first go to `lines`.
  bool closed_by_server(std::vector<std::string>* lines = nullptr);
  [[nodiscard]] bool buffered() const { return !in_.empty(); }

 private:
  std::size_t read_some();
  void write(std::string_view data);

  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  std::chrono::milliseconds timeout_;
  bool tls_ = false;
  std::string in_;
};

}  // namespace mailoauth::sandbox::test
