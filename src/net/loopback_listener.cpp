// The loopback redirect listener (RFC 8252 section 7.3): a small HTTP/1.1 server on Beast that
// waits for the browser to come back from the authorization server.
#include "net/loopback_listener.hpp"

#include "common/web_form.hpp"

#include <mailoauth/sasl.hpp>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <exception>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace mailoauth::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using std::chrono::milliseconds;
// Wiped on every path: the first sign-in response handed back, a second one that lost the race,
// one that did not parse completely.
using params = mailoauth::detail::secret_fields;
// The request's target (the query) and body (the fragment page's POST) carry the code or the
// tokens, and so does the read buffer: all of them allocate through the wiping allocator, which
// wipes every block it frees.
using wiping_allocator = mailoauth::detail::wiping_allocator<char>;
using wiping_body = http::basic_string_body<char, std::char_traits<char>, wiping_allocator>;
using request = http::request<wiping_body, http::basic_fields<wiping_allocator>>;
using request_parser = http::request_parser<wiping_body, wiping_allocator>;
using read_buffer = beast::basic_flat_buffer<wiping_allocator>;
using response = http::response<http::string_body>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A browser's redirect is well under these; anything larger is not one, and a local process
// must not make us buffer without bound.
constexpr std::uint32_t max_header_bytes = 16 * 1024;
constexpr std::uint64_t max_body_bytes = 64 * 1024;
// Each read and write; browsers keep idle connections open (preconnects), which must not hold
// the listener up.
constexpr auto io_deadline = std::chrono::seconds(10);
constexpr std::size_t max_connections = 32;

constexpr std::string_view done_text =
    "Signed in. You can close this tab and return to the terminal.";

// ---- text ----------------------------------------------------------------------------------

using detail::html_escape;

/// Parses the redirect's query or the fragment page's POST body (common/web_form.hpp).
result<params> parse_form(std::string_view s) {
  params out;
  if (const auto problem = detail::parse_form(s, out)) {
    return make_failure(errc::malformed_response,
                        problem->repeated
                            ? "the sign-in redirect repeats the parameter " + problem->name
                            : std::string("the sign-in redirect has a broken %-escape"));
  }
  return out;
}

std::string names_of(const params& p) {
  std::string out;
  for (const auto& kv : p) out += (out.empty() ? "" : ", ") + kv.first;
  return out.empty() ? "no parameters" : out;
}

std::string page(std::string_view body) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\"><title>mailoauth</title><style>"
      "body{font-family:system-ui,sans-serif;margin:4em auto;max-width:36em;padding:0 1em;"
      "line-height:1.5}</style></head><body>";
  out += body;
  out += "</body></html>\n";
  return out;
}

// The implicit grant returns the token in the fragment, which browsers never send to a
// server. This script sends it back: POST of the fragment (already form-encoded by the
// authorization server) to the same path. It removes the fragment from the address bar and
// history first, so the token does not linger there.
constexpr std::string_view fragment_script =
    "(function(){var m=document.getElementById('m');var h=location.hash.substring(1);"
    "history.replaceState(null,'',location.pathname);"
    "if(!h){m.textContent='This page expects a sign-in response and got none.';return;}"
    "fetch(location.pathname,{method:'POST',headers:{'Content-Type':"
    "'application/x-www-form-urlencoded'},body:h})"
    ".then(function(r){return r.text();})"
    ".then(function(t){m.textContent=t;},"
    "function(){m.textContent='mailoauth could not be reached; return to the terminal.';});"
    "})();";

/// The script's SHA-256, so that the page's Content-Security-Policy allows exactly it.
std::string script_hash() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  EVP_Digest(fragment_script.data(), fragment_script.size(), md.data(), &md_len, EVP_sha256(),
             nullptr);
  return sasl::base64_encode(std::string_view(reinterpret_cast<const char*>(md.data()), md_len));
}

// Nothing but what each page needs: no frames, no forms, no outside resources.
constexpr std::string_view base_policy =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

response make_response(http::status status, std::string body, std::string_view type,
                       std::string_view policy = base_policy) {
  response res{status, 11};
  res.set(http::field::server, "mailoauth");
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy", policy);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response html_response(http::status status, std::string_view body_html) {
  return make_response(status, page(body_html), "text/html; charset=utf-8");
}

