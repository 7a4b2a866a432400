// HTTP/1.1 on server_connection: Beast's parser fed with what read_some() returns (parsing apart
// from I/O, as Beast itself is built), so that every read has the connection's deadline and the
// whole request the request deadline; responses serialized once and written in one write.
#include "net/http_server.hpp"

#include <mailoauth/secret.hpp>

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>

#include <algorithm>
#include <optional>

namespace mailoauth::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

using request_parser = http::request_parser<http::string_body, http_server::wiping_allocator<char>>;
// What arrived and is not parsed yet (the next pipelined request, say): wiped when freed, as it
// holds request bodies too.
using input_buffer = beast::basic_flat_buffer<http_server::wiping_allocator<char>>;

// The most read at once; the buffer's own bound is the request limits.
constexpr std::size_t read_chunk = 16 * 1024;

/// Why a request could not be read: the parser's error, or the connection's.
struct read_error {
  beast::error_code http;
  std::error_code io;
  explicit operator bool() const noexcept { return http || io; }
  [[nodiscard]] std::string message() const { return http ? http.message() : io.message(); }
};

/// Feeds the parser until it has the header (`header_only`) or the whole message.
asio::awaitable<read_error> read_message(server_connection& conn, input_buffer& buffer,
                                         request_parser& parser, bool header_only,
                                         clock_type::time_point deadline) {
  for (;;) {
    if (header_only ? parser.is_header_done() : parser.is_done()) co_return read_error{};
    if (buffer.size() > 0) {
      beast::error_code ec;
      const auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec && ec != http::error::need_more) co_return read_error{ec, {}};
      if (!ec && used > 0) continue;
    }
    if (buffer.size() >= buffer.max_size()) co_return read_error{http::error::buffer_overflow, {}};
    const auto left = std::chrono::ceil<milliseconds>(deadline - clock_type::now());
    if (left <= milliseconds(0)) co_return read_error{{}, make_error_code(errc::timeout)};
    const auto space = buffer.prepare(std::min(read_chunk, buffer.max_size() - buffer.size()));
    const auto got =
        co_await conn.read_some(std::span(static_cast<char*>(space.data()), space.size()), left);
    if (got.ec == make_error_code(errc::connection_closed)) {
      if (!parser.got_some()) co_return read_error{http::error::end_of_stream, {}};
      beast::error_code ec;
      parser.put_eof(ec);
      if (ec) co_return read_error{ec, {}};
      continue;
    }
    if (got.ec) co_return read_error{{}, got.ec};
    buffer.commit(got.bytes);
  }
}

/// The status that answers a request that could not be read, if any: none when the client
/// went away or the deadline passed, as nobody is there to read it.
std::optional<http::status> status_for(const read_error& e) {
  const auto& ec = e.http;
  if (!ec) return std::nullopt;
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return http::status::request_header_fields_too_large;
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  if (ec != http::error::end_of_stream && ec != http::error::partial_message)
    return http::status::bad_request;
  return std::nullopt;
}

http_server::response default_error_page(http::status status) {
  http_server::response res{status, 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  const auto reason = http::obsolete_reason(status);
  res.body().assign(reason.data(), reason.size()).append("\n");
  return res;
}

/// The response's octets, in one buffer that is wiped after the write (token responses).
std::string serialize(http_server::response& res) {
  // Reserved up front from the sizes of its parts, so that growing never leaves a copy of the
  // body behind unwiped.
  std::size_t size = 64 + res.reason().size() + res.body().size();
  for (const auto& f : res) size += f.name_string().size() + f.value().size() + 4;
  std::string out;
  out.reserve(size);
  http::response_serializer<http::string_body> sr{res};
  beast::error_code ec;
  do {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
  } while (!ec && !sr.is_done());
  return out;
}

asio::awaitable<std::error_code> send(server_connection& conn, http_server::response& res) {
  std::string octets = serialize(res);
  wipe(res.body());
  const auto ec = co_await conn.write(octets);
  wipe(octets);
  co_return ec;
}

asio::awaitable<void> serve_connection(server_connection& conn, const http_server::handler& handle,
                                       const http_server_options& o,
                                       const http_server::error_page& errors) {
  input_buffer buffer(o.max_header_bytes + o.max_body_bytes + read_chunk);
  for (int served = 0; served < o.max_requests_per_connection; ++served) {
    request_parser parser;
    parser.header_limit(o.max_header_bytes);
    parser.body_limit(o.max_body_bytes);
    parser.eager(true);
    const auto deadline = clock_type::now() + o.request_timeout;
    auto ec = co_await read_message(conn, buffer, parser, true, deadline);
    if (!ec && !parser.is_done() &&
        beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // curl and others wait for this before they send a large body (RFC 9110 section 10.1.1).
      ec.io = co_await conn.write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (!ec) ec = co_await read_message(conn, buffer, parser, false, deadline);
    if (ec) {
      const auto status = status_for(ec);
      spdlog::debug("{}: connection {}: request not read: {}", conn.listener(), conn.id(),
                    ec.message());
      if (!status) co_return;
      auto res = errors ? errors(*status) : default_error_page(*status);
      res.keep_alive(false);
      res.prepare_payload();
      co_await send(conn, res);
      co_return;  // tcp_server finishes the connection gracefully
    }

    auto& req = parser.get();
    http_server::reply r = handle(req);
    wipe(req.body());
    const bool keep =
        req.keep_alive() && r.res.keep_alive() && served + 1 < o.max_requests_per_connection;
    r.res.keep_alive(keep);
    r.res.prepare_payload();
    const auto wec = co_await send(conn, r.res);
    if (!keep || wec) {
      co_await conn.finish();
      if (r.then) r.then();
      co_return;
    }
    if (r.then) r.then();
  }
}

}  // namespace

http_server::http_server(asio::io_context& io, tcp_server_options tcp, http_server_options http)
    : tcp_(io, tcp), options_(http) {}

result<void> http_server::set_tls(std::string_view cert_chain_pem, std::string_view key_pem) {
  return tcp_.set_tls(cert_chain_pem, key_pem);
}

result<std::uint16_t> http_server::listen(const listener_options& where, handler h,
                                          error_page errors) {
  return tcp_.listen(where, serve(std::move(h), options_, std::move(errors)));
}

connection_handler http_server::serve(handler h, http_server_options options, error_page errors) {
  return [h = std::move(h), options,
          errors = std::move(errors)](server_connection& conn) -> asio::awaitable<void> {
    return serve_connection(conn, h, options, errors);
  };
}

}  // namespace mailoauth::net
