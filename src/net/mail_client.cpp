// The one Asio driver: turns a client session's actions into socket and TLS operations, each
// under a deadline, and reports each one's result back to the session, which decides what a
// failure means (the driver decides only the steps before the session: resolve, connect).
#include <mailoauth/client.hpp>

#include "net/tls.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace mailoauth::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool is_loopback(const tcp::endpoint& ep) {
  const auto a = ep.address();
  if (a.is_v4()) return a.to_v4().is_loopback();
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

std::string to_string(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

class connection {
 public:
  connection(const connect_options& where, protocol::session_options session,
             std::function<void(const protocol::transcript_line&)> transcript)
      : where_(where),
        security_(session.security),
        session_(std::move(session)),
        ctx_(asio::ssl::context::tls_client),
        resolver_(io_),
        stream_(io_, ctx_),
        deadline_(io_) {
    if (transcript) session_.on_transcript(std::move(transcript));
  }

  check_result run() {
    std::exception_ptr failure;
    asio::co_spawn(io_, main(), [&](std::exception_ptr e) { failure = e; });
    asio::co_spawn(io_, watchdog(), [](std::exception_ptr) {});
    io_.run();
    if (failure) {
      // Nothing below throws by design; if something does, report it rather than crash.
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        set_error(errc::connect_failed, std::string("internal error: ") + e.what());
      }
    }
    return result_;
  }

 private:
  asio::awaitable<void> main() {
    co_await drive();
    finished_ = true;
    deadline_.cancel();
    boost::system::error_code ignored;
    stream_.lowest_layer().close(ignored);
  }

  asio::awaitable<void> drive() {
    if (auto problem = detail::configure_client_context(ctx_, where_.cafile); !problem.empty()) {
      set_error(errc::invalid_argument, problem);
      co_return;
    }

    arm();
    spdlog::debug("resolving {}", where_.host);
    auto [rec, endpoints] =
        co_await resolver_.async_resolve(where_.host, std::to_string(where_.port), use_tuple);
    if (rec) {
      set_io_error(errc::resolve_failed, "cannot resolve " + where_.host + ": " + rec.message());
      co_return;
    }
    if (security_ == protocol::transport_security::none) {
      for (const auto& e : endpoints) {
        if (!is_loopback(e.endpoint())) {
          set_error(errc::plaintext_refused,
                    "refusing to send a token in plaintext to " + where_.host +
                        ", which is not a loopback address; use TLS (imaps://, pop3s://, smtps://, "
                        "or STARTTLS)");
          co_return;
        }
      }
    }

    arm();
    auto [cec, ep] = co_await asio::async_connect(stream_.next_layer(), endpoints, use_tuple);
    if (cec) {
      set_io_error(errc::connect_failed, "cannot connect to " + where_.host + " port " +
                                             std::to_string(where_.port) + ": " + cec.message());
      co_return;
    }
    result_.connection.peer = to_string(ep);
    spdlog::debug("connected to {}", result_.connection.peer);
    boost::system::error_code nodelay_ec;
    stream_.next_layer().set_option(tcp::no_delay(true), nodelay_ec);

    using event = protocol::client_session::event;
    auto action = session_.start();
    std::array<char, 16 * 1024> buffer;
    for (;;) {
      switch (action.type) {
        case protocol::next_action::kind::read: {
          arm();
          boost::system::error_code ec;
          std::size_t n = 0;
          if (tls_) {
            std::tie(ec, n) = co_await stream_.async_read_some(asio::buffer(buffer), use_tuple);
          } else {
            std::tie(ec, n) =
                co_await stream_.next_layer().async_read_some(asio::buffer(buffer), use_tuple);
          }
          if (n > 0)
            action = session_.resume(event::data, {}, std::string_view(buffer.data(), n));
          else if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
            action = session_.resume(event::eof);
          else
            action = report(event::data, ec);
          break;
        }
        case protocol::next_action::kind::write: {
          arm();
          boost::system::error_code ec;
          if (tls_) {
            std::tie(ec, std::ignore) =
                co_await asio::async_write(stream_, asio::buffer(action.data), use_tuple);
          } else {
            std::tie(ec, std::ignore) = co_await asio::async_write(
                stream_.next_layer(), asio::buffer(action.data), use_tuple);
          }
          action = ec ? report(event::written, ec) : session_.resume(event::written);
          break;
        }
        case protocol::next_action::kind::start_tls:
          action = co_await handshake();
          break;
        case protocol::next_action::kind::done:
          result_.outcome = session_.outcome();
          co_return;
      }
    }
  }

  // A step that failed, told to the session, which decides what it means: a deadline (the
  // watchdog closed the socket) becomes a timeout with the limit as its detail.
  protocol::next_action report(protocol::client_session::event ev, boost::system::error_code ec,
                               std::string detail = {}) {
    if (timed_out_) {
      const auto secs = std::chrono::duration<double>(where_.timeout).count();
      return session_.resume(ev, make_error_code(std::errc::timed_out),
                             "within " + fmt::format("{:g}", secs) + " s");
    }
    return session_.resume(ev, ec, detail);
  }

  asio::awaitable<protocol::next_action> handshake() {
    using event = protocol::client_session::event;
    detail::configure_peer_name(stream_, where_.host);
    arm();
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (ec) {
      bool certificate_problem = false;
      auto why = timed_out_ ? std::string()
                            : detail::describe_handshake_failure(stream_, ec, certificate_problem);
      co_return report(event::tls,
                       certificate_problem ? make_error_code(errc::certificate_verify_failed)
                                           : std::error_code(ec),
                       why + " (" + where_.host + ")");
    }
    tls_ = true;
    result_.connection.tls_version = detail::tls_version(stream_);
    result_.connection.tls_cipher = detail::tls_cipher(stream_);
    result_.connection.certificate_subject = detail::peer_subject(stream_);
    spdlog::debug("TLS established: {} {} certificate {}", result_.connection.tls_version,
                  result_.connection.tls_cipher, result_.connection.certificate_subject);
    co_return session_.resume(event::tls);
  }

  // One deadline for the current step; the watchdog closes the socket when it passes, which
  // makes the pending operation fail (the approach of Asio's timeouts examples).
  void arm() { deadline_.expires_after(where_.timeout); }

  asio::awaitable<void> watchdog() {
    while (!finished_) {
      if (deadline_.expiry() <= asio::steady_timer::clock_type::now()) {
        timed_out_ = true;
        boost::system::error_code ignored;
        resolver_.cancel();
        stream_.lowest_layer().close(ignored);
        co_return;
      }
      co_await deadline_.async_wait(use_tuple);
    }
  }

  void set_error(errc e, std::string why) {
    result_.outcome = session_.outcome();
    result_.outcome.verdict_accepted = false;
    result_.outcome.error = make_error_code(e);
    result_.outcome.diag.client_message = std::move(why);
  }

  // An I/O error, unless the watchdog caused it, in which case it is a timeout.
  void set_io_error(errc e, std::string why) {
    if (timed_out_) {
      const auto secs = std::chrono::duration<double>(where_.timeout).count();
      set_error(errc::timeout,
                "no answer from " + where_.host + " within " + fmt::format("{:g}", secs) + " s");
    } else {
      set_error(e, std::move(why));
    }
  }

  connect_options where_;
  protocol::transport_security security_;
  protocol::client_session session_;
  asio::io_context io_;
  asio::ssl::context ctx_;
  tcp::resolver resolver_;
  detail::tls_stream stream_;
  asio::steady_timer deadline_;
  bool tls_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
  check_result result_;
};

}  // namespace

check_result authenticate(const connect_options& where, protocol::session_options session,
                          std::function<void(const protocol::transcript_line&)> transcript) {
  connection c(where, std::move(session), std::move(transcript));
  return c.run();
}

}  // namespace mailoauth::net
