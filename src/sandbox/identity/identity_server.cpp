// The identity platform's HTTPS server: net::http_server (one accept loop and connection
// driver for every server of the project) with the sandbox's server certificate, bounded request
// sizes and connections, a deadline on every handshake, read and write. What a request means is
// authority.cpp's business.
#include "sandbox/identity/identity_server.hpp"

#include "net/http_server.hpp"
#include "sandbox/identity/authority.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>

namespace mailoauth::sandbox {

namespace http = boost::beast::http;

namespace {

// The largest legitimate request is an authorization request with a long state, or a token
// request with a refresh token: far below these.
constexpr std::uint32_t max_header_bytes = 32 * 1024;
constexpr std::uint64_t max_body_bytes = 64 * 1024;
constexpr int max_requests_per_connection = 1000;

detail::http_in to_input(const net::http_server::request& req) {
  const auto text = [](boost::beast::string_view v) { return std::string(v.data(), v.size()); };
  detail::http_in in;
  in.method = text(req.method_string());
  in.target = text(req.target());
  in.content_type = text(req[http::field::content_type]);
  in.authorization = text(req[http::field::authorization]);
  in.cookie = text(req[http::field::cookie]);
  in.client_request_id = text(req["client-request-id"]);
  in.body = req.body();
  return in;
}

net::http_server::response to_response(detail::http_out out, unsigned version) {
  net::http_server::response res{static_cast<http::status>(out.status), version};
  res.set(http::field::server, "mailoauth-sandbox");
  if (!out.content_type.empty()) res.set(http::field::content_type, out.content_type);
  // Codes travel in URLs: no page of ours sends them on as a Referer.
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Strict-Transport-Security", "max-age=31536000");
  for (auto& [k, v] : out.headers) res.insert(k, v);
  res.body() = std::move(out.body);
  return res;
}

/// Requests that cannot be read get the platform's JSON error shape, like any other error.
net::http_server::response error_page(http::status status) {
  detail::http_out out;
  out.status = static_cast<unsigned>(status);
  out.content_type = "application/json";
  out.body = status == http::status::bad_request
                 ? R"({"error":"invalid_request","error_description":"malformed request"})"
                 : R"({"error":"invalid_request","error_description":"request too large"})";
  return to_response(std::move(out), 11);
}

}  // namespace

struct identity_server::impl {
  explicit impl(identity_options o) : auth(std::move(o)) {}

  detail::authority auth;
  std::optional<net::http_server> http;
  std::atomic<std::uint16_t> port{0};
};

identity_server::identity_server(identity_options options)
    : impl_(std::make_shared<impl>(std::move(options))) {}

identity_server::~identity_server() {
  stop();
}

result<std::uint16_t> identity_server::start(boost::asio::io_context& io, std::uint16_t port) {
  if (impl_->http)
    return make_failure(errc::invalid_argument, "the identity platform runs already");
  const auto& o = impl_->auth.options();
  net::tcp_server_options tcp;
  tcp.max_connections = o.max_connections;
  tcp.io_timeout = o.io_timeout;
  net::http_server_options h;
  h.max_header_bytes = max_header_bytes;
  h.max_body_bytes = max_body_bytes;
  h.max_requests_per_connection = max_requests_per_connection;
  h.request_timeout = o.io_timeout;
  auto& server = impl_->http.emplace(io, tcp, h);
  if (auto ok = server.set_tls(o.keys.server_cert_pem, o.keys.server_key_pem); !ok) {
    impl_->http.reset();
    return make_failure(
        errc::tls_handshake_failed,
        "the identity platform cannot use the sandbox's server certificate: " + ok.error().message);
  }
  // The connections' coroutines may outlive this object (stop() lets them end as `io` runs):
  // they hold the platform only while they use it.
  std::weak_ptr<impl> weak = impl_;
  auto handler = [weak](const net::http_server::request& req) -> net::http_server::reply {
    const auto self = weak.lock();
    if (!self) {
      auto res = error_page(http::status::service_unavailable);
      res.keep_alive(false);
      return res;
    }
    return to_response(self->auth.handle(to_input(req)), req.version());
  };
  auto bound = server.listen({"127.0.0.1", port, true, "identity"}, handler, error_page);
  if (!bound) {
    impl_->http.reset();
    return make_failure(errc::connect_failed, "the identity platform " + bound.error().message);
  }
  impl_->port = *bound;
  impl_->auth.set_origin("https://127.0.0.1:" + std::to_string(*bound));
  server.start();
  spdlog::debug("identity: listening on https://127.0.0.1:{}", *bound);
  return *bound;
}

void identity_server::stop() {
  // Closes the listener and every connection, from any thread; the coroutines end as `io`
  // runs.
  if (impl_ && impl_->http) impl_->http->stop();
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
