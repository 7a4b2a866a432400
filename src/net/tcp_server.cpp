// The one acceptor and server-connection driver: accept loops that log and go on, a strand and
// a deadline watchdog per connection, the live-connection set that stop() closes, and the
// connection limit.
#include "net/tcp_server.hpp"

#include "net/tls.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <exception>
#include <map>
#include <mutex>
#include <utility>

namespace mailoauth::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// What finish() reads and drops at most before it closes: a client that keeps sending is not
// waited for beyond this.
constexpr std::size_t max_drain_bytes = 4 * 1024 * 1024;

std::error_code canceled() {
  return std::make_error_code(std::errc::operation_canceled);
}

/// The completion of a coroutine that must not fail silently: logs what escaped it.
auto log_exception(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{}: internal error: {}", what, ex.what());
    }
  };
}

}  // namespace

// ---- the connection ------------------------------------------------------------------------

struct server_connection::state {
  state(tcp::socket socket, asio::ssl::context& tls_context, bool tls_configured,
        const tcp_server_options& options, std::uint64_t connection_id, std::string listener_name)
      : stream(std::move(socket), tls_context),
        timer(stream.get_executor()),
        tls_available(tls_configured),
        io_timeout(options.io_timeout),
        finish_timeout(options.finish_timeout),
        id(connection_id),
        listener(std::move(listener_name)) {
    boost::system::error_code ec;
    const auto remote = stream.next_layer().remote_endpoint(ec);
    peer = ec ? "?" : remote.address().to_string();
    const auto local = stream.next_layer().local_endpoint(ec);
    local_port = ec ? 0 : local.port();
    // Protocol replies are small and answer a request: Nagle's delay would only slow them.
    stream.next_layer().set_option(tcp::no_delay(true), ec);
  }

  // A read and a write may be pending at once (a proxy's two directions on the strand), each
  // under its own deadline; a handshake or finish() is both.
  enum class direction { read, write, both };

  /// The deadline of the operation about to start. The watchdog sleeps towards the earliest
  /// deadline it knows; an earlier one wakes it so that it sleeps less.
  void arm(direction d, milliseconds timeout) {
    const auto at = clock_type::now() + timeout;
    if (d != direction::write) read_deadline = at;
    if (d != direction::read) write_deadline = at;
    if (at < timer.expiry()) timer.cancel();
  }
  /// No operation pending in that direction: nothing to time out (the handler may be thinking,
  /// or waiting for the other side of a proxy, which has its own deadlines).
  void disarm(direction d) {
    if (d != direction::write) read_deadline = clock_type::time_point::max();
    if (d != direction::read) write_deadline = clock_type::time_point::max();
  }
  [[nodiscard]] clock_type::time_point deadline() const {
    return std::min(read_deadline, write_deadline);
  }

  /// Asio's timeout idiom: one timer per connection, not one per operation. It wakes at the
  /// deadline it was set to and sleeps again when the deadline has moved since; when a deadline
  /// has passed it closes the socket, which ends the pending operation.
  asio::awaitable<void> watchdog() {
    while (!closed) {
      if (deadline() <= clock_type::now()) {
        timed_out = true;
        spdlog::debug("{}: connection {} from {}: deadline passed", listener, id, peer);
        close();
        break;
      }
      timer.expires_at(deadline());
      co_await timer.async_wait(use_tuple);
    }
  }

  void close() noexcept {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    timer.cancel();
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream.next_layer().close(ignored);
  }

  /// What an operation that failed with `ec` means for the caller (see the header).
  [[nodiscard]] std::error_code translate(const boost::system::error_code& ec) const {
    if (timed_out) return make_error_code(errc::timeout);
    if (closed) return canceled();
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
      return make_error_code(errc::connection_closed);
    return ec;
  }

