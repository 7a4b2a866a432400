// The HTTP client, through the real module and libcurl, against loopback servers run here.
#include "net/http_client.hpp"

#include "net_test_util.hpp"
#include "test_http_server.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mailoauth::net {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using test::make_http_response;
using test::test_http_server;

test_http_server::handler fixed(int status, std::string body,
                                std::string type = "application/json") {
  return [=](const test::http_request&) { return make_http_response(status, body, type); };
}

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t);
}

TEST(FormEncode, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(form_encode("AZaz09-._~"), "AZaz09-._~");
  // RFC 6749 appendix B's example.
  EXPECT_EQ(form_encode(" %&+\xC2\xA3\xE2\x82\xAC"), "+%25%26%2B%C2%A3%E2%82%AC");
  EXPECT_EQ(form_encode("a=b/c?d#e"), "a%3Db%2Fc%3Fd%23e");
  EXPECT_EQ(form_encode(std::string_view("\0\x01\xff", 3)), "%00%01%FF");
  EXPECT_EQ(form_encode(""), "");
}

TEST(UrlAllowed, HttpsAnywhereHttpOnlyOnLoopback) {
  for (const char* ok :
       {"https://login.microsoftonline.com/common/oauth2/v2.0/token", "HTTPS://example.com",
        "http://127.0.0.1:8080/token", "http://127.8.9.10/", "http://localhost/",
        "http://LOCALHOST:1/x", "http://[::1]:80/token", "http://[::ffff:127.0.0.1]/",
        "http://user@127.0.0.1/", "http://127.0.0.1?x=1", "http://127.0.0.1:8080",
        "http://127.0.0.1#frag"}) {
    EXPECT_TRUE(url_allowed(ok)) << ok;
  }
  for (const char* refused : {"http://example.com/token",
                              "http://10.255.255.1/",
                              "http://127.0.0.1.evil.example/",
                              "http://localhost.evil.example/",
                              "http://127.0.0.1@evil.example/",
                              "http://127.0.0.1:80@evil.example/",
                              "http://evil.example#@127.0.0.1/",
                              "http://evil.example\\@127.0.0.1/",
                              "http://2130706433/",
                              "http://127.1/",
                              "http://[::2]/",
                              "ftp://127.0.0.1/",
                              "file:///etc/passwd",
                              "https:///nohost",
                              "not a url",
                              "",
                              "//127.0.0.1/",
                              "http://127.0.0.1x/",
                              "http://127.0.0.1:80.evil/",
                              "http://a@b@127.0.0.1/",
                              "http://[::1]x/",
                              "http://127.0.0.1%2e/",
                              "http://1.2.3.4.5/",
                              "http://127.0.0.1:80:80/",
                              "http://localhost%2eevil.example/"}) {
    EXPECT_FALSE(url_allowed(refused)) << refused;
  }
}

TEST(HttpClient, PostsTheFormEncoded) {
  test_http_server server(fixed(200, R"({"access_token":"at"})"));
  http_request req;
  req.url = server.url("/token");
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"grant_type", "authorization_code"},
      {"scope", "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"},
      {"code_verifier", "a+b/c=d&e%f?g#h"},
      {"name with space", "Zo\xC3\xAB \xE6\x97\xA5\xE6\x9C\xAC \xE2\x82\xAC"},
      {"empty", ""}};
  for (const auto& [name, value] : fields) {
    // A secret is encoded exactly as a plain value.
    if (name == "code_verifier") {
      req.form.emplace_back(name, secret(value));
    } else {
      req.form.emplace_back(name, value);
    }
  }
  const auto res = perform(req);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"access_token":"at"})");
  EXPECT_EQ(res->content_type, "application/json");

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/token");
  EXPECT_EQ(test::decode_form(seen[0].body), fields);
  EXPECT_EQ(seen[0].body.find(' '), std::string::npos);
  EXPECT_EQ(seen[0].headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(seen[0].headers.at("accept"), "application/json");
  EXPECT_EQ(seen[0].headers.at("user-agent"), "mailoauth/0.1");
  EXPECT_FALSE(seen[0].headers.contains("expect"));
}

