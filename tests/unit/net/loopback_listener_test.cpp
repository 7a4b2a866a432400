// The loopback listener with real HTTP clients: the curl program and our own HTTP client (through
// the libcurl module).
#include "net/loopback_listener.hpp"

#include "net/http_client.hpp"
#include "net_test_util.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <sstream>

#include <unistd.h>

namespace mailoauth::net {
namespace {

using namespace std::chrono_literals;
using params = mailoauth::detail::secret_fields;  // what wait() hands back
namespace asio = boost::asio;

std::string base(const loopback_listener& l, const std::string& host = "127.0.0.1") {
  return "http://" + host + ":" + std::to_string(l.port());
}

/// Starts wait() on another thread, as the login flow blocks on it while the browser works.
std::future<result<params>> wait_async(loopback_listener& l, std::string path,
                                       bool fragment_page = false,
                                       std::chrono::milliseconds timeout = 15s) {
  return std::async(std::launch::async, [&l, path = std::move(path), fragment_page, timeout] {
    return l.wait(path, fragment_page, timeout);
  });
}

bool still_waiting(std::future<result<params>>& f) {
  return f.wait_for(100ms) == std::future_status::timeout;
}

// Empty when a socket can be bound to ::1; otherwise why not.
std::string ipv6_loopback_missing() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io);
  boost::system::error_code ec;
  a.open(asio::ip::tcp::v6(), ec);
  if (!ec) a.bind({asio::ip::address_v6::loopback(), 0}, ec);
  return ec ? ec.message() : std::string();
}

