// Internal: HTTP/1.1 servers on tcp_server (the sandbox's identity platform, the loopback
// redirect listener): Beast's parser and message types, keep-alive, bounded requests, and a
// deadline on every read and write.
//
// Only Beast's message headers are included here; its parser and serializer stay in
// http_server.cpp.
#pragma once

#include "net/tcp_server.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <openssl/crypto.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace mailoauth::net {

struct http_server_options {
  /// The request line and headers together; larger requests get 431.
  std::uint32_t max_header_bytes = 16 * 1024;
  /// The body; larger ones get 413, from the Content-Length before the body is read.
  std::uint64_t max_body_bytes = 64 * 1024;
  /// Then the connection is closed after the response (keeps one client from holding a
  /// connection for ever).
  int max_requests_per_connection = 1000;
  /// Reading one whole request, from its first octet (or the end of the last response on a
  /// kept-alive connection) to its last: a client that trickles a request is cut off, whatever
  /// each read's own deadline. Writes use the tcp_server's io_timeout.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
};

/// A Beast HTTP/1.1 server on a tcp_server: each listener's connections are read request by
/// request and answered by a handler.
class http_server {
 public:
  /// An allocator that wipes what it frees: request headers carry authorization codes (the
  /// loopback redirect's query) and bearer tokens (Authorization), which must not linger in
  /// freed memory.
  template <class T>
  struct wiping_allocator {
    using value_type = T;
    wiping_allocator() noexcept = default;
    template <class U>
    wiping_allocator(const wiping_allocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
    T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
      OPENSSL_cleanse(p, n * sizeof(T));
      std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const wiping_allocator<U>&) const noexcept {
      return true;
    }
  };

  /// Request headers live in wiping memory; the body is wiped once the handler returns.
  using fields = boost::beast::http::basic_fields<wiping_allocator<char>>;
  using request = boost::beast::http::request<boost::beast::http::string_body, fields>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  /// A handler's answer: the response, and what to do once it has been sent.
  struct reply {
    reply(response r) : res(std::move(r)) {}  // NOLINT: handlers return a response
    reply() = default;
    /// Sent as given, with the Content-Length set from the body. keep_alive(false) closes the
    /// connection after it (gracefully, see server_connection::finish()); so does a request
    /// that asked for it, and the last request a connection may make.
    response res;
    /// Called on the connection's strand when the response has been written and, when the
    /// connection closes after it, once it is closed; also when writing failed. The loopback
    /// listener stops waiting here, after the browser has its page.
    std::function<void()> then;
  };
  /// Runs on the connection's strand for every request that could be read; it must not block
  /// for long (other connections may share the thread). It may throw only for bugs: the
  /// connection is then closed without an answer.
  using handler = std::function<reply(const request&)>;
  /// The response for a request that could not be read: 400 (malformed), 413 (body too
  /// large) or 431 (headers too large). The connection closes after it.
  using error_page = std::function<response(boost::beast::http::status)>;

  /// Serves on `io` (any number of threads).
  explicit http_server(boost::asio::io_context& io, tcp_server_options tcp = {},
                       http_server_options http = {});

  /// The certificate and key of HTTPS listeners (see tcp_server::set_tls()).
  result<void> set_tls(std::string_view cert_chain_pem, std::string_view key_pem);
  /// Binds a listener (HTTPS with where.implicit_tls) whose requests go to `h`; `errors`
  /// overrides the plain-text default pages of unreadable requests. Returns the bound port
  /// (see tcp_server::listen()).
  result<std::uint16_t> listen(const listener_options& where, handler h, error_page errors = {});

  /// See tcp_server: start() accepts, pause() closes connections but keeps the listeners,
  /// stop() ends everything. All callable from any thread.
  void start() { tcp_.start(); }
  void pause() { tcp_.pause(); }
  void stop() { tcp_.stop(); }
  [[nodiscard]] std::vector<std::uint16_t> ports() const { return tcp_.ports(); }
  [[nodiscard]] std::size_t connection_count() const { return tcp_.connection_count(); }

  /// The connection handler that serves HTTP with `h`, for a listener of a tcp_server of the
  /// caller's own (one that mixes HTTP with other protocols).
  static connection_handler serve(handler h, http_server_options options, error_page errors = {});

 private:
  tcp_server tcp_;
  http_server_options options_;
};

}  // namespace mailoauth::net
