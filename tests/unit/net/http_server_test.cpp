// http_server with the curl program and a raw client: keep-alive, closing after a response and
// what runs then, the size limits, the request deadline, 100-continue, HTTPS.
#include "net/http_server.hpp"

#include "net_test_util.hpp"
#include "server_test_util.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <fstream>
#include <sstream>

namespace mailoauth::net {
namespace {

using namespace std::chrono_literals;
using test::event_log;
using test::io_runner;
using test::raw_client;
namespace asio = boost::asio;
namespace http = boost::beast::http;

std::string file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

http_server::response text(http::status status, std::string body) {
  http_server::response res{status, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  return res;
}

/// Answers "METHOD TARGET (BODY SIZE)".
http_server::reply echo(const http_server::request& req) {
  return text(http::status::ok, std::string(req.method_string()) + " " + std::string(req.target()) +
                                    " (" + std::to_string(req.body().size()) + ")");
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

class HttpServer : public ::testing::Test {
 protected:
  void serve(http_server::handler h, http_server_options o = {}, bool tls = false,
             http_server::error_page errors = {}) {
    server_.emplace(io_, tcp_server_options{}, o);
    if (tls) {
      const auto certs = test::test_certs_dir();
      ASSERT_TRUE(server_->set_tls(file(certs + "/server.pem"), file(certs + "/server.key")));
    }
    const auto port = server_->listen({"127.0.0.1", 0, tls, "http"}, std::move(h), errors);
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
    server_->start();
    run_.emplace(io_);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (run_) {
      EXPECT_TRUE(run_->ran_out());
    }
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  asio::io_context io_;
  std::optional<http_server> server_;
  std::optional<io_runner> run_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpServer, KeepAliveServesSequentialRequestsOnOneConnection) {
  serve(echo);
  const auto r =
      test::run_curl({"-w", "connects=%{num_connects}\n", url("/a"), url("/b?x=1"), url("/c")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GET /a (0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GET /b?x=1 (0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GET /c (0)"), std::string::npos) << r.out;
  EXPECT_EQ(count(r.out, "connects=1\n"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "connects=0\n"), 2u) << r.out;
  EXPECT_EQ(count(r.out, "Content-Length: "), 3u) << r.out;
}

TEST_F(HttpServer, AResponseThatClosesRunsItsContinuationAfterTheClose) {
  event_log seen;
  serve([&](const http_server::request&) {
    http_server::reply r = text(http::status::ok, "last");
    r.res.keep_alive(false);
    r.then = [&] { seen.push("then"); };
    return r;
  });
  {
    raw_client c(port_);
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto got = c.read_to_end();
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
    EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
    EXPECT_EQ(count(got, "HTTP/1.1"), 1u) << got;  // the pipelined second request is not served
    EXPECT_TRUE(got.ends_with("last")) << got;
  }
  EXPECT_EQ(seen.wait_for(1), std::vector<std::string>{"then"});
}

TEST_F(HttpServer, RequestsThatAskToCloseAreClosedAfterTheResponse) {
  serve(echo);
  raw_client c(port_);
  ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const auto got = c.read_to_end();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("GET /x (0)")) << got;
}

TEST_F(HttpServer, TheLastRequestAConnectionMayMakeClosesIt) {
  http_server_options o;
  o.max_requests_per_connection = 2;
  serve(echo, o);
  raw_client c(port_);
  ASSERT_TRUE(
      c.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto got = c.read_to_end();
  EXPECT_EQ(count(got, "HTTP/1.1 200"), 2u) << got;
  EXPECT_EQ(count(got, "Connection: close"), 1u) << got;
  EXPECT_EQ(got.find("GET /3"), std::string::npos) << got;
}

TEST_F(HttpServer, OversizedRequestsGet431And413) {
  http_server_options o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 1024;
  serve(echo, o);
  auto r = test::run_curl({"-H", "X-Big: " + std::string(2000, 'a'), url("/")});
  EXPECT_NE(r.out.find("HTTP/1.1 431 Request Header Fields Too Large"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE(r.out.find("Connection: close"), std::string::npos) << r.out;
  r = test::run_curl({"--data-binary", std::string(2000, 'b'), url("/")});
  EXPECT_NE(r.out.find("HTTP/1.1 413 Payload Too Large"), std::string::npos) << r.out << r.err;
  // Within the limits, all is well.
  r = test::run_curl({"--data-binary", std::string(1000, 'b'), url("/")});
  EXPECT_NE(r.out.find("POST / (1000)"), std::string::npos) << r.out << r.err;
}

TEST_F(HttpServer, MalformedRequestsGet400FromTheErrorPage) {
  serve(echo, {}, false, [](http::status s) {
    auto res = text(s, R"({"error":"invalid_request"})");
    res.set(http::field::content_type, "application/json");
    return res;
  });
  raw_client c(port_);
  ASSERT_TRUE(c.send("NOT HTTP AT ALL\r\n\r\n"));
  const auto got = c.read_to_end();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400 Bad Request\r\n")) << got;
  EXPECT_NE(got.find("Content-Type: application/json\r\n"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with(R"({"error":"invalid_request"})")) << got;
}

TEST_F(HttpServer, AClientThatTricklesItsRequestIsCutOffAtTheRequestDeadline) {
  // Each read has the connection's 30 s deadline; the request as a whole has 200 ms.
  http_server_options o;
  o.request_timeout = 200ms;
  serve(echo, o);
  raw_client c(port_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\n"));
  // One header octet every 20 ms until the server hangs up (never, if the deadline is broken:
  // then the 10 s bound fails the test).
  const auto until = std::chrono::steady_clock::now() + 10s;
  bool cut = false;
  while (std::chrono::steady_clock::now() < until) {
    if (!c.send("X")) {
      cut = true;
      break;
    }
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 20) > 0) {
      EXPECT_EQ(c.read_to_end(), "");  // no response: nobody waits for one
      cut = true;
      break;
    }
  }
  EXPECT_TRUE(cut);
}

TEST_F(HttpServer, ExpectContinueGetsAGoAhead) {
  serve(echo);
  const auto r = test::run_curl(
      {"-H", "Expect: 100-continue", "--data-binary", std::string(500, 'z'), url("/upload")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 100 Continue"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("POST /upload (500)"), std::string::npos) << r.out;
}

TEST_F(HttpServer, ServesHttps) {
  serve(echo, {}, true);
  const auto certs = test::test_certs_dir();
  const auto r = test::run_curl({"--cacert", certs + "/ca.pem",
                                 "https://127.0.0.1:" + std::to_string(port_) + "/secure",
                                 "https://127.0.0.1:" + std::to_string(port_) + "/again"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GET /secure (0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GET /again (0)"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mailoauth::net
