// tcp_server and server_connection with real sockets: accepting on every listener, the
// connection limit, stop() with live connections, deadlines (the server's own timers), implicit
// TLS and STARTTLS, and an accept loop that survives a failed accept.
#include "net/tcp_server.hpp"

#include "net_test_util.hpp"
#include "server_test_util.hpp"

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <fstream>
#include <sstream>

#include <sys/resource.h>

namespace mailoauth::net {
namespace {

using namespace std::chrono_literals;
using test::event_log;
using test::io_runner;
using test::raw_client;
namespace asio = boost::asio;

std::string file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Reads until a LF; "" when the connection ends first.
asio::awaitable<std::string> read_line(server_connection& c) {
  std::string line;
  std::array<char, 256> buf;
  while (line.find('\n') == std::string::npos) {
    const auto r = co_await c.read_some(buf);
    if (r.ec) co_return std::string();
    line.append(buf.data(), r.bytes);
  }
  co_return line;
}

TEST(TcpServer, AcceptsOnEveryListenerAndReportsItsPorts) {
  asio::io_context io;
  tcp_server server(io);
  event_log seen;
  const auto echo = [&](server_connection& c) -> asio::awaitable<void> {
    const auto line = co_await read_line(c);
    seen.push(c.listener() + " from " + c.peer());
    co_await c.write(c.listener() + ":" + line);
  };
  const auto one = server.listen({"127.0.0.1", 0, false, "one"}, echo);
  const auto two = server.listen({"127.0.0.1", 0, false, "two"}, echo);
  ASSERT_TRUE(one) << one.error().message;
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_NE(*one, 0);
  EXPECT_NE(*two, 0);
  EXPECT_NE(*one, *two);
  EXPECT_EQ(server.ports(), (std::vector<std::uint16_t>{*one, *two}));
  server.start();
  io_runner run(io);

  raw_client a(*one);
  raw_client b(*two);
  ASSERT_TRUE(b.send("to two\n"));
  ASSERT_TRUE(a.send("to one\n"));
  EXPECT_EQ(a.read_to_end(), "one:to one\n");
  EXPECT_TRUE(a.closed_by_peer());
  EXPECT_EQ(b.read_to_end(), "two:to two\n");
  auto events = seen.wait_for(2);
  std::sort(events.begin(), events.end());
  EXPECT_EQ(events, (std::vector<std::string>{"one from 127.0.0.1", "two from 127.0.0.1"}));
}

TEST(TcpServer, ListenFailuresSayWhy) {
  asio::io_context io;
  tcp_server server(io);
  const auto h = [](server_connection&) -> asio::awaitable<void> { co_return; };
  const auto first = server.listen({"127.0.0.1", 0, false, "first"}, h);
  ASSERT_TRUE(first);
  const auto taken = server.listen({"127.0.0.1", *first, false, "second"}, h);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, std::errc::address_in_use);
  EXPECT_EQ(taken.error().message, "cannot listen on 127.0.0.1 port " + std::to_string(*first) +
                                       ": " + taken.error().code.message());
  const auto bad = server.listen({"localhost", 0, false, "named"}, h);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  const auto no_cert = server.listen({"127.0.0.1", 0, true, "tls"}, h);
  ASSERT_FALSE(no_cert);
  EXPECT_EQ(no_cert.error().code, errc::invalid_argument);
  EXPECT_EQ(no_cert.error().message, "tls: a TLS listener needs the server's certificate");
}

/// A handler that greets, then waits for the client to speak or go, and records how it ended.
connection_handler greeter(event_log& ended) {
  return [&ended](server_connection& c) -> asio::awaitable<void> {
    co_await c.write("hello\n");
    std::array<char, 64> buf;
    const auto r = co_await c.read_some(buf, 60s);
    ended.push(r.ec ? r.ec.message() : std::string(buf.data(), r.bytes));
  };
}

TEST(TcpServer, RefusesConnectionsOverTheLimitInTheProtocolsWords) {
  asio::io_context io;
  tcp_server_options o;
  o.max_connections = 1;
  o.finish_timeout = 100ms;  // the first client stays open after its "bye"
  tcp_server server(io, o);
  event_log ended;
  const auto refuse = [](server_connection& c) -> asio::awaitable<void> {
    co_await c.write("busy\n");
  };
  const auto port = server.listen({"127.0.0.1", 0, false, "limited"}, greeter(ended), refuse);
  ASSERT_TRUE(port);
  server.start();
  io_runner run(io);

  raw_client first(*port);
  ASSERT_EQ(first.read_at_least(6), "hello\n");
  EXPECT_EQ(server.connection_count(), 1u);
  raw_client second(*port);
  EXPECT_EQ(second.read_to_end(), "busy\n");
  EXPECT_TRUE(second.closed_by_peer());
  EXPECT_EQ(server.connection_count(), 1u);

  // The slot frees when the first one goes; then a new connection is served.
  ASSERT_TRUE(first.send("bye\n"));
  EXPECT_EQ(ended.wait_for(1), (std::vector<std::string>{"bye\n"}));
  for (int i = 0; i < 1000 && server.connection_count() != 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(server.connection_count(), 0u);
  raw_client third(*port);
  EXPECT_EQ(third.read_at_least(6), "hello\n");
}

TEST(TcpServer, ClosesConnectionsOverTheLimitWithoutARefusalHandler) {
  asio::io_context io;
  tcp_server_options o;
  o.max_connections = 1;
  tcp_server server(io, o);
  event_log ended;
  const auto port = server.listen({"127.0.0.1", 0, false, "limited"}, greeter(ended));
  ASSERT_TRUE(port);
  server.start();
  io_runner run(io);

  raw_client first(*port);
  ASSERT_EQ(first.read_at_least(6), "hello\n");
  raw_client second(*port);
  EXPECT_EQ(second.read_to_end(), "");
  EXPECT_TRUE(second.closed_by_peer());
  EXPECT_EQ(server.connection_count(), 1u);
}

TEST(TcpServer, StopClosesEveryConnectionFromAnotherThreadAndTheIoContextRunsOut) {
  asio::io_context io;
  tcp_server server(io);
  event_log ended;
  const auto p1 = server.listen({"127.0.0.1", 0, false, "a"}, greeter(ended));
  const auto p2 = server.listen({"127.0.0.1", 0, false, "b"}, greeter(ended));
  ASSERT_TRUE(p1 && p2);
  server.start();
  io_runner run(io, 2);

  raw_client c1(*p1), c2(*p1), c3(*p2);
  for (auto* c : {&c1, &c2, &c3}) ASSERT_EQ(c->read_at_least(6), "hello\n");
  EXPECT_EQ(server.connection_count(), 3u);

  server.stop();
  for (auto* c : {&c1, &c2, &c3}) {
    EXPECT_EQ(c->read_to_end(), "");
    EXPECT_TRUE(c->closed_by_peer());
  }
  const auto how = ended.wait_for(3);
  EXPECT_EQ(how, std::vector<std::string>(
                     3, std::make_error_code(std::errc::operation_canceled).message()));
  // Nothing of the server keeps the io_context busy any more: its threads return by
  // themselves.
  ASSERT_TRUE(run.ran_out());
  EXPECT_EQ(server.connection_count(), 0u);
  // The listeners are closed.
  raw_client late;
  const bool connected = late.connect(*p1);
  const int why = errno;
  EXPECT_FALSE(connected);
  EXPECT_EQ(why, ECONNREFUSED);
}

TEST(TcpServer, PauseKeepsTheListenersAndStartResumes) {
  asio::io_context io;
  tcp_server server(io);
  event_log ended;
  const auto port = server.listen({"127.0.0.1", 0, false, "p"}, greeter(ended));
  ASSERT_TRUE(port);
  server.start();
  {
    io_runner run(io, 1);
    raw_client c(*port);
    ASSERT_EQ(c.read_at_least(6), "hello\n");
    server.pause();
    EXPECT_EQ(c.read_to_end(), "");
    ASSERT_TRUE(run.ran_out());
  }
  // Paused, a connection waits in the listen queue; start() serves it.
  raw_client waiting(*port);
  io.restart();
  server.start();
  io_runner run(io, 1);
  EXPECT_EQ(waiting.read_at_least(6), "hello\n");
}

TEST(TcpServer, ADeadlineClosesASilentConnection) {
  asio::io_context io;
  tcp_server_options o;
  o.io_timeout = 50ms;
  tcp_server server(io, o);
  event_log ended;
  const auto h = [&](server_connection& c) -> asio::awaitable<void> {
    std::array<char, 64> buf;
    const auto r = co_await c.read_some(buf);
    ended.push(r.ec.message() + (c.timed_out() ? " (timed out)" : ""));
    // Everything after a deadline fails at once the same way.
    const auto w = co_await c.write("late\n");
    ended.push(w.message());
  };
  const auto port = server.listen({"127.0.0.1", 0, false, "silent"}, h);
  ASSERT_TRUE(port);
  server.start();
  io_runner run(io);

  raw_client quiet(*port);
  EXPECT_EQ(quiet.read_to_end(), "");
  EXPECT_TRUE(quiet.closed_by_peer());
  const auto timeout = make_error_code(errc::timeout).message();
  EXPECT_EQ(ended.wait_for(2), (std::vector<std::string>{timeout + " (timed out)", timeout}));
}

TEST(TcpServer, ACallsOwnDeadlineOverridesTheDefault) {
  asio::io_context io;
  tcp_server server(io);  // 30 s by default
  event_log ended;
  const auto h = [&](server_connection& c) -> asio::awaitable<void> {
    std::array<char, 64> buf;
    const auto r = co_await c.read_some(buf, 50ms);
    ended.push(r.ec.message());
  };
  const auto port = server.listen({"127.0.0.1", 0, false, "idle"}, h);
  ASSERT_TRUE(port);
  server.start();
  io_runner run(io);
  raw_client quiet(*port);
  EXPECT_EQ(quiet.read_to_end(), "");
  EXPECT_EQ(ended.wait_for(1),
            (std::vector<std::string>{make_error_code(errc::timeout).message()}));
}

asio::awaitable<void> tick(server_connection& c, int times) {
  for (int i = 0; i < times; ++i) co_await c.write("tick\n");
}

TEST(TcpServer, AReadKeepsItsDeadlineWhileWritesComeAndGo) {
  // A read and writes at once, as a proxy's two directions: each write's deadline comes and
  // goes, and the read's must stay.
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  tcp_server server(io);
  event_log ended;
  const auto h = [&](server_connection& c) -> asio::awaitable<void> {
    std::array<char, 64> buf;
    const auto r = co_await (c.read_some(buf, 200ms) && tick(c, 3));
    ended.push(r.ec.message());
  };
  const auto port = server.listen({"127.0.0.1", 0, false, "both"}, h);
  ASSERT_TRUE(port);
  server.start();
  io_runner run(io);
  raw_client quiet(*port);
  // The ticks (however many were written before the deadline closed the connection), then EOF.
  quiet.read_to_end();
  EXPECT_TRUE(quiet.closed_by_peer());
  EXPECT_EQ(ended.wait_for(1),
            (std::vector<std::string>{make_error_code(errc::timeout).message()}));
}

TEST(TcpServer, AWriteToAClientThatDoesNotReadTimesOut) {
  asio::io_context io;
  tcp_server_options o;
  o.io_timeout = 100ms;
  tcp_server server(io, o);
  event_log ended;
  const auto h = [&](server_connection& c) -> asio::awaitable<void> {
    // Far more than the socket buffers of both ends hold: the write cannot complete.
    const std::string flood(64 * 1024 * 1024, 'x');
    const auto ec = co_await c.write(flood);
    ended.push(ec.message());
  };
  const auto port = server.listen({"127.0.0.1", 0, false, "flood"}, h);
  ASSERT_TRUE(port);
  server.start();
  io_runner run(io);
  raw_client sleeper(*port);
  EXPECT_EQ(ended.wait_for(1),
            (std::vector<std::string>{make_error_code(errc::timeout).message()}));
}

TEST(TcpServer, ImplicitTlsAndStartTls) {
  const auto certs = test::test_certs_dir();
  asio::io_context io;
  tcp_server server(io);
  ASSERT_TRUE(server.set_tls(file(certs + "/server.pem"), file(certs + "/server.key")));
  event_log seen;
  const auto implicit = [&](server_connection& c) -> asio::awaitable<void> {
    seen.push("implicit handler, tls " + std::to_string(c.tls()));
    const auto line = co_await read_line(c);
    co_await c.write(c.tls_version() + " " + line);
  };
  const auto starttls = [&](server_connection& c) -> asio::awaitable<void> {
    co_await c.write("ready\n");
    if (co_await read_line(c) != "STARTTLS\n") co_return;
    co_await c.write("go ahead\n");
    const auto ec = co_await c.start_tls();
    seen.push("start_tls: " + ec.message() + ", tls " + std::to_string(c.tls()));
    if (ec) co_return;
    co_await c.write("secure " + c.tls_version() + "\n");
  };
  const auto tls_port = server.listen({"127.0.0.1", 0, true, "implicit"}, implicit);
  const auto plain_port = server.listen({"127.0.0.1", 0, false, "starttls"}, starttls);
  ASSERT_TRUE(tls_port && plain_port);
  server.start();
  io_runner run(io);

  {
    raw_client c(*tls_port);
    ASSERT_TRUE(c.handshake(certs + "/ca.pem"));
    ASSERT_TRUE(c.send("ping\n"));
    EXPECT_EQ(c.read_at_least(13), "TLSv1.3 ping\n");
  }
  {
    raw_client c(*plain_port);
    EXPECT_EQ(c.read_at_least(6), "ready\n");
    ASSERT_TRUE(c.send("STARTTLS\n"));
    EXPECT_EQ(c.read_at_least(9), "go ahead\n");
    ASSERT_TRUE(c.handshake(certs + "/ca.pem"));
    EXPECT_EQ(c.read_at_least(15), "secure TLSv1.3\n");
  }
  {
    // Plaintext on the TLS port: the handshake fails and the handler never runs.
    raw_client c(*tls_port);
    ASSERT_TRUE(c.send("a1 CAPABILITY\r\n"));
    c.read_to_end();
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    // A client that gives up on STARTTLS's handshake: start_tls() says so and the connection
    // is closed.
    raw_client c(*plain_port);
    EXPECT_EQ(c.read_at_least(6), "ready\n");
    ASSERT_TRUE(c.send("STARTTLS\n"));
    EXPECT_EQ(c.read_at_least(9), "go ahead\n");
    ASSERT_TRUE(c.send("not a ClientHello\r\n"));
    c.read_to_end();  // perhaps a TLS alert first
    EXPECT_TRUE(c.closed_by_peer());
  }
  const auto failed = make_error_code(errc::tls_handshake_failed).message();
  EXPECT_EQ(seen.wait_for(3),
            (std::vector<std::string>{"implicit handler, tls 1", "start_tls: Success, tls 1",
                                      "start_tls: " + failed + ", tls 0"}));
}

TEST(TcpServer, AFailedAcceptIsLoggedAndTheLoopGoesOn) {
  // EMFILE, deterministically: the client's socket is made first, then the process may open
  // no more descriptors, so the server's accept() fails while the connection waits in the
  // listen queue. Once descriptors are allowed again the same connection must be served.
  test::log_capture log(spdlog::level::warn);
  asio::io_context io;
  tcp_server_options o;
  o.accept_error_pause = 10ms;
  tcp_server server(io, o);
  const auto h = [](server_connection& c) -> asio::awaitable<void> { co_await c.write("hello\n"); };
  const auto port = server.listen({"127.0.0.1", 0, false, "emfile"}, h);
  ASSERT_TRUE(port);
  server.start();
  io_runner run(io, 1);

  raw_client c;
  ASSERT_TRUE(c.valid());
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  // Every descriptor below the lowest free one is in use: none can be opened.
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const bool connected = c.connect(*port);
  const auto lines = log.lines().wait_for(1);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(connected);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "emfile: accept failed: Too many open files");
  EXPECT_EQ(c.read_at_least(6), "hello\n");
}

}  // namespace
}  // namespace mailoauth::net