TEST(LoopbackListener, AuthorizationCodeRedirect) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_NE(l->port(), 0);
  auto f = wait_async(*l, "/callback");
  const auto r = test::run_curl(
      {base(*l) + "/callback?code=M.C507_BAY.2.U.a%2Fb%2Bc&state=st+8%26x"
                  "&iss=https%3A%2F%2Flogin.microsoftonline.com%2Ftid%2Fv2.0&session_state=s"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, (params{{"code", "M.C507_BAY.2.U.a/b+c"},
                          {"state", "st 8&x"},
                          {"iss", "https://login.microsoftonline.com/tid/v2.0"},
                          {"session_state", "s"}}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Signed in. You can close this tab and return to the terminal."),
            std::string::npos);
  EXPECT_NE(r.out.find("Cache-Control: no-store"), std::string::npos);
  EXPECT_NE(r.out.find("Referrer-Policy: no-referrer"), std::string::npos);
  EXPECT_NE(r.out.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
  EXPECT_NE(r.out.find("Connection: close"), std::string::npos);
}

TEST(LoopbackListener, ErrorRedirectIsEscaped) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/");
  const auto r =
      test::run_curl({base(*l) + "/?error=access_denied%3Cscript%3E&error_description="
                                 "AADSTS65004%3A+User+declined+%3Cb%3Econsent%3C%2Fb%3E&state=x"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->at("error"), "access_denied<script>");
  EXPECT_EQ(got->at("error_description"), "AADSTS65004: User declined <b>consent</b>");
  EXPECT_NE(r.out.find("Sign-in failed: access_denied&lt;script&gt;"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("User declined &lt;b&gt;consent&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(r.out.find("<b>"), std::string::npos);
  EXPECT_EQ(r.out.find("access_denied<"), std::string::npos);
  EXPECT_EQ(r.out.find("Signed in."), std::string::npos);
}

TEST(LoopbackListener, OtherPathsGet404AndWaitingGoesOn) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/callback");
  auto r = test::run_curl({base(*l) + "/favicon.ico"});
  EXPECT_NE(r.out.find("HTTP/1.1 404"), std::string::npos) << r.out;
  EXPECT_TRUE(still_waiting(f));
  r = test::run_curl({base(*l) + "/callback"});  // no parameters: not the redirect
  EXPECT_NE(r.out.find("HTTP/1.1 400"), std::string::npos) << r.out;
  r = test::run_curl({"-X", "DELETE", base(*l) + "/callback?code=x"});
  EXPECT_NE(r.out.find("HTTP/1.1 405"), std::string::npos) << r.out;
  EXPECT_TRUE(still_waiting(f));
  r = test::run_curl({base(*l) + "/callback?code=abc&state=s"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->at("code"), "abc");
}

TEST(LoopbackListener, KeepAliveConnectionServesSequentialRequests) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/cb");
  // One curl, one connection, three requests: 404, 404, then the redirect.
  const auto r = test::run_curl({"-w", "connects=%{num_connects}\n", base(*l) + "/favicon.ico",
                                 base(*l) + "/robots.txt", base(*l) + "/cb?code=seq&state=s"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->at("code"), "seq");
  const auto first_404 = r.out.find("HTTP/1.1 404");
  ASSERT_NE(first_404, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP/1.1 404", first_404 + 1), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  // A new connection for the first request only.
  EXPECT_NE(r.out.find("connects=1\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("connects=1\n", r.out.find("connects=1\n") + 1), std::string::npos) << r.out;
}

TEST(LoopbackListener, FragmentPagePostsTheFragmentBack) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/implicit", true);
  auto r = test::run_curl({base(*l) + "/implicit"});
  EXPECT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("location.hash.substring(1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("script-src 'sha256-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Cache-Control: no-store"), std::string::npos);
  EXPECT_TRUE(still_waiting(f));

  // What the page's script sends: the fragment, as the authorization server encoded it.
  r = test::run_curl({"-H", "Content-Type: application/x-www-form-urlencoded", "-H",
                      "Origin: " + base(*l), "--data-raw",
                      "access_token=eyJ0.eXAi.sig%2B%2F&token_type=Bearer&expires_in=3599"
                      "&scope=https%3A%2F%2Foutlook.office365.com%2FIMAP.AccessAsUser.All+openid"
                      "&state=xyz",
                      base(*l) + "/implicit"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, (params{{"access_token", "eyJ0.eXAi.sig+/"},
                          {"token_type", "Bearer"},
                          {"expires_in", "3599"},
                          {"scope", "https://outlook.office365.com/IMAP.AccessAsUser.All openid"},
                          {"state", "xyz"}}));
  EXPECT_NE(r.out.find("Content-Type: text/plain; charset=utf-8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Signed in. You can close this tab"), std::string::npos) << r.out;
}

TEST(LoopbackListener, FragmentPostFromAnotherOriginIsRefused) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/implicit", true);
  auto r = test::run_curl({"-H", "Origin: https://evil.example", "--data-raw",
                           "access_token=forged&state=x", base(*l) + "/implicit"});
  EXPECT_NE(r.out.find("HTTP/1.1 403"), std::string::npos) << r.out;
  EXPECT_TRUE(still_waiting(f));
  r = test::run_curl({"--data-raw", "error=access_denied&state=x", base(*l) + "/implicit"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->at("error"), "access_denied");
  EXPECT_NE(r.out.find("Sign-in failed: access_denied"), std::string::npos) << r.out;
}

TEST(LoopbackListener, WorksWithOurHttpClient) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  {
    auto f = wait_async(*l, "/callback");
    http_request req;
    req.method = "GET";
    req.url = base(*l) + "/callback?code=" + form_encode("c/+= \xE2\x82\xAC") + "&state=s";
    const auto res = perform(req);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->body.find("Signed in."), std::string::npos);
    const auto got = f.get();
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->at("code"), "c/+= \xE2\x82\xAC");
  }
  {
    // The same listener again, now for the fragment page and its POST.
    auto f = wait_async(*l, "/implicit", true);
    http_request page;
    page.method = "GET";
    page.url = base(*l) + "/implicit";
    const auto shown = perform(page);
    ASSERT_TRUE(shown) << shown.error().message;
    EXPECT_NE(shown->body.find("fetch(location.pathname"), std::string::npos);

    http_request post;
    post.url = base(*l) + "/implicit";
    post.form = {{"access_token", "a&b=c+d%e \xF0\x9F\x94\x91"}, {"state", "s t"}};
    const auto res = perform(post);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "Signed in. You can close this tab and return to the terminal.");
    const auto got = f.get();
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, (params{{"access_token", "a&b=c+d%e \xF0\x9F\x94\x91"}, {"state", "s t"}}));
  }
}

TEST(LoopbackListener, TimesOut) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  const auto start = std::chrono::steady_clock::now();
  const auto got = l->wait("/callback", false, 300ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, errc::timeout);
  EXPECT_GE(elapsed, 280ms);
  // Ended by its own timeout; the margin only keeps a loaded machine from failing it.
  EXPECT_LT(elapsed, 10s);
}

TEST(LoopbackListener, OversizedRequestsAreRejected) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/cb", true);
  auto r = test::run_curl({"-H", "X-Big: " + std::string(20 * 1024, 'a'), base(*l) + "/cb"});
  EXPECT_NE(r.out.find("HTTP/1.1 431"), std::string::npos) << r.out.substr(0, 200) << r.err;
  r = test::run_curl({base(*l) + "/cb?code=" + std::string(20 * 1024, 'b')});
  EXPECT_NE(r.out.find("HTTP/1.1 431"), std::string::npos) << r.out.substr(0, 200) << r.err;
  // The body limit: refused from the Content-Length, before the body is read.
  r = test::run_curl(
      {"--data-binary", "access_token=" + std::string(100 * 1024, 'c'), base(*l) + "/cb"});
  EXPECT_NE(r.out.find("HTTP/1.1 413"), std::string::npos) << r.out.substr(0, 200) << r.err;
  EXPECT_TRUE(still_waiting(f));
  r = test::run_curl({base(*l) + "/cb?code=small&state=s"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->at("code"), "small");
}

TEST(LoopbackListener, IdleConnectionsDoNotHoldItUp) {
  // Browsers open speculative connections and may leave them idle; the redirect can come on
  // another one.
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/cb");
  asio::io_context io;
  asio::ip::tcp::socket idle(io);
  idle.connect({asio::ip::make_address("127.0.0.1"), l->port()});
  asio::ip::tcp::socket half(io);
  half.connect({asio::ip::make_address("127.0.0.1"), l->port()});
  asio::write(half, asio::buffer(std::string_view("GET /cb?code=never HTTP/1.1\r\nHost: x")));
  const auto start = std::chrono::steady_clock::now();
  test::run_curl({base(*l) + "/cb?code=prompt&state=s"});
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->at("code"), "prompt");
  // Well under wait()'s 15 s: an idle connection did not hold the listener up (a wide margin,
  // so that a loaded machine cannot fail it).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(LoopbackListener, MalformedRedirectFails) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/cb");
  const auto r = test::run_curl({base(*l) + "/cb?code=a&code=b&state=s"});
  const auto got = f.get();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, errc::malformed_response);
  EXPECT_NE(got.error().message.find("repeats the parameter code"), std::string::npos);
  EXPECT_NE(r.out.find("HTTP/1.1 400"), std::string::npos) << r.out;

  auto g = wait_async(*l, "/cb");
  test::run_curl({base(*l) + "/cb?code=%zz"});
  EXPECT_EQ(g.get().error().code, errc::malformed_response);
}

TEST(LoopbackListener, DualStackServesIpv6) {
  // The CTest fixture net.ipv6_loopback (ensure-ipv6-loopback.sh) brings ::1 up first.
  const auto missing = ipv6_loopback_missing();
  ASSERT_EQ(missing, "") << "cannot bind [::1]: this test needs IPv6 on the loopback interface "
                            "(as root: sysctl -w net.ipv6.conf.lo.disable_ipv6=0; ip -6 addr add "
                            "::1/128 dev lo; tests/unit/net/ensure-ipv6-loopback.sh does both)";
  auto l = loopback_listener::open(0, true);
  ASSERT_TRUE(l) << l.error().message;
  {
    auto f = wait_async(*l, "/cb");
    const auto r = test::run_curl({"-g", base(*l, "[::1]") + "/cb?code=six&state=s"});
    const auto got = f.get();
    ASSERT_TRUE(got) << got.error().message << r.err;
    EXPECT_EQ(got->at("code"), "six");
  }
  {
    auto f = wait_async(*l, "/cb");
    http_request req;
    req.method = "GET";
    req.url = base(*l, "localhost") + "/cb?code=name&state=s";
    ASSERT_TRUE(perform(req));
    EXPECT_EQ(f.get()->at("code"), "name");
  }
  {
    auto f = wait_async(*l, "/cb");
    http_request req;
    req.method = "GET";
    req.url = base(*l, "[::1]") + "/cb?code=literal&state=s";
    const auto res = perform(req);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(f.get()->at("code"), "literal");
  }
  {
    auto f = wait_async(*l, "/cb");
    const auto r = test::run_curl({base(*l) + "/cb?code=four&state=s"});
    EXPECT_EQ(f.get()->at("code"), "four");
  }
}

TEST(LoopbackListener, FixedPortsAndPortsInUse) {
  auto first = loopback_listener::open(0, false);
  ASSERT_TRUE(first);
  const auto taken = first->port();
  const auto second = loopback_listener::open(taken, false);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::connect_failed);
  EXPECT_NE(second.error().message.find("port " + std::to_string(taken)), std::string::npos)
      << second.error().message;
  // Freed, the port can be taken at once, even with connections of the last run in TIME_WAIT.
  {
    auto f = wait_async(*first, "/cb");
    test::run_curl({base(*first) + "/cb?code=x"});
    ASSERT_TRUE(f.get());
  }
  first = loopback_listener::open(0, false);
  auto again = loopback_listener::open(taken, false);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->port(), taken);
}