TEST(HttpClient, GetsWithExtraHeaders) {
  test_http_server server(fixed(200, "{\"issuer\":\"x\"}", "application/json; charset=utf-8"));
  http_request req;
  req.method = "GET";
  req.url = server.url("/.well-known/openid-configuration?x=1");
  req.headers = {{"Authorization", "Bearer abc"}, {"Accept", "application/jwk-set+json"}};
  const auto res = perform(req);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->content_type, "application/json; charset=utf-8");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/.well-known/openid-configuration?x=1");
  EXPECT_EQ(seen[0].headers.at("authorization"), "Bearer abc");
  EXPECT_EQ(seen[0].headers.at("accept"), "application/jwk-set+json");
}

TEST(HttpClient, AnyStatusIsAResponse) {
  const std::string error_body =
      R"({"error":"invalid_grant","error_description":"AADSTS70008: expired"})";
  for (int status : {400, 401, 403, 404, 429, 500, 502, 503}) {
    test_http_server server(fixed(status, error_body));
    http_request req;
    req.url = server.url("/token");
    req.form = {{"grant_type", "refresh_token"}};
    const auto res = perform(req);
    ASSERT_TRUE(res) << status << ": " << res.error().message;
    EXPECT_EQ(res->status, status);
    EXPECT_EQ(res->body, error_body);
  }
  test_http_server empty(fixed(204, ""));
  http_request req;
  req.method = "GET";
  req.url = empty.url("/");
  const auto res = perform(req);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->body, "");
}

TEST(HttpClient, RedirectsAreNotFollowed) {
  test_http_server server([](const test::http_request&) {
    auto res = make_http_response(302, "");
    res.set("Location", "/elsewhere");
    return res;
  });
  for (const char* method : {"POST", "GET"}) {
    http_request req;
    req.method = method;
    req.url = server.url("/token");
    if (req.method == "POST") req.form = {{"client_secret", "s"}};
    const auto res = perform(req);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 302);
  }
  EXPECT_EQ(server.requests().size(), 2u);  // nobody went to /elsewhere
}

TEST(HttpClient, RetryAfter) {
  const auto with_retry_after = [](std::string value) {
    test_http_server server([value](const test::http_request&) {
      auto res = make_http_response(429, "{}");
      if (!value.empty()) res.set("Retry-After", value);
      return res;
    });
    http_request req;
    req.url = server.url("/token");
    auto res = perform(req);
    EXPECT_TRUE(res) << res.error().message;
    return res ? res->retry_after : std::optional<long>(-1);
  };
  EXPECT_EQ(with_retry_after("120"), 120);
  EXPECT_EQ(with_retry_after("0"), 0);
  EXPECT_EQ(with_retry_after(""), std::nullopt);
  EXPECT_EQ(with_retry_after("soon"), std::nullopt);
  EXPECT_EQ(with_retry_after("-5"), std::nullopt);
  EXPECT_EQ(with_retry_after("1.5"), std::nullopt);

  // HTTP-date (IMF-fixdate): a minute from now, and one in the past.
  const auto http_date = [](std::time_t t) {
    char buf[64];
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf);
  };
  const auto in_a_minute = with_retry_after(http_date(std::time(nullptr) + 60));
  ASSERT_TRUE(in_a_minute.has_value());
  EXPECT_GE(*in_a_minute, 55);
  EXPECT_LE(*in_a_minute, 60);
  EXPECT_EQ(with_retry_after(http_date(std::time(nullptr) - 3600)), 0);
  EXPECT_EQ(with_retry_after("Sun, 06 Nov 1994 08:49:37 CET"), std::nullopt);
}