response simple_error(http::status status, std::string_view text) {
  return html_response(status, "<p>" + html_escape(text) + "</p>");
}

std::string outcome_html(const params& p) {
  const auto error = p.find("error");
  if (error == p.end()) return "<p>" + std::string(done_text) + "</p>";
  std::string html = "<p>Sign-in failed: " + html_escape(error->second) + "</p>";
  if (const auto d = p.find("error_description"); d != p.end()) {
    html += "<p>" + html_escape(d->second.substr(0, 1000)) + "</p>";
  }
  return html + "<p>Return to the terminal for details.</p>";
}

std::string outcome_text(const params& p) {
  const auto error = p.find("error");
  return error == p.end() ? std::string(done_text) : "Sign-in failed: " + error->second;
}

}  // namespace

// ---- the listener --------------------------------------------------------------------------

struct loopback_listener::impl {
  asio::io_context io{1};
  std::vector<tcp::acceptor> acceptors;
  std::uint16_t port = 0;
};

namespace {

/// One wait(): accepts connections on every acceptor, serves them concurrently (a browser may
/// open several and send the redirect on any), and stops at the first sign-in response.
class waiter {
 public:
  waiter(asio::io_context& io, std::vector<tcp::acceptor>& acceptors, std::uint16_t port,
         std::string path, bool fragment_page)
      : io_(io),
        acceptors_(acceptors),
        port_(port),
        path_(std::move(path)),
        fragment_page_(fragment_page),
        timer_(io) {}

  result<params> run(milliseconds timeout) {
    const auto on_exit = [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("loopback listener: internal error: {}", ex.what());
        if (!outcome_) {
          outcome_ = make_failure(errc::connect_failed,
                                  std::string("the loopback listener failed: ") + ex.what());
        }
      }
      finish();
    };
    io_.restart();  // after an earlier wait() ran out of work
    for (auto& a : acceptors_) asio::co_spawn(io_, accept_loop(a), on_exit);
    asio::co_spawn(io_, watchdog(timeout), on_exit);
    io_.run();
    if (outcome_) return std::move(*outcome_);
    const auto within = timeout.count() % 1000 == 0 ? std::to_string(timeout.count() / 1000) + " s"
                                                    : std::to_string(timeout.count()) + " ms";
    return make_failure(errc::timeout,
                        "no sign-in response reached the loopback listener within " + within +
                            "; sign in again, and complete it in the browser in time");
  }

 private:
  struct reply {
    response res;
    bool final = false;
  };

  void finish() {
    if (done_) return;
    done_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    for (auto& a : acceptors_) a.cancel(ignored);  // kept open for another wait()
    for (auto* s : live_) s->socket().close(ignored);
  }

  asio::awaitable<void> watchdog(milliseconds timeout) {
    timer_.expires_after(timeout);
    auto [ec] = co_await timer_.async_wait(use_tuple);
    // A response being written when time runs out still counts; its write has a deadline.
    if (!ec && !outcome_) finish();
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    while (!done_) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (done_ || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors and the like: log, breathe, go on (the browser will retry).
        spdlog::debug("loopback: accept failed: {}", ec.message());
        asio::steady_timer pause(io_, milliseconds(50));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      if (live_.size() >= max_connections) continue;  // the socket closes as it goes
      asio::co_spawn(io_, serve(std::move(socket)), [this](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::debug("loopback: connection failed: {}", ex.what());
          }
        }
      });
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    live_.insert(&stream);
    struct unregister {
      std::set<beast::tcp_stream*>& live;
      beast::tcp_stream* s;
      ~unregister() { live.erase(s); }
    } guard{live_, &stream};

    read_buffer buffer(max_header_bytes + max_body_bytes);
    for (;;) {
      request_parser parser;
      parser.header_limit(max_header_bytes);
      parser.body_limit(max_body_bytes);
      stream.expires_after(io_deadline);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      if (done_) co_return;
      if (!ec && parser.get()[http::field::expect] == "100-continue" && !parser.is_done()) {
        // curl and others wait for this before sending a large body.
        static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(go_on), use_tuple);
      }
      if (!ec && !parser.is_done()) {
        std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
      }
      if (done_) co_return;
      if (ec) {
        co_await refuse(stream, ec);
        co_return;
      }

