// The loopback redirect listener (RFC 8252 section 7.3): a small HTTP/1.1 server (net's
// http_server) that waits for the browser to come back from the authorization server.
#include "net/loopback_listener.hpp"

#include "common/web_form.hpp"
#include "net/http_server.hpp"

#include <mailoauth/sasl.hpp>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <exception>
#include <optional>
#include <utility>

namespace mailoauth::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using std::chrono::milliseconds;
// Wiped on every path: the first sign-in response handed back, a second one that lost the race,
// one that did not parse completely.
using params = mailoauth::detail::secret_fields;
// http_server's requests keep their target, headers and body in memory that is wiped when freed.
using request = http_server::request;
using response = http_server::response;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A browser's redirect is well under these; anything larger is not one, and a local process
// must not make us buffer without bound.
constexpr std::uint32_t max_header_bytes = 16 * 1024;
constexpr std::uint64_t max_body_bytes = 64 * 1024;
// Each read and write, and each whole request; browsers keep idle connections open
// (preconnects), which must not hold the listener up.
constexpr auto io_deadline = std::chrono::seconds(10);
// How long the browser gets to take the last page before its connection closes.
constexpr auto finish_deadline = std::chrono::seconds(1);
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

namespace {
class waiter;
}  // namespace

struct loopback_listener::impl {
  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() { drop_server(); }

  /// A fresh server on `io`, the last one closed first.
  http_server& new_server() {
    drop_server();
    tcp_server_options tcp;
    tcp.max_connections = max_connections;
    tcp.io_timeout = io_deadline;
    tcp.finish_timeout = finish_deadline;
    http_server_options h;
    h.max_header_bytes = max_header_bytes;
    h.max_body_bytes = max_body_bytes;
    h.request_timeout = io_deadline;
    return server.emplace(io, tcp, h);
  }

  /// Stops the server and lets its coroutines end here, before the io_context goes: it runs
  /// only inside wait().
  void drop_server() {
    if (!server) return;
    server->stop();
    io.restart();
    io.run();
    server.reset();
  }

  asio::io_context io{1};
  std::optional<http_server> server;
  std::uint16_t port = 0;
  /// The wait() in progress, which answers the requests; none between two.
  waiter* current = nullptr;
};

namespace {

/// One wait(): serves the connections of every listener concurrently (a browser may open
/// several and send the redirect on any), and stops at the first sign-in response.
class waiter {
 public:
  waiter(asio::io_context& io, http_server& server, std::uint16_t port, std::string path,
         bool fragment_page)
      : io_(io),
        server_(server),
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
    server_.start();
    asio::co_spawn(io_, watchdog(timeout), on_exit);
    // Returns once finish() has paused the server and its connections have ended.
    io_.run();
    if (outcome_) return std::move(*outcome_);
    const auto within = timeout.count() % 1000 == 0 ? std::to_string(timeout.count() / 1000) + " s"
                                                    : std::to_string(timeout.count()) + " ms";
    return make_failure(errc::timeout,
                        "no sign-in response reached the loopback listener within " + within +
                            "; sign in again, and complete it in the browser in time");
  }

  /// A request of the browser's; after the sign-in response, waiting ends once the browser
  /// has its page (the connection closed gracefully).
  http_server::reply respond(const request& req) {
    reply r = handle(req);
    http_server::reply out(std::move(r.res));
    if (r.final) {
      out.res.keep_alive(false);
      out.then = [this] { finish(); };
    }
    return out;
  }

 private:
  struct reply {
    response res;
    bool final = false;
  };

  /// Stops accepting and closes every connection; the listeners stay for another wait().
  void finish() {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    server_.pause();
  }

  asio::awaitable<void> watchdog(milliseconds timeout) {
    timer_.expires_after(timeout);
    auto [ec] = co_await timer_.async_wait(use_tuple);
    // A response being written when time runs out still counts; its write has a deadline.
    if (!ec && !outcome_) finish();
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
  http_server& server_;
  std::uint16_t port_;
  std::string path_;
  bool fragment_page_;
  asio::steady_timer timer_;
  std::optional<result<params>> outcome_;
  bool done_ = false;
};

response error_page(http::status status) {
  return simple_error(
      status, status == http::status::bad_request ? "Malformed request." : "Request too large.");
}

}  // namespace

result<loopback_listener> loopback_listener::open(std::uint16_t port, bool dual_stack) {
  auto p = std::make_unique<impl>();
  const auto handler = [owner = p.get()](const request& req) -> http_server::reply {
    if (owner->current) return owner->current->respond(req);
    // Between two waits, or closing: nobody to hand a sign-in response to.
    auto res = simple_error(http::status::service_unavailable, "Not waiting for a sign-in.");
    res.keep_alive(false);
    return res;
  };

  // With port 0 the system picks the IPv4 port, which may be taken on ::1: try a few.
  std::size_t listeners = 0;
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto& server = p->new_server();
    auto a4 = server.listen({"127.0.0.1", port, false, "loopback"}, handler, error_page);
    if (!a4) {
      auto f = a4.error();
      f.code = make_error_code(errc::connect_failed);
      return f;
    }
    p->port = *a4;
    listeners = 1;
    if (!dual_stack) break;

    auto a6 = server.listen({"::1", *a4, false, "loopback"}, handler, error_page);
    if (a6) {
      listeners = 2;
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
                listeners > 1 ? "127.0.0.1 and ::1" : "127.0.0.1");
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
  waiter w(impl_->io, *impl_->server, impl_->port, path, fragment_page);
  impl_->current = &w;
  auto got = w.run(timeout);
  impl_->current = nullptr;
  return got;
}

}  // namespace mailoauth::net
