// A scripted HTTP/1.1 server on loopback for the HTTP client's tests: each request goes to a
// handler that builds the response, and every request is recorded. Plain or TLS; it can also
// read a request and never answer (timeouts).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mailoauth::test {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

struct recorded_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct server_options {
  std::string address = "127.0.0.1";
  /// TLS when both are set.
  std::string cert_file;
  std::string key_file;
  /// Reads each request and never answers.
  bool silent = false;
};

class test_http_server {
 public:
  using handler = std::function<http_response(const http_request&)>;

  explicit test_http_server(handler h, server_options options = {});
  ~test_http_server();
  test_http_server(const test_http_server&) = delete;
  test_http_server& operator=(const test_http_server&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  /// "http://127.0.0.1:PORT" + path (https:// with TLS, [::1] for IPv6).
  [[nodiscard]] std::string url(const std::string& path) const;
  [[nodiscard]] std::vector<recorded_request> requests() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A response with `status`, a body and a content type, ready to send.
http_response make_http_response(int status, std::string body,
                                 std::string content_type = "application/json");

/// Decodes application/x-www-form-urlencoded ("a=1&b=%20") for assertions; written
/// independently of the code under test.
std::vector<std::pair<std::string, std::string>> decode_form(const std::string& body);

}  // namespace mailoauth::test