      const request& req = parser.get();
      reply r = handle(req);
      r.res.keep_alive(req.keep_alive() && !r.final);
      stream.expires_after(io_deadline);
      auto [wec, wn] = co_await http::async_write(stream, r.res, use_tuple);
      if (r.final) {
        co_await close_gracefully(stream);
        finish();
        co_return;
      }
      if (done_ || wec || !r.res.keep_alive()) co_return;
    }
  }

  /// Answers a request that could not be read (too large, malformed) and closes.
  asio::awaitable<void> refuse(beast::tcp_stream& stream, const boost::system::error_code& ec) {
    std::optional<response> res;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      res = simple_error(http::status::request_header_fields_too_large, "Request too large.");
    } else if (ec == http::error::body_limit) {
      res = simple_error(http::status::payload_too_large, "Request too large.");
    } else if (ec.category() == make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      res = simple_error(http::status::bad_request, "Malformed request.");
    }
    spdlog::debug("loopback: request not read: {}", ec.message());
    if (!res) co_return;  // closed, timed out, reset: nobody to answer
    res->keep_alive(false);
    stream.expires_after(io_deadline);
    co_await http::async_write(stream, *res, use_tuple);
    co_await close_gracefully(stream);
  }

  /// Half-closes and drains what the client still sends for a moment, so that closing does not
  /// reset the connection before the client has read our response (RFC 9112 section 9.6).
  asio::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(1));
    std::array<char, 4096> scratch;
    std::size_t drained = 0;
    while (drained < 256 * 1024) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), use_tuple);
      if (ec) break;
      drained += n;
    }
    stream.socket().close(ignored);
  }

  bool origin_allowed(const request& req) const {
    const auto origin = req[http::field::origin];
    if (origin.empty()) return true;  // not a browser's cross-origin request
    const std::string port = ":" + std::to_string(port_);
    for (const char* host : {"http://127.0.0.1", "http://localhost", "http://[::1]"}) {
      if (origin == std::string(host) + port) return true;
    }
    return false;
  }

  reply handle(const request& req) {
    const std::string_view target = req.target();
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    const auto method = req.method_string();

    // Logged: the method, the path and parameter names; never a query or body, which hold the
    // authorization code or the tokens.
    if (path != path_) {
      spdlog::debug("loopback: {} {} -> 404", std::string_view(method), path);
      return {simple_error(http::status::not_found, "Not found."), false};
    }

    if (req.method() == http::verb::get && !query.empty()) {
      auto p = parse_form(query);
      return conclude(std::string_view(method), std::move(p), false);
    }
    if (req.method() == http::verb::get && fragment_page_) {
      spdlog::debug("loopback: GET {} -> fragment page", path);
      static const std::string policy = std::string(base_policy) + "; script-src 'sha256-" +
                                        script_hash() + "'; connect-src 'self'";
      const std::string html =
          "<p id=\"m\">Completing the sign-in...</p><noscript><p>This step needs JavaScript: "
          "the sign-in response is in this page's address, after the '#'.</p></noscript>"
          "<script>" +
          std::string(fragment_script) + "</script>";
      return {make_response(http::status::ok, page(html), "text/html; charset=utf-8", policy),
              false};
    }
    if (req.method() == http::verb::get) {
      spdlog::debug("loopback: GET {} without parameters -> 400", path);
      return {simple_error(http::status::bad_request,
                           "This address expects the response of a sign-in, which was not in "
                           "this request."),
              false};
    }
    if (req.method() == http::verb::post && fragment_page_) {
      if (!origin_allowed(req)) {
        spdlog::debug("loopback: POST {} from another origin -> 403", path);
        return {simple_error(http::status::forbidden, "Forbidden."), false};
      }
      const auto type = req[http::field::content_type];
      if (!type.empty() && !type.starts_with("application/x-www-form-urlencoded")) {
        return {simple_error(http::status::unsupported_media_type, "Unsupported media type."),
                false};
      }
      auto p = parse_form(req.body());
      if (p && p->empty()) {
        return {simple_error(http::status::bad_request, "No sign-in response."), false};
      }
      return conclude(std::string_view(method), std::move(p), true);
    }
    spdlog::debug("loopback: {} {} -> 405", std::string_view(method), path);
    auto res = simple_error(http::status::method_not_allowed, "Method not allowed.");
    res.set(http::field::allow, fragment_page_ ? "GET, POST" : "GET");
    return {std::move(res), false};
  }

  /// The sign-in response arrived: answers the browser and records the outcome (the first one
  /// wins if two connections race).
  reply conclude(std::string_view method, result<params> p, bool plain_text) {
    reply r;
    r.final = true;
    if (!p) {
      spdlog::debug("loopback: {} {} -> malformed sign-in response", method, path_);
      r.res = simple_error(http::status::bad_request,
                           "Sign-in failed: the response was malformed. Return to the terminal.");
    } else {
      spdlog::debug("loopback: {} {} with {}", method, path_, names_of(*p));
      r.res = plain_text
                  ? make_response(http::status::ok, outcome_text(*p), "text/plain; charset=utf-8")
                  : html_response(http::status::ok, outcome_html(*p));
    }
    if (!outcome_) outcome_ = std::move(p);
    return r;
  }

  asio::io_context& io_;
  std::vector<tcp::acceptor>& acceptors_;
  std::uint16_t port_;
  std::string path_;
  bool fragment_page_;
  asio::steady_timer timer_;
  std::optional<result<params>> outcome_;
  bool done_ = false;
  std::set<beast::tcp_stream*> live_;
};

