// The loopback listener's sign-in parameters: the code or the token is wiped on every path (the
// redirect handed back, a malformed one, a request to another path, the fragment page's POST),
// together with the request and the read buffer that carried it. The browser is a plain socket
// here, writing from static text, so that the client side puts no copy on the heap itself.
#include "net/loopback_listener.hpp"

#include "freed_memory.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <future>
#include <initializer_list>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mailoauth::net {
namespace {

using namespace std::chrono_literals;
using test::freed_memory_scan;

constexpr std::string_view marker = "MARKER-5c8e02b9";
// Long enough that every copy is a heap block of its own.
constexpr std::string_view tail = "-a-code-or-token-long-enough-for-the-heap";

static_assert(std::is_same_v<decltype(std::declval<loopback_listener&>().wait("", false, 1s)),
                             result<mailoauth::detail::secret_fields>>,
              "the listener hands its parameters back in a container that wipes them");

/// Sends one request made of `parts` to 127.0.0.1:port and reads the answer to its end; returns
/// the status line's code (0 when nothing came back).
int send_request(std::uint16_t port, std::initializer_list<std::string_view> parts) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int status = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    std::array<iovec, 16> iov{};
    std::size_t count = 0;
    for (const auto part : parts) {
      iov[count].iov_base = const_cast<char*>(part.data());
      iov[count].iov_len = part.size();
      ++count;
    }
    if (::writev(fd, iov.data(), static_cast<int>(count)) > 0) {
      std::array<char, 8192> answer{};
      std::size_t got = 0;
      for (;;) {
        const auto n = ::read(fd, answer.data() + got, answer.size() - 1 - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
        if (got == answer.size() - 1) got = 0;  // the page itself does not matter, only its start
      }
      const std::string_view text(answer.data(), got);
      if (text.starts_with("HTTP/1.1 ") && text.size() >= 12)
        status = (text[9] - '0') * 100 + (text[10] - '0') * 10 + (text[11] - '0');
    }
  }
  ::close(fd);
  return status;
}

TEST(loopback_params, the_redirect_handed_back_is_wiped_when_it_goes) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l) << l.error().message;
  const auto port = l->port();
  freed_memory_scan scan(marker);
  {
    // 404 first (the code in a request to another path), then the redirect itself.
    auto browser = std::async(std::launch::async, [port] {
      const int other =
          send_request(port, {"GET /elsewhere?code=", marker, tail,
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"});
      const int redirect =
          send_request(port, {"GET /callback?code=", marker, tail,
                              "&state=s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"});
      return std::vector<int>{other, redirect};
    });
    const auto got = l->wait("/callback", false, 10s);
    EXPECT_EQ(browser.get(), (std::vector<int>{404, 200}));
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->count("code"), 1u);
    EXPECT_TRUE(got->at("code").starts_with(marker));
  }
  EXPECT_EQ(scan.leaks(), 0u);
  EXPECT_GE(scan.blocks(), 3u);
}

TEST(loopback_params, a_malformed_redirect_is_wiped_too) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l) << l.error().message;
  const auto port = l->port();
  freed_memory_scan scan(marker);
  {
    // A repeated code (RFC 6749 section 3.1): refused, and both copies wiped.
    auto browser = std::async(std::launch::async, [port] {
      return send_request(port, {"GET /callback?code=", marker, tail, "&code=", marker, tail,
                                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"});
    });
    const auto got = l->wait("/callback", false, 10s);
    EXPECT_EQ(browser.get(), 400);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().message.find(marker), std::string::npos);
  }
  EXPECT_EQ(scan.leaks(), 0u);
}

TEST(loopback_params, a_broken_escape_after_the_token_is_wiped_too) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l) << l.error().message;
  const auto port = l->port();
  freed_memory_scan scan(marker);
  {
    auto browser = std::async(std::launch::async, [port] {
      return send_request(port, {"GET /callback?code=", marker, tail,
                                 "%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"});
    });
    const auto got = l->wait("/callback", false, 10s);
    EXPECT_EQ(browser.get(), 400);
    ASSERT_FALSE(got);
  }
  EXPECT_EQ(scan.leaks(), 0u);
}

TEST(loopback_params, the_fragment_pages_post_is_wiped) {
  auto l = loopback_listener::open(0, false);
  ASSERT_TRUE(l) << l.error().message;
  const auto port = l->port();
  // The body's length, for Content-Length.
  static_assert(std::string_view("access_token=").size() + marker.size() + tail.size() +
                    std::string_view("&state=s").size() ==
                77);
  freed_memory_scan scan(marker);
  {
    auto browser = std::async(std::launch::async, [port] {
      return send_request(port, {"POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 "Content-Type: application/x-www-form-urlencoded\r\n"
                                 "Content-Length: 77\r\nConnection: close\r\n\r\naccess_token=",
                                 marker, tail, "&state=s"});
    });
    const auto got = l->wait("/callback", true, 10s);
    EXPECT_EQ(browser.get(), 200);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_TRUE(got->at("access_token").starts_with(marker));
  }
  EXPECT_EQ(scan.leaks(), 0u);
}

}  // namespace
}  // namespace mailoauth::net