TEST(LoopbackListener, LogsPathsAndNamesButNoValues) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  auto f = wait_async(*l, "/cb", true);
  test::run_curl({base(*l) + "/favicon.ico?sekrit-favicon"});
  test::run_curl({"--data-raw", "access_token=sekrit-token&state=sekrit-state", base(*l) + "/cb"});
  const auto got = f.get();
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(got);

  const std::string log = captured.str();
  EXPECT_NE(log.find("POST /cb with access_token, state"), std::string::npos) << log;
  EXPECT_NE(log.find("GET /favicon.ico -> 404"), std::string::npos) << log;
  EXPECT_EQ(log.find("sekrit"), std::string::npos) << log;
}

TEST(LoopbackListener, RealBrowserRunsTheFragmentPage) {
  // The page's script itself, in headless Chromium (Debian's, which scripts/install-deps.sh
  // installs).
  const char* chromium = "/usr/bin/chromium";
  ASSERT_EQ(::access(chromium, X_OK), 0)
      << "no " << chromium << ": run scripts/install-deps.sh (it installs Debian's chromium)";
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l);
  char profile[] = "/tmp/mailoauth-chromium-XXXXXX";
  ASSERT_NE(::mkdtemp(profile), nullptr);
  auto f = wait_async(*l, "/implicit", true, 30s);
  const auto r = test::run_process(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
       std::string("--user-data-dir=") + profile, "--virtual-time-budget=5000", "--dump-dom",
       base(*l) + "/implicit#access_token=eyJ.x%2By&token_type=Bearer&state=s%20t"},
      std::chrono::seconds(40));
  std::filesystem::remove_all(profile);
  const auto got = f.get();
  ASSERT_TRUE(got) << got.error().message << "\n" << r.err;
  EXPECT_EQ(*got,
            (params{{"access_token", "eyJ.x+y"}, {"token_type", "Bearer"}, {"state", "s t"}}));
}

}  // namespace
}  // namespace mailoauth::net
