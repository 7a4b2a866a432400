#include "line_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <stdexcept>

namespace mailoauth::sandbox::test {

namespace asio = boost::asio;

line_client::line_client(std::uint16_t port, bool tls, const std::string& ca_file,
                         std::chrono::milliseconds timeout)
    : ctx_(asio::ssl::context::tls_client), stream_(io_, ctx_), timeout_(timeout) {
  ctx_.load_verify_file(ca_file);
  stream_.set_verify_mode(asio::ssl::verify_peer);
  stream_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  if (tls) start_tls();
}

void line_client::start_tls() {
  boost::system::error_code result = asio::error::timed_out;
  stream_.async_handshake(asio::ssl::stream_base::client,
                          [&](const boost::system::error_code& ec) { result = ec; });
  io_.restart();
  io_.run_for(timeout_);
  if (!io_.stopped()) {
    stream_.next_layer().close();
    io_.restart();
    io_.run();
  }
  if (result) throw std::runtime_error("TLS handshake failed: " + result.message());
  tls_ = true;
}

void line_client::write(std::string_view data) {
  if (tls_)
    asio::write(stream_, asio::buffer(data));
  else
    asio::write(stream_.next_layer(), asio::buffer(data));
}

void line_client::send(std::string_view line) {
  write(std::string(line) + "\r\n");
}

void line_client::send_raw(std::string_view data) {
  write(data);
}

void line_client::send_raw_lenient(std::string_view data) {
  try {
    write(data);
  } catch (const boost::system::system_error&) {
    // The server stopped reading: what it answers is what the test looks at.
  }
}

std::size_t line_client::read_some() {
  char buf[16384];
  boost::system::error_code result = asio::error::timed_out;
  std::size_t got = 0;
  auto done = [&](const boost::system::error_code& ec, std::size_t n) {
    result = ec;
    got = n;
  };
  if (tls_)
    stream_.async_read_some(asio::buffer(buf), done);
  else
    stream_.next_layer().async_read_some(asio::buffer(buf), done);
  io_.restart();
  io_.run_for(timeout_);
  if (!io_.stopped()) {
    // Timed out: cancel the read and let its handler run before `buf` goes away.
    boost::system::error_code ignored;
    stream_.next_layer().cancel(ignored);
    io_.restart();
    io_.run();
    throw std::runtime_error("timed out waiting for the server");
  }
  in_.append(buf, got);
  if (got == 0 && result) throw std::runtime_error("connection closed: " + result.message());
  return got;
}

std::string line_client::read_line() {
  for (;;) {
    const auto lf = in_.find('\n');
    if (lf != std::string::npos) {
      auto line = in_.substr(0, lf);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      in_.erase(0, lf + 1);
      return line;
    }
    read_some();
  }
}

std::vector<std::string> line_client::read_until(std::string_view prefix) {
  std::vector<std::string> lines;
  for (;;) {
    lines.push_back(read_line());
    if (lines.back().starts_with(prefix)) return lines;
  }
}

std::vector<std::string> line_client::read_dot_terminated() {
  std::vector<std::string> lines;
  do {
    lines.push_back(read_line());
  } while (lines.back() != ".");
  return lines;
}

std::string line_client::read_exact(std::size_t n) {
  while (in_.size() < n) read_some();
  auto out = in_.substr(0, n);
  in_.erase(0, n);
  return out;
}

bool line_client::closed_by_server(std::vector<std::string>* lines) {
  try {
    for (;;) {
      auto line = read_line();
      if (lines) lines->push_back(std::move(line));
    }
  } catch (const std::runtime_error& e) {
    return std::string_view(e.what()).starts_with("connection closed");
  }
}

}  // namespace mailoauth::sandbox::test
