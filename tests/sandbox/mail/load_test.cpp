// Issue 4's load test: 500 IMAP logins at once (TLS handshake, AUTHENTICATE XOAUTH2 with a
// token the server verifies, LOGOUT) all succeed. The wall time is printed and recorded.
#include "mail_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <iostream>

namespace mailoauth::sandbox::test {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr int logins = 500;

class load : public mail_fixture {};

asio::awaitable<std::string> login(asio::ssl::context& ctx, std::uint16_t port,
                                   std::string command) {
  auto ex = co_await asio::this_coro::executor;
  asio::ssl::stream<asio::ip::tcp::socket> s(ex, ctx);
  asio::streambuf in;
  auto read_line = [&]() -> asio::awaitable<std::string> {
    auto [ec, n] = co_await asio::async_read_until(s, in, "\r\n", use_tuple);
    if (ec) co_return "read failed: " + ec.message();
    std::string line(asio::buffers_begin(in.data()),
                     asio::buffers_begin(in.data()) + static_cast<std::ptrdiff_t>(n - 2));
    in.consume(n);
    co_return line;
  };
  auto [cec] =
      co_await s.next_layer().async_connect({asio::ip::make_address("127.0.0.1"), port}, use_tuple);
  if (cec) co_return "connect failed: " + cec.message();
  auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (hec) co_return "handshake failed: " + hec.message();
  const auto greeting = co_await read_line();
  if (!greeting.starts_with("* OK")) co_return "greeting: " + greeting;
  command += "\r\n";
  auto [wec, wn] = co_await asio::async_write(s, asio::buffer(command), use_tuple);
  if (wec) co_return "write failed: " + wec.message();
  const auto result = co_await read_line();
  const std::string logout = "a2 LOGOUT\r\n";
  co_await asio::async_write(s, asio::buffer(logout), use_tuple);
  co_await read_line();
  co_await read_line();
  co_return result;
}

TEST_F(load, five_hundred_concurrent_imap_logins) {
  std::vector<std::string> commands;
  for (int i = 0; i < logins; ++i) {
    const auto user = "load" + std::to_string(i) + "@contoso.onmicrosoft.com";
    commands.push_back("a1 AUTHENTICATE XOAUTH2 " + xoauth2_b64(user, mint({.user = user})));
  }
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(ca_file());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  std::vector<std::string> results(logins);
  const auto port_number = port(mail_listener::imaps);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < logins; ++i) {
    asio::co_spawn(io, login(ctx, port_number, commands[static_cast<std::size_t>(i)]),
                   [&results, i](std::exception_ptr e, std::string r) {
                     results[static_cast<std::size_t>(i)] = e ? "exception" : std::move(r);
                   });
  }
  io.run();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  int ok = 0;
  for (const auto& r : results) {
    if (r == "a1 OK AUTHENTICATE completed.")
      ++ok;
    else
      ADD_FAILURE() << r;
  }
  EXPECT_EQ(ok, logins);
  std::cout << "[ load ] " << ok << " of " << logins << " concurrent IMAP logins (TLS, XOAUTH2, "
            << "token verified) succeeded in " << elapsed.count() << " ms" << std::endl;
  RecordProperty("wall_ms", static_cast<int>(elapsed.count()));
}

}  // namespace
}  // namespace mailoauth::sandbox::test
