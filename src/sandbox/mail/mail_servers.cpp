#include "sandbox/mail/mail_servers.hpp"

#include "sandbox/mail/sessions.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <map>
#include <mutex>

namespace mailoauth::sandbox {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::array all_listeners{mail_listener::imaps, mail_listener::imap,  mail_listener::pop3s,
                                   mail_listener::pop3,  mail_listener::smtps, mail_listener::smtp};

bool implicit_tls(mail_listener l) {
  return l == mail_listener::imaps || l == mail_listener::pop3s || l == mail_listener::smtps;
}

}  // namespace

const char* scheme(mail_listener l) noexcept {
  switch (l) {
    case mail_listener::imaps:
      return "imaps";
    case mail_listener::imap:
      return "imap";
    case mail_listener::pop3s:
      return "pop3s";
    case mail_listener::pop3:
      return "pop3";
    case mail_listener::smtps:
      return "smtps";
    case mail_listener::smtp:
      return "smtp";
  }
  return "?";
}

std::uint16_t mail_ports::get(mail_listener l) const noexcept {
  switch (l) {
    case mail_listener::imaps:
      return imaps;
    case mail_listener::imap:
      return imap;
    case mail_listener::pop3s:
      return pop3s;
    case mail_listener::pop3:
      return pop3;
    case mail_listener::smtps:
      return smtps;
    case mail_listener::smtp:
      return smtp;
  }
  return 0;
}

void mail_ports::set(mail_listener l, std::uint16_t port) noexcept {
  switch (l) {
    case mail_listener::imaps:
      imaps = port;
      break;
    case mail_listener::imap:
      imap = port;
      break;
    case mail_listener::pop3s:
      pop3s = port;
      break;
    case mail_listener::pop3:
      pop3 = port;
      break;
    case mail_listener::smtps:
      smtps = port;
      break;
    case mail_listener::smtp:
      smtp = port;
      break;
  }
}

mail_server_options make_mail_server_options(const pki& keys,
                                             const std::filesystem::path& state_dir) {
  mail_server_options o;
  o.server_cert_pem = keys.server_cert_pem;
  o.server_key_pem = keys.server_key_pem;
  o.token_public_pem = keys.token_key.public_pem;
  o.state_dir = state_dir;
  return o;
}

// Shared by the listeners and every session coroutine, which keep it alive until they end,
// whatever happens to the mail_servers object.
struct mail_servers::state : std::enable_shared_from_this<mail_servers::state> {
  explicit state(mail_server_options o)
      : options(std::move(o)),
        tls(asio::ssl::context::tls_server),
        store(options.state_dir / "mail"),
        context{options, store} {}

  mail_server_options options;
  asio::ssl::context tls;
  detail::mailbox_store store;
  detail::server_context context;
  mail_ports bound;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  asio::io_context* io = nullptr;

  std::mutex mutex;  // guards sessions and stopped
  std::map<std::uint64_t, std::weak_ptr<detail::connection>> sessions;
  bool stopped = false;
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::size_t> open{0};

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, mail_listener listener);
  asio::awaitable<void> session(std::shared_ptr<detail::connection> conn);
  asio::awaitable<void> serve(std::shared_ptr<detail::connection> conn);
};

asio::awaitable<void> mail_servers::state::accept_loop(tcp::acceptor& acceptor,
                                                       mail_listener listener) {
  auto self = shared_from_this();
  for (;;) {
    // Each connection gets a strand: its session and its watchdog never run at once, even
    // when the io_context runs on several threads.
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(*io), use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // Out of descriptors and the like: log, breathe, go on (as Asio's examples do).
      spdlog::warn("mail sandbox: {} accept failed: {}", scheme(listener), ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    const auto id = next_id++;
    auto conn = std::make_shared<detail::connection>(std::move(socket), tls, options, id, listener);
    {
      std::lock_guard lock(mutex);
      if (stopped) co_return;
      sessions.emplace(id, conn);
    }
    const auto executor = conn->stream_executor();
    asio::co_spawn(executor, session(conn), [self, id](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("mail sandbox: session {} ended with an internal error: {}", id, ex.what());
        }
      }
      std::lock_guard lock(self->mutex);
      self->sessions.erase(id);
    });
  }
}