TEST(HttpClient, BodyIsCappedAtOneMebibyte) {
  constexpr std::size_t mib = 1024 * 1024;
  {
    test_http_server server(fixed(200, std::string(mib, 'a'), "text/plain"));
    http_request req;
    req.method = "GET";
    req.url = server.url("/big");
    const auto res = perform(req);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->body.size(), mib);
  }
  {
    // Content-Length says too much: refused before the body is read.
    test_http_server server(fixed(200, std::string(mib + 1, 'a'), "text/plain"));
    http_request req;
    req.method = "GET";
    req.url = server.url("/big");
    const auto res = perform(req);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, errc::malformed_response);
    EXPECT_NE(res.error().message.find("larger than 1 MiB"), std::string::npos)
        << res.error().message;
  }
  {
    // Chunked, no length announced: stopped while reading.
    test_http_server server([](const test::http_request&) {
      auto res = make_http_response(200, std::string(2 * mib, 'a'), "text/plain");
      res.erase(boost::beast::http::field::content_length);
      res.chunked(true);
      return res;
    });
    http_request req;
    req.url = server.url("/token");
    const auto res = perform(req);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, errc::malformed_response);
  }
}

TEST(HttpClient, PlainHttpToOtherHostsIsRefusedWithoutIo) {
  for (const char* url : {"http://10.255.255.1/token", "http://example.com/token",
                          "http://127.0.0.1@example.com/token"}) {
    http_request req;
    req.url = url;
    req.form = {{"client_secret", "s3cret"}};
    // Any connection attempt would wait for this timeout (10.255.255.1 is unrouted); refusing
    // first takes no time at all. The margin is wide so that a loaded machine cannot fail it
    // (issue 8); the error code says the rest.
    req.connect_timeout = 30s;
    const auto start = std::chrono::steady_clock::now();
    const auto res = perform(req);
    ASSERT_FALSE(res) << url;
    EXPECT_EQ(res.error().code, errc::plaintext_refused) << url;
    EXPECT_LT(since(start), 10s) << url;
  }
}

TEST(HttpClient, InvalidRequestsAreRefused) {
  http_request req;
  req.url = "https://example.com/token";
  req.method = "PUT";
  EXPECT_EQ(perform(req).error().code, errc::invalid_argument);
  req.method = "GET";
  req.form = {{"a", "b"}};
  EXPECT_EQ(perform(req).error().code, errc::invalid_argument);
  req.method = "POST";
  req.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  EXPECT_EQ(perform(req).error().code, errc::invalid_argument);
  req.headers = {{"Bad Name", "x"}};
  EXPECT_EQ(perform(req).error().code, errc::invalid_argument);
  req.headers.clear();
  req.url = "ftp://example.com/";
  EXPECT_EQ(perform(req).error().code, errc::invalid_argument);
}

TEST(HttpClient, ConnectTimeoutToABlackhole) {
  // A listening socket whose accept queue is full: Linux drops further SYNs, so a connection
  // attempt hangs as it would towards an unreachable host, deterministically and locally.
  asio::io_context io;
  asio::ip::tcp::acceptor full(io, {asio::ip::make_address("127.0.0.1"), 0}, true);
  full.listen(0);
  // Non-blocking connects that fill the queue (Asio's synchronous connect would wait).
  std::vector<int> queued;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(full.local_endpoint().port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int k = 0; k < 2; ++k) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    queued.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);

  http_request req;
  req.url = "http://127.0.0.1:" + std::to_string(full.local_endpoint().port()) + "/token";
  req.connect_timeout = 300ms;
  req.timeout = 30s;  // far from both the connect timeout and the bound below
  const auto start = std::chrono::steady_clock::now();
  const auto res = perform(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::timeout) << res.error().message;
  EXPECT_GE(since(start), 250ms);
  EXPECT_LT(since(start), 10s);
  for (int fd : queued) ::close(fd);
}

TEST(HttpClient, UnroutableAddressFailsQuickly) {
  // 10.255.255.1 is meant to be unrouted; some sandboxes intercept every connection instead,
  // which then fails TLS verification. Whatever happens, it fails within the connect timeout.
  http_request req;
  req.url = "https://10.255.255.1/token";
  req.connect_timeout = 300ms;
  req.timeout = 30s;  // far from both the connect timeout and the bound below
  const auto start = std::chrono::steady_clock::now();
  const auto res = perform(req);
  ASSERT_FALSE(res);
  EXPECT_LT(since(start), 10s) << res.error().message;
}

