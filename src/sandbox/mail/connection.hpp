// Internal: one client connection as the mail sessions see it: bounded line reads, exact reads
// for IMAP literals, buffered writes, the switch to TLS, a deadline on every operation, and the
// redacted transcript.
#pragma once

#include "sandbox/mail/mail_servers.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::sandbox::detail {

enum class read_status { ok, too_long, closed };

class connection {
 public:
  connection(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls,
             const mail_server_options& options, std::uint64_t id, mail_listener listener);

  /// Runs until the deadline passes or close() is called, then closes the socket; joined with
  /// the session so that whichever ends first ends the other.
  boost::asio::awaitable<void> watchdog();

  /// The server side of a TLS handshake (implicit TLS, or after a STARTTLS go-ahead).
  boost::asio::awaitable<bool> handshake();

  /// Reads one line (CRLF or LF, removed) of at most `limit` octets. A longer line is not
  /// consumed: the caller answers with an error and closes.
  boost::asio::awaitable<read_status> read_line(std::string& line, std::size_t limit,
                                                std::chrono::milliseconds timeout);
  /// Reads exactly `n` octets (an IMAP literal); nullopt when the connection ends first.
  boost::asio::awaitable<std::optional<std::string>> read_exact(std::size_t n);

  /// Queues a line (CRLF added) and records it; queue_raw() queues octets without recording.
  void send_line(std::string_view line);
  void send_raw(std::string_view data);
  /// Writes what is queued.
  boost::asio::awaitable<bool> flush();

  /// Records a server line sent through send_raw() (its literals summarised by the caller).
  void record_server_summary(std::string_view line);
  /// Records a line the client sent, already redacted by the caller.
  void record_client(std::string_view line);

  /// STARTTLS: everything the client sent in plaintext after the command is thrown away, so
  /// that nothing injected before the handshake is read as if it came over TLS (the server
  /// side of CVE-2011-0411). Returns how many octets were dropped.
  std::size_t discard_buffered() noexcept;

  /// Ends the session gracefully: no more sending, then what the client still sends is read
  /// and dropped (bounded in time and size) before the socket closes. Closing with unread
  /// input would reset the connection and could destroy the last reply (a "Line too long"
  /// error, say) before the client reads it.
  boost::asio::awaitable<void> finish();
  void close() noexcept;
  /// The connection's strand.
  [[nodiscard]] boost::asio::any_io_executor stream_executor() { return stream_.get_executor(); }
  [[nodiscard]] bool tls() const noexcept { return tls_; }
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] mail_listener listener() const noexcept { return listener_; }
  [[nodiscard]] const mail_server_options& options() const noexcept { return options_; }
  [[nodiscard]] const std::string& peer() const noexcept { return peer_; }

 private:
  void arm(std::chrono::milliseconds timeout);
  boost::asio::awaitable<std::size_t> read_more();

  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_;
  const mail_server_options& options_;
  std::uint64_t id_;
  mail_listener listener_;
  std::string peer_;
  std::string in_;
  std::string out_;
  bool tls_ = false;
  bool closed_ = false;
};

}  // namespace mailoauth::sandbox::detail
