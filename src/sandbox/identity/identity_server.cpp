// The identity platform's HTTPS server: a coroutine per connection on Beast, TLS with the
// sandbox's server certificate, a deadline on every handshake, read and write, bounded request
// sizes, and a bounded number of connections. What a request means is authority.cpp's business.
#include "sandbox/identity/identity_server.hpp"

#include "sandbox/identity/authority.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <exception>
#include <mutex>
#include <set>

namespace mailoauth::sandbox {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// The largest legitimate request is an authorization request with a long state, or a token
// request with a refresh token: far below these.
constexpr std::uint32_t max_header_bytes = 32 * 1024;
constexpr std::uint64_t max_body_bytes = 64 * 1024;
constexpr int max_requests_per_connection = 1000;

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace

struct identity_server::impl : std::enable_shared_from_this<identity_server::impl> {
  explicit impl(identity_options o) : auth(std::move(o)), tls(ssl::context::tls_server) {}

  detail::authority auth;
  ssl::context tls;
  std::optional<asio::strand<asio::io_context::executor_type>> strand;
  std::optional<tcp::acceptor> acceptor;
  std::atomic<std::uint16_t> port{0};
  // Only touched on the strand.
  std::set<tls_stream*> live;
  bool stopping = false;

  result<void> configure_tls() {
    const auto& keys = auth.options().keys;
    boost::system::error_code ec;
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::single_dh_use,
                    ec);
    if (!ec)
      tls.use_certificate_chain(
          asio::buffer(keys.server_cert_pem.data(), keys.server_cert_pem.size()), ec);
    if (!ec)
      tls.use_private_key(asio::buffer(keys.server_key_pem.data(), keys.server_key_pem.size()),
                          ssl::context::pem, ec);
    if (ec)
      return make_failure(
          errc::tls_handshake_failed,
          "the identity platform cannot use the sandbox's server certificate: " + ec.message());
    return {};
  }

  void close_all() {
    stopping = true;
    boost::system::error_code ignored;
    if (acceptor) acceptor->close(ignored);
    for (auto* s : live) beast::get_lowest_layer(*s).socket().close(ignored);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor->async_accept(*strand, use_tuple);
      if (stopping || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors and the like: say so, breathe, go on.
        spdlog::warn("identity: accept failed: {}", ec.message());
        asio::steady_timer pause(*strand, std::chrono::milliseconds(100));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      if (live.size() >= auth.options().max_connections) {
        // Too many at once: this one is closed (it goes out of scope) and the client retries.
        spdlog::warn("identity: {} connections open; refusing one", live.size());
        continue;
      }
      asio::co_spawn(*strand, serve(std::move(socket)), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::debug("identity: connection ended: {}", ex.what());
        }
      });
    }
  }

  static detail::http_in to_input(const http::request<http::string_body>& req) {
    detail::http_in in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    in.content_type = std::string(req[http::field::content_type]);
    in.authorization = std::string(req[http::field::authorization]);
    in.cookie = std::string(req[http::field::cookie]);
    in.client_request_id = std::string(req["client-request-id"]);
    in.body = req.body();
    return in;
  }

  static http::response<http::string_body> to_response(detail::http_out out, unsigned version,
                                                       bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(out.status), version};
    res.set(http::field::server, "mailoauth-sandbox");
    if (!out.content_type.empty()) res.set(http::field::content_type, out.content_type);
    // Codes travel in URLs: no page of ours sends them on as a Referer.
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Strict-Transport-Security", "max-age=31536000");
    for (auto& [k, v] : out.headers) res.insert(k, v);
    res.body() = std::move(out.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    const auto deadline = auth.options().io_timeout;
    tls_stream stream(std::move(socket), tls);
    live.insert(&stream);
    struct unregister {
      std::set<tls_stream*>& live;
      tls_stream* s;
      ~unregister() { live.erase(s); }
    } guard{live, &stream};

    beast::get_lowest_layer(stream).expires_after(deadline);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (hec) {
      spdlog::debug("identity: TLS handshake failed: {}", hec.message());
      co_return;
    }
    beast::flat_buffer buffer;
    for (int served = 0; served < max_requests_per_connection && !stopping; ++served) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(max_header_bytes);
      parser.body_limit(max_body_bytes);
      beast::get_lowest_layer(stream).expires_after(deadline);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (stopping) co_return;
      if (ec) {
        std::optional<unsigned> status;
        if (ec == http::error::header_limit || ec == http::error::body_limit ||
            ec == http::error::buffer_overflow)
          status = 413;
        else if (ec != http::error::end_of_stream && ec != http::error::partial_message &&
                 ec.category() == make_error_code(http::error::bad_target).category())
          status = 400;
        if (status) {
          detail::http_out out;
          out.status = *status;
          out.content_type = "application/json";
          out.body = *status == 413
                         ? R"({"error":"invalid_request","error_description":"request too large"})"
                         : R"({"error":"invalid_request","error_description":"malformed request"})";
          auto res = to_response(std::move(out), 11, false);
          beast::get_lowest_layer(stream).expires_after(deadline);
          co_await http::async_write(stream, res, use_tuple);
        }
        break;
      }
      auto& req = parser.get();
      auto out = auth.handle(to_input(req));
      const bool keep = req.keep_alive();
      auto res = to_response(std::move(out), req.version(), keep);
      beast::get_lowest_layer(stream).expires_after(deadline);
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec || !keep) break;
    }
    if (stopping) co_return;
    // A TLS close_notify, within the deadline; a client that has gone is no matter
    // (stream_truncated is expected from clients that just close).
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(use_tuple);
  }
};

identity_server::identity_server(identity_options options)
    : impl_(std::make_shared<impl>(std::move(options))) {}

identity_server::~identity_server() {
  stop();
}

result<std::uint16_t> identity_server::start(asio::io_context& io, std::uint16_t port) {
  if (impl_->acceptor)
    return make_failure(errc::invalid_argument, "the identity platform runs already");
  if (auto ok = impl_->configure_tls(); !ok) return ok.error();
  impl_->strand.emplace(asio::make_strand(io));
  tcp::acceptor a(*impl_->strand);
  boost::system::error_code ec;
  const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), port);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_failure(errc::connect_failed,
                        "the identity platform cannot listen on 127.0.0.1 port " +
                            std::to_string(port) + ": " + ec.message());
  const auto bound = a.local_endpoint().port();
  impl_->port = bound;
  impl_->acceptor.emplace(std::move(a));
  impl_->auth.set_origin("https://127.0.0.1:" + std::to_string(bound));
  asio::co_spawn(*impl_->strand, impl_->accept_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("identity: the listener failed: {}", ex.what());
    }
  });
  spdlog::debug("identity: listening on https://127.0.0.1:{}", bound);
  return bound;
}

void identity_server::stop() {
  if (!impl_ || !impl_->strand) return;
  // Everything the connections share lives on the strand; the coroutines hold the impl alive
  // until they have seen the close.
  asio::dispatch(*impl_->strand, [self = impl_] { self->close_all(); });
}

std::uint16_t identity_server::port() const noexcept {
  return impl_->port;
}

identity_endpoints identity_server::endpoints() const {
  return impl_->auth.endpoints();
}

const directory& identity_server::dir() const noexcept {
  return impl_->auth.options().dir;
}

result<void> identity_server::approve_device_code(std::string_view user_code,
                                                  std::string_view username) {
  return impl_->auth.approve_device_code(user_code, username);
}

result<secret> identity_server::mint_access_token(const mint_request& request) const {
  return impl_->auth.mint_access_token(request);
}

}  // namespace mailoauth::sandbox