TEST(HttpClient, TotalTimeoutWhenTheServerNeverAnswers) {
  test::server_options silent;
  silent.silent = true;
  test_http_server server(fixed(200, ""), silent);
  http_request req;
  req.url = server.url("/token");
  req.timeout = 400ms;
  const auto start = std::chrono::steady_clock::now();
  const auto res = perform(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::timeout) << res.error().message;
  EXPECT_GE(since(start), 350ms);
  EXPECT_LT(since(start), 10s);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpClient, ConnectionRefused) {
  std::uint16_t port = 0;
  {
    test_http_server gone(fixed(200, ""));
    port = gone.port();
  }
  http_request req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/token";
  const auto res = perform(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::http_failed);
  EXPECT_NE(res.error().message.find("cannot reach http://127.0.0.1:"), std::string::npos)
      << res.error().message;
}

TEST(HttpClient, TlsIsVerified) {
  const auto certs = test::test_certs_dir();
  test::server_options tls;
  tls.cert_file = certs + "/server.pem";
  tls.key_file = certs + "/server.key";
  test_http_server server(fixed(200, "{}"), tls);

  http_request req;
  req.url = server.url("/token");
  auto res = perform(req);  // the system's CAs do not know the test CA
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::certificate_verify_failed) << res.error().message;

  req.cafile = certs + "/other-ca.pem";
  res = perform(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::certificate_verify_failed) << res.error().message;

  req.cafile = certs + "/ca.pem";
  res = perform(req);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);

  req.url = "https://localhost:" + std::to_string(server.port()) + "/token";
  res = perform(req);
  ASSERT_TRUE(res) << res.error().message;

  // A certificate for another name, from the trusted CA: the host name check fails.
  test::server_options wrong = tls;
  wrong.cert_file = certs + "/wrong-host.pem";
  wrong.key_file = certs + "/wrong-host.key";
  test_http_server impostor(fixed(200, "{}"), wrong);
  req.url = impostor.url("/token");
  res = perform(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::certificate_verify_failed) << res.error().message;
}

// Restores an environment variable when the test ends.
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(HttpClient, ProxyFromTheEnvironmentIsUsed) {
  // The "proxy" refuses every tunnel, but records that it was asked.
  test_http_server proxy(fixed(403, ""));
  test_http_server direct(fixed(200, "{}"));
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  scoped_env lower("https_proxy", proxy_url);
  scoped_env upper("HTTPS_PROXY", proxy_url);
  scoped_env plain("http_proxy", proxy_url);

  http_request req;
  req.url = "https://login.example.invalid/tenant/oauth2/v2.0/token";
  req.form = {{"client_secret", "never-sent"}};
  auto res = perform(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::http_failed) << res.error().message;
  auto seen = proxy.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "CONNECT");
  EXPECT_EQ(seen[0].target, "login.example.invalid:443");

  // Loopback endpoints cannot be behind a proxy: they are reached directly.
  req.url = direct.url("/token");
  res = perform(req);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(direct.requests().size(), 1u);
  EXPECT_EQ(proxy.requests().size(), 1u);
}

TEST(HttpClient, LogsNeitherSecretsNorQueries) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  test_http_server server(fixed(200, R"({"access_token":"eyJ0eXAi.body.sig"})"));
  http_request req;
  req.url = server.url("/tenant/token?query=sekrit-query");
  req.form = {{"refresh_token", "M.R3_BAY.sekrit-refresh"}, {"client_secret", "sekrit~cs"}};
  req.headers = {{"Authorization", "Basic c2Vrcml0LWJhc2lj"}};
  const auto res = perform(req);
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(res) << res.error().message;

  const std::string log = captured.str();
  EXPECT_NE(log.find("POST " + server.url("/tenant/token") + " -> 200 in "), std::string::npos)
      << log;
  for (const char* secret : {"sekrit", "c2Vrcml0", "eyJ0eXAi", "query="}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in: " << log;
  }
}

}  // namespace
}  // namespace mailoauth::net
