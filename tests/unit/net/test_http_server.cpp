#include "test_http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <cctype>
#include <mutex>
#include <optional>
#include <thread>

namespace mailoauth::test {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '+') {
      out += ' ';
    } else if (s[k] == '%' && k + 2 < s.size() && hex(s[k + 1]) >= 0 && hex(s[k + 2]) >= 0) {
      out += static_cast<char>(hex(s[k + 1]) * 16 + hex(s[k + 2]));
      k += 2;
    } else {
      out += s[k];
    }
  }
  return out;
}

}  // namespace

struct test_http_server::impl {
  handler on_request;
  server_options options;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::optional<asio::ssl::context> tls;
  std::thread thread;
  mutable std::mutex mutex;
  std::vector<recorded_request> log;

  void record(const http_request& req) {
    recorded_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      r.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    }
    r.body = req.body();
    std::lock_guard lock(mutex);
    log.push_back(std::move(r));
  }

  template <class Stream>
  asio::awaitable<void> serve_http(Stream& stream) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      http_request req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
      if (ec) co_return;
      record(req);
      if (options.silent) {
        asio::steady_timer forever(io, std::chrono::hours(1));
        co_await forever.async_wait(use_tuple);
        co_return;
      }
      http_response res = on_request(req);
      res.version(11);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec || !res.keep_alive()) co_return;
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    if (!tls) {
      co_await serve_http(socket);
      co_return;
    }
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
    if (!ec) co_await serve_http(stream);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }
};

test_http_server::test_http_server(handler h, server_options options)
    : impl_(std::make_unique<impl>()) {
  impl_->on_request = std::move(h);
  impl_->options = std::move(options);
  if (!impl_->options.cert_file.empty()) {
    impl_->tls.emplace(asio::ssl::context::tls_server);
    impl_->tls->use_certificate_chain_file(impl_->options.cert_file);
    impl_->tls->use_private_key_file(impl_->options.key_file, asio::ssl::context::pem);
  }
  const tcp::endpoint ep(asio::ip::make_address(impl_->options.address), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

test_http_server::~test_http_server() {
  impl_->io.stop();
  impl_->thread.join();
}

std::uint16_t test_http_server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::string test_http_server::url(const std::string& path) const {
  const bool v6 = impl_->options.address.find(':') != std::string::npos;
  const std::string host = v6 ? "[" + impl_->options.address + "]" : impl_->options.address;
  return std::string(impl_->tls ? "https" : "http") + "://" + host + ":" + std::to_string(port()) +
         path;
}

std::vector<recorded_request> test_http_server::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->log;
}

http_response make_http_response(int status, std::string body, std::string content_type) {
  http_response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::vector<std::pair<std::string, std::string>> decode_form(const std::string& body) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(start, end - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      out.emplace_back(unescape(pair.substr(0, eq)),
                       eq == std::string::npos ? "" : unescape(pair.substr(eq + 1)));
    }
    start = end + 1;
  }
  return out;
}

}  // namespace mailoauth::test