  asio::awaitable<io_result> read_some(std::span<char> buffer, milliseconds timeout) {
    if (closed) co_return io_result{translate({}), 0};
    if (buffer.empty()) co_return io_result{make_error_code(errc::invalid_argument), 0};
    arm(direction::read, timeout);
    boost::system::error_code ec;
    std::size_t n = 0;
    const auto into = asio::buffer(buffer.data(), buffer.size());
    if (tls)
      std::tie(ec, n) = co_await stream.async_read_some(into, use_tuple);
    else
      std::tie(ec, n) = co_await stream.next_layer().async_read_some(into, use_tuple);
    disarm(direction::read);
    if (n > 0) co_return io_result{{}, n};
    co_return io_result{translate(ec), 0};
  }

  template <class Buffers>
  asio::awaitable<std::error_code> write(const Buffers& buffers, milliseconds timeout) {
    if (closed) co_return translate({});
    arm(direction::write, timeout);
    boost::system::error_code ec;
    if (tls)
      std::tie(ec, std::ignore) = co_await asio::async_write(stream, buffers, use_tuple);
    else
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream.next_layer(), buffers, use_tuple);
    disarm(direction::write);
    co_return ec ? translate(ec) : std::error_code();
  }

  asio::awaitable<std::error_code> handshake() {
    if (closed) co_return translate({});
    if (!tls_available || tls) {
      // A listener or session asked for TLS the server was not given (or twice): a bug of the
      // caller, and nothing more may be said on this connection.
      spdlog::error("{}: connection {}: TLS requested {}", listener, id,
                    tls ? "twice" : "but the server has no certificate");
      close();
      co_return make_error_code(errc::invalid_argument);
    }
    arm(direction::both, io_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
    disarm(direction::both);
    if (ec) {
      const auto why = translate(ec);
      // Clients that do not trust the sandbox's CA, port scanners, plaintext on a TLS port:
      // worth a line in the debug log, no more.
      spdlog::debug("{}: connection {} from {}: TLS handshake failed: {}", listener, id, peer,
                    timed_out ? std::string("timed out") : ec.message());
      close();
      co_return why == make_error_code(errc::timeout) || why == canceled()
          ? why
          : make_error_code(errc::tls_handshake_failed);
    }
    tls = true;
    co_return std::error_code();
  }

  asio::awaitable<void> finish() {
    if (closed) co_return;
    if (tls) {
      // close_notify, and the peer's answer if it comes in time; a peer that just closes is
      // no matter (stream_truncated).
      arm(direction::both, finish_timeout);
      co_await stream.async_shutdown(use_tuple);
      disarm(direction::both);
    }
    if (closed) co_return;
    boost::system::error_code ec;
    stream.next_layer().shutdown(tcp::socket::shutdown_send, ec);
    arm(direction::both, finish_timeout);
    std::array<char, 16 * 1024> scratch;
    for (std::size_t total = 0; !ec && total < max_drain_bytes;) {
      std::size_t n = 0;
      std::tie(ec, n) =
          co_await stream.next_layer().async_read_some(asio::buffer(scratch), use_tuple);
      total += n;
    }
    disarm(direction::both);
    close();
  }

  asio::ssl::stream<tcp::socket> stream;
  asio::steady_timer timer;
  clock_type::time_point read_deadline = clock_type::time_point::max();
  clock_type::time_point write_deadline = clock_type::time_point::max();
  bool tls_available;
  milliseconds io_timeout;
  milliseconds finish_timeout;
  std::uint64_t id;
  std::string listener;
  std::string peer;
  std::uint16_t local_port = 0;
  bool tls = false;
  bool closed = false;
  bool timed_out = false;
};

server_connection::server_connection(std::unique_ptr<state> s) : s_(std::move(s)) {}
server_connection::~server_connection() = default;

asio::awaitable<io_result> server_connection::read_some(std::span<char> buffer) {
  return s_->read_some(buffer, s_->io_timeout);
}

asio::awaitable<io_result> server_connection::read_some(std::span<char> buffer,
                                                        milliseconds timeout) {
  return s_->read_some(buffer, timeout);
}

asio::awaitable<std::error_code> server_connection::write(std::string_view data) {
  return write(data, s_->io_timeout);
}

asio::awaitable<std::error_code> server_connection::write(std::string_view data,
                                                          milliseconds timeout) {
  co_return co_await s_->write(asio::buffer(data.data(), data.size()), timeout);
}