asio::awaitable<void> mail_servers::state::serve(std::shared_ptr<detail::connection> conn) {
  if (open > options.max_connections) {
    // Over the limit: say so in the protocol's words and hang up.
    switch (conn->listener()) {
      case mail_listener::imaps:
      case mail_listener::imap:
        conn->send_line("* BYE Too many connections.");
        break;
      case mail_listener::pop3s:
      case mail_listener::pop3:
        conn->send_line("-ERR [SYS/TEMP] Too many connections.");
        break;
      default:
        conn->send_line("421 4.3.2 Too many connections, try again later");
    }
    bool secured = true;
    if (implicit_tls(conn->listener())) secured = co_await conn->handshake();
    if (secured) co_await conn->flush();
  } else {
    bool secured = true;
    if (implicit_tls(conn->listener())) secured = co_await conn->handshake();
    if (!secured) {
      co_await conn->finish();
      co_return;
    }
    switch (conn->listener()) {
      case mail_listener::imaps:
      case mail_listener::imap:
        co_await detail::run_imap_session(*conn, context);
        break;
      case mail_listener::pop3s:
      case mail_listener::pop3:
        co_await detail::run_pop3_session(*conn, context);
        break;
      case mail_listener::smtps:
      case mail_listener::smtp:
        co_await detail::run_smtp_session(*conn, context);
        break;
    }
  }
  co_await conn->finish();
}

asio::awaitable<void> mail_servers::state::session(std::shared_ptr<detail::connection> conn) {
  using namespace asio::experimental::awaitable_operators;
  ++open;
  spdlog::debug("mail sandbox: {} session {} from {}", scheme(conn->listener()), conn->id(),
                conn->peer());
  try {
    // Whichever ends first ends the other: the session, or the watchdog at a deadline.
    co_await (serve(conn) || conn->watchdog());
  } catch (...) {
    --open;
    conn->close();
    throw;
  }
  --open;
  conn->close();
  spdlog::debug("mail sandbox: session {} closed", conn->id());
}

mail_servers::mail_servers(mail_server_options options)
    : state_(std::make_shared<state>(std::move(options))) {}

mail_servers::~mail_servers() {
  stop();
}

result<void> mail_servers::start(asio::io_context& io) {
  auto& s = *state_;
  s.io = &io;
  SSL_CTX_set_min_proto_version(s.tls.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  s.tls.use_certificate_chain(asio::buffer(s.options.server_cert_pem), ec);
  if (!ec)
    s.tls.use_private_key(asio::buffer(s.options.server_key_pem), asio::ssl::context::pem, ec);
  if (ec)
    return make_failure(errc::invalid_argument,
                        "mail sandbox: cannot use the server certificate and key: " + ec.message());
  if (s.options.token_public_pem.empty())
    return make_failure(errc::invalid_argument, "mail sandbox: no token-signing public key");

  const auto address = asio::ip::make_address(s.options.address, ec);
  if (ec)
    return make_failure(errc::invalid_argument,
                        "mail sandbox: bad listen address " + s.options.address);
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (const auto l : all_listeners) {
    auto a = std::make_unique<tcp::acceptor>(io);
    const tcp::endpoint ep(address, s.options.ports.get(l));
    a->open(ep.protocol(), ec);
    if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return make_failure(errc::connect_failed, std::string("mail sandbox: cannot listen for ") +
                                                    scheme(l) + " on " + s.options.address +
                                                    " port " + std::to_string(ep.port()) + ": " +
                                                    ec.message());
    s.bound.set(l, a->local_endpoint().port());
    acceptors.push_back(std::move(a));
  }
  s.acceptors = std::move(acceptors);
  for (std::size_t i = 0; i < all_listeners.size(); ++i) {
    auto* acceptor = s.acceptors[i].get();
    asio::co_spawn(acceptor->get_executor(), s.accept_loop(*acceptor, all_listeners[i]),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("mail sandbox: accept loop failed: {}", ex.what());
                     }
                   });
  }
  return {};
}

mail_ports mail_servers::ports() const {
  return state_->bound;
}

void mail_servers::stop() {
  auto s = state_;
  std::vector<std::shared_ptr<detail::connection>> live;
  {
    std::lock_guard lock(s->mutex);
    if (s->stopped) return;
    s->stopped = true;
    for (auto& [id, weak] : s->sessions)
      if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  if (!s->io) return;
  for (auto& a : s->acceptors) {
    asio::post(a->get_executor(), [s, acceptor = a.get()] {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    });
  }
  for (auto& c : live) asio::post(c->stream_executor(), [c] { c->close(); });
}

}  // namespace mailoauth::sandbox