result<tcp::acceptor> listen_on(asio::io_context& io, const tcp::endpoint& ep) {
  tcp::acceptor a(io);
  boost::system::error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  // Lets a new sign-in reuse a fixed port while the last one's connections are in TIME_WAIT;
  // on Linux it never lets two listeners share the port.
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return failure{ec,
                   "cannot listen on " + ep.address().to_string() + " port " +
                       std::to_string(ep.port()) + ": " + ec.message(),
                   {}};
  }
  return a;
}

}  // namespace

result<loopback_listener> loopback_listener::open(std::uint16_t port, bool dual_stack) {
  auto p = std::make_unique<impl>();
  const auto v4 = asio::ip::make_address_v4("127.0.0.1");
  const auto v6 = asio::ip::address_v6::loopback();

  // With port 0 the system picks the IPv4 port, which may be taken on ::1: try a few.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto a4 = listen_on(p->io, {v4, port});
    if (!a4) {
      auto f = a4.error();
      f.code = make_error_code(errc::connect_failed);
      return f;
    }
    const std::uint16_t bound = a4->local_endpoint().port();
    p->acceptors.clear();
    p->acceptors.push_back(std::move(*a4));
    p->port = bound;
    if (!dual_stack) break;

    auto a6 = listen_on(p->io, {v6, bound});
    if (a6) {
      p->acceptors.push_back(std::move(*a6));
      break;
    }
    const auto why = a6.error().code;
    if (why == std::errc::address_in_use) {
      if (port == 0) continue;
      // Someone else holds [::1]:port, and browsers try ::1 first for "localhost": they would
      // hand the authorization code to that program.
      return make_failure(errc::connect_failed, a6.error().message +
                                                    "; another program uses this port, choose "
                                                    "another one");
    }
    // No IPv6 on this machine (disabled, or no ::1): browsers then use 127.0.0.1 too.
    spdlog::debug("loopback: no IPv6 listener ({}), IPv4 only", a6.error().message);
    break;
  }
  spdlog::debug("loopback: listening on port {} ({})", p->port,
                p->acceptors.size() > 1 ? "127.0.0.1 and ::1" : "127.0.0.1");
  return loopback_listener(std::move(p));
}

loopback_listener::loopback_listener(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
loopback_listener::loopback_listener(loopback_listener&&) noexcept = default;
loopback_listener& loopback_listener::operator=(loopback_listener&&) noexcept = default;
loopback_listener::~loopback_listener() = default;

std::uint16_t loopback_listener::port() const noexcept {
  return impl_ ? impl_->port : 0;
}

result<mailoauth::detail::secret_fields> loopback_listener::wait(
    const std::string& path, bool fragment_page, std::chrono::milliseconds timeout) {
  if (!impl_) return make_failure(errc::invalid_argument, "the loopback listener was moved from");
  waiter w(impl_->io, impl_->acceptors, impl_->port, path, fragment_page);
  return w.run(timeout);
}

}  // namespace mailoauth::net