asio::awaitable<std::error_code> server_connection::write(
    std::span<const std::string_view> pieces) {
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(pieces.size());
  for (const auto p : pieces) buffers.emplace_back(p.data(), p.size());
  co_return co_await s_->write(buffers, s_->io_timeout);
}

asio::awaitable<std::error_code> server_connection::start_tls() {
  return s_->handshake();
}

asio::awaitable<void> server_connection::finish() {
  return s_->finish();
}

void server_connection::close() noexcept {
  s_->close();
}

asio::any_io_executor server_connection::executor() const {
  return s_->stream.get_executor();
}
bool server_connection::is_open() const noexcept {
  return !s_->closed;
}
bool server_connection::tls() const noexcept {
  return s_->tls;
}
bool server_connection::timed_out() const noexcept {
  return s_->timed_out;
}
std::uint64_t server_connection::id() const noexcept {
  return s_->id;
}
const std::string& server_connection::peer() const noexcept {
  return s_->peer;
}
const std::string& server_connection::listener() const noexcept {
  return s_->listener;
}
std::uint16_t server_connection::local_port() const noexcept {
  return s_->local_port;
}
std::string server_connection::tls_version() const {
  return s_->tls ? detail::tls_version(s_->stream) : std::string();
}
std::string server_connection::tls_cipher() const {
  return s_->tls ? detail::tls_cipher(s_->stream) : std::string();
}

// ---- the server ----------------------------------------------------------------------------

namespace {

struct listener {
  listener(asio::io_context& io, listener_options o, connection_handler h, connection_handler r)
      : where(std::move(o)),
        strand(asio::make_strand(io)),
        acceptor(strand),
        handler(std::move(h)),
        refuse(std::move(r)) {}

  listener_options where;
  // The acceptor is touched only here: by its accept loop, and by pause() and stop() through
  // posts.
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  // Never changed once listening: the connections' coroutines call them without a lock.
  connection_handler handler;
  connection_handler refuse;
  std::uint16_t port = 0;
  bool loop_running = false;  // guarded by shared::mutex
};

}  // namespace

struct tcp_server::shared : std::enable_shared_from_this<tcp_server::shared> {
  shared(asio::io_context& context, tcp_server_options o)
      : io(context), options(o), tls(asio::ssl::context::tls_server) {}

  asio::io_context& io;
  const tcp_server_options options;
  asio::ssl::context tls;
  bool tls_configured = false;  // set before start()

  mutable std::mutex mutex;  // guards everything below
  std::vector<std::unique_ptr<listener>> listeners;
  std::map<std::uint64_t, std::weak_ptr<server_connection>> live;
  std::size_t active = 0;
  std::size_t refusing = 0;
  std::uint64_t next_id = 1;
  bool accepting = false;
  bool stopped = false;

  void spawn_accept_loop(listener& l) {
    asio::co_spawn(l.strand, accept_loop(shared_from_this(), l),
                   log_exception(l.where.name + ": accept loop"));
  }

  /// Whether the loop of `l` goes on; when not, it is no longer running (under the lock, so
  /// that start() sees a consistent picture and spawns a new one if needed).
  bool keep_accepting(listener& l) {
    std::lock_guard lock(mutex);
    if (accepting && !stopped) return true;
    l.loop_running = false;
    return false;
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<shared> self, listener& l) {
    while (self->keep_accepting(l)) {
      // Each connection gets its own strand: its handler and its watchdog never run at once,
      // even when the io_context runs on several threads, and connections run in parallel.
      auto [ec, socket] = co_await l.acceptor.async_accept(asio::make_strand(self->io), use_tuple);
      if (ec == asio::error::operation_aborted) continue;  // pause() or stop(); see the top
      if (ec) {
        // Out of descriptors (EMFILE, ENFILE), of buffers, and the like: say so, breathe, go on;
        // the client's connection waits in the listen queue meanwhile. Every error pauses, so
        // that one that persists cannot spin.
        spdlog::warn("{}: accept failed: {}", l.where.name, ec.message());
        asio::steady_timer pause(l.strand, self->options.accept_error_pause);
        co_await pause.async_wait(use_tuple);
        continue;
      }
      self->launch(l, tcp::socket(std::move(socket)));
    }
  }

