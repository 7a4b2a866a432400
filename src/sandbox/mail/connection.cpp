#include "sandbox/mail/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>

namespace mailoauth::sandbox::detail {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

connection::connection(asio::ip::tcp::socket socket, asio::ssl::context& tls,
                       const mail_server_options& options, std::uint64_t id, mail_listener listener)
    : stream_(std::move(socket), tls),
      timer_(stream_.get_executor()),
      deadline_(std::chrono::steady_clock::now() + options.io_timeout),
      options_(options),
      id_(id),
      listener_(listener) {
  boost::system::error_code ec;
  const auto ep = stream_.next_layer().remote_endpoint(ec);
  peer_ = ec ? "?" : ep.address().to_string();
  stream_.next_layer().set_option(asio::ip::tcp::no_delay(true), ec);
}

void connection::arm(std::chrono::milliseconds timeout) {
  deadline_ = std::chrono::steady_clock::now() + timeout;
  // A deadline earlier than the one the watchdog sleeps towards wakes it up to sleep less.
  if (deadline_ < timer_.expiry()) timer_.cancel();
}

asio::awaitable<void> connection::watchdog() {
  // The timer is not re-armed for every operation: it wakes at the old deadline and sleeps
  // again when the deadline has moved since (the approach of Asio's timeout examples).
  while (!closed_) {
    if (deadline_ <= std::chrono::steady_clock::now()) break;
    timer_.expires_at(deadline_);
    auto [ec] = co_await timer_.async_wait(use_tuple);
    if (ec && ec != asio::error::operation_aborted) break;
    // Cancelled from outside: the session ended first (awaitable operator ||).
    const auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return;
  }
  close();
}

void connection::close() noexcept {
  closed_ = true;
  boost::system::error_code ignored;
  stream_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.next_layer().close(ignored);
}

asio::awaitable<void> connection::finish() {
  if (closed_) co_return;
  boost::system::error_code ec;
  stream_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  arm(std::min<std::chrono::milliseconds>(options_.io_timeout, std::chrono::seconds(2)));
  std::array<char, 16 * 1024> scratch;
  for (std::size_t total = 0; !ec && total < 4 * 1024 * 1024;) {
    std::size_t n = 0;
    std::tie(ec, n) =
        co_await stream_.next_layer().async_read_some(asio::buffer(scratch), use_tuple);
    total += n;
  }
  close();
}

asio::awaitable<bool> connection::handshake() {
  arm(options_.io_timeout);
  auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (ec) co_return false;
  tls_ = true;
  co_return true;
}

asio::awaitable<std::size_t> connection::read_more() {
  std::array<char, 16 * 1024> buffer;
  boost::system::error_code ec;
  std::size_t n = 0;
  if (tls_)
    std::tie(ec, n) = co_await stream_.async_read_some(asio::buffer(buffer), use_tuple);
  else
    std::tie(ec, n) =
        co_await stream_.next_layer().async_read_some(asio::buffer(buffer), use_tuple);
  if (n > 0) in_.append(buffer.data(), n);
  co_return ec&& n == 0 ? 0 : n;
}

asio::awaitable<read_status> connection::read_line(std::string& line, std::size_t limit,
                                                   std::chrono::milliseconds timeout) {
  std::size_t scanned = 0;
  for (;;) {
    const auto lf = in_.find('\n', scanned);
    if (lf != std::string::npos) {
      // The limit counts the CRLF, as RFC 5321 and RFC 2449 do.
      if (lf + 1 > limit) co_return read_status::too_long;
      std::size_t end = lf;
      if (end > 0 && in_[end - 1] == '\r') --end;
      line.assign(in_, 0, end);
      in_.erase(0, lf + 1);
      co_return read_status::ok;
    }
    if (in_.size() >= limit) co_return read_status::too_long;
    scanned = in_.size();
    arm(timeout);
    const auto got = co_await read_more();
    if (got == 0) co_return read_status::closed;
  }
}

asio::awaitable<std::optional<std::string>> connection::read_exact(std::size_t n) {
  while (in_.size() < n) {
    // Literals come right after their announcement: a mid-command deadline, not the idle one.
    arm(options_.io_timeout);
    const auto got = co_await read_more();
    if (got == 0) co_return std::nullopt;
  }
  std::optional<std::string> out(std::in_place, in_, 0, n);
  in_.erase(0, n);
  co_return out;
}

void connection::send_line(std::string_view line) {
  if (options_.on_transcript) options_.on_transcript({id_, listener_, false, std::string(line)});
  out_.append(line).append("\r\n");
}

void connection::send_raw(std::string_view data) {
  out_.append(data);
}

void connection::record_server_summary(std::string_view line) {
  if (options_.on_transcript) options_.on_transcript({id_, listener_, false, std::string(line)});
}

void connection::record_client(std::string_view line) {
  if (options_.on_transcript) options_.on_transcript({id_, listener_, true, std::string(line)});
}

asio::awaitable<bool> connection::flush() {
  if (out_.empty()) co_return !closed_;
  arm(options_.io_timeout);
  boost::system::error_code ec;
  if (tls_)
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(out_), use_tuple);
  else
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream_.next_layer(), asio::buffer(out_), use_tuple);
  out_.clear();
  co_return !ec;
}

std::size_t connection::discard_buffered() noexcept {
  const auto n = in_.size();
  in_.clear();
  return n;
}

}  // namespace mailoauth::sandbox::detail