  /// Registers an accepted connection and starts its coroutines, or closes it at once.
  void launch(listener& l, tcp::socket socket) {
    const bool implicit_tls = l.where.implicit_tls;
    std::uint64_t id = 0;
    bool over_limit = false;
    {
      std::lock_guard lock(mutex);
      if (stopped || !accepting) return;  // the socket closes as it goes
      over_limit = active >= options.max_connections;
      if (over_limit && (!l.refuse || refusing >= options.max_refusing)) {
        spdlog::warn("{}: {} connections open; closing a new one", l.where.name, active);
        return;
      }
      if (over_limit) {
        spdlog::warn("{}: {} connections open; refusing a new one", l.where.name, active);
        ++refusing;
      } else {
        ++active;
      }
      id = next_id++;
    }
    auto st = std::make_unique<server_connection::state>(std::move(socket), tls, tls_configured,
                                                         options, id, l.where.name);
    auto* raw = st.get();
    auto conn = std::make_shared<server_connection>(std::move(st));
    bool registered = false;
    {
      std::lock_guard lock(mutex);
      // stop() may have collected the live set in between: then this one is closed here.
      if (!stopped) {
        live.emplace(id, conn);
        registered = true;
      }
    }
    if (!registered) {
      release(id, over_limit);
      return;
    }
    spdlog::debug("{}: connection {} from {}", l.where.name, id, raw->peer);
    const auto& handler = over_limit ? l.refuse : l.handler;
    asio::co_spawn(conn->executor(),
                   serve(shared_from_this(), conn, handler, implicit_tls, over_limit),
                   log_exception(l.where.name + ": connection"));
    asio::co_spawn(conn->executor(), watch(conn, raw), log_exception(l.where.name + ": watchdog"));
  }

  void release(std::uint64_t id, bool over_limit) {
    std::lock_guard lock(mutex);
    live.erase(id);
    --(over_limit ? refusing : active);
  }

  /// `keep` holds the connection (and its state) while the watchdog runs.
  static asio::awaitable<void> watch([[maybe_unused]] std::shared_ptr<server_connection> keep,
                                     server_connection::state* s) {
    co_await s->watchdog();
  }

  static asio::awaitable<void> serve(std::shared_ptr<shared> self,
                                     std::shared_ptr<server_connection> conn,
                                     const connection_handler& handler, bool implicit_tls,
                                     bool over_limit) {
    struct unregister {
      shared& s;
      std::uint64_t id;
      bool over;
      ~unregister() { s.release(id, over); }
    } guard{*self, conn->id(), over_limit};

    if (implicit_tls && co_await conn->start_tls()) co_return;
    bool failed = false;
    try {
      co_await handler(*conn);
    } catch (const std::exception& e) {
      spdlog::error("{}: connection {}: internal error: {}", conn->listener(), conn->id(),
                    e.what());
      failed = true;
    }
    if (failed) {
      conn->close();
      co_return;
    }
    co_await conn->finish();
    spdlog::debug("{}: connection {} closed", conn->listener(), conn->id());
  }

  /// The live connections, each to be closed on its own strand.
  std::vector<std::shared_ptr<server_connection>> collect_live() {
    std::vector<std::shared_ptr<server_connection>> out;
    for (auto& [id, weak] : live)
      if (auto c = weak.lock()) out.push_back(std::move(c));
    return out;
  }

  static void close_all(const std::vector<std::shared_ptr<server_connection>>& conns) {
    for (const auto& c : conns) asio::post(c->executor(), [c] { c->close(); });
  }
};

tcp_server::tcp_server(asio::io_context& io, tcp_server_options options)
    : s_(std::make_shared<shared>(io, options)) {}

tcp_server::~tcp_server() {
  stop();
}

result<void> tcp_server::set_tls(std::string_view cert_chain_pem, std::string_view key_pem) {
  if (auto problem = detail::configure_server_context(s_->tls, cert_chain_pem, key_pem);
      !problem.empty()) {
    return make_failure(errc::tls_handshake_failed, problem);
  }
  s_->tls_configured = true;
  return {};
}

result<std::uint16_t> tcp_server::listen(const listener_options& where, connection_handler handler,
                                         connection_handler refuse) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(where.address, ec);
  if (ec) return make_failure(errc::invalid_argument, "not an IP address: " + where.address);
  if (!handler) return make_failure(errc::invalid_argument, where.name + ": no handler");
  if (where.implicit_tls && !s_->tls_configured)
    return make_failure(errc::invalid_argument,
                        where.name + ": a TLS listener needs the server's certificate");

  auto l = std::make_unique<listener>(s_->io, where, std::move(handler), std::move(refuse));
  const tcp::endpoint ep(address, where.port);
  auto& a = l->acceptor;
  a.open(ep.protocol(), ec);
  // "::" means IPv6 only: "0.0.0.0" is bound by a listener of its own when wanted.
  if (!ec && address.is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  // A restarted server reuses its port while the last run's connections are in TIME_WAIT; on
  // Linux this never lets two listeners share a port.
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    const auto shown = address.is_v6() ? "[" + where.address + "]" : where.address;
    // The socket's own code (address_in_use...): callers tell a taken port from the rest.
    return failure{
        ec,
        "cannot listen on " + shown + " port " + std::to_string(where.port) + ": " + ec.message(),
        {}};
  }
  l->port = a.local_endpoint().port();
  const auto port = l->port;
  bool spawn = false;
  auto* added = l.get();
  {
    std::lock_guard lock(s_->mutex);
    if (s_->stopped) return make_failure(errc::invalid_argument, "the server has stopped");
    spawn = s_->accepting;
    if (spawn) added->loop_running = true;
    s_->listeners.push_back(std::move(l));
  }
  if (spawn) s_->spawn_accept_loop(*added);
  spdlog::debug("{}: listening on {} port {}", where.name, where.address, port);
  return port;
}

void tcp_server::start() {
  std::vector<listener*> to_spawn;
  {
    std::lock_guard lock(s_->mutex);
    if (s_->stopped) return;
    s_->accepting = true;
    for (auto& l : s_->listeners) {
      if (l->loop_running) continue;  // a loop that pause() has not ended yet goes on
      l->loop_running = true;
      to_spawn.push_back(l.get());
    }
  }
  // Spawned outside the lock: a loop takes it as it starts.
  for (auto* l : to_spawn) s_->spawn_accept_loop(*l);
}

void tcp_server::pause() {
  std::vector<std::shared_ptr<server_connection>> conns;
  std::vector<listener*> listeners;
  {
    std::lock_guard lock(s_->mutex);
    if (s_->stopped || !s_->accepting) return;
    s_->accepting = false;
    conns = s_->collect_live();
    for (auto& l : s_->listeners) listeners.push_back(l.get());
  }
  for (auto* l : listeners) {
    asio::post(l->strand, [keep = s_, l] {
      boost::system::error_code ignored;
      l->acceptor.cancel(ignored);
    });
  }
  shared::close_all(conns);
}

void tcp_server::stop() {
  if (!s_) return;
  std::vector<std::shared_ptr<server_connection>> conns;
  std::vector<listener*> listeners;
  {
    std::lock_guard lock(s_->mutex);
    if (s_->stopped) return;
    s_->stopped = true;
    s_->accepting = false;
    conns = s_->collect_live();
    for (auto& l : s_->listeners) listeners.push_back(l.get());
  }
  for (auto* l : listeners) {
    asio::post(l->strand, [keep = s_, l] {
      boost::system::error_code ignored;
      l->acceptor.close(ignored);
    });
  }
  shared::close_all(conns);
}

std::vector<std::uint16_t> tcp_server::ports() const {
  std::lock_guard lock(s_->mutex);
  std::vector<std::uint16_t> out;
  for (const auto& l : s_->listeners) out.push_back(l->port);
  return out;
}

std::size_t tcp_server::connection_count() const {
  std::lock_guard lock(s_->mutex);
  return s_->active;
}

}  // namespace mailoauth::net
