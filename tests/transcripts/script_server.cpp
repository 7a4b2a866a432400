#include "script_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <stdexcept>

namespace mailoauth::test {
namespace {

constexpr int io_timeout_ms = 10'000;

// One accepted connection, plaintext until tls() is called.
class connection {
 public:
  connection(int fd, const tls_files& files) : fd_(fd), files_(files) {}
  ~connection() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_) SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  std::string tls() {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, files_.certificate.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, files_.key.c_str(), SSL_FILETYPE_PEM) != 1)
      return "cannot load the test certificate " + files_.certificate;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (!wait_readable()) return "timeout before the TLS handshake";
    if (SSL_accept(ssl_) != 1) return "TLS handshake failed (the client may have refused it)";
    if (!pending_.empty()) return "plaintext bytes were buffered when TLS started";
    return {};
  }

  bool write(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const auto left = bytes.size() - done;
      const long n = ssl_ ? SSL_write(ssl_, bytes.data() + done, static_cast<int>(left))
                          : ::send(fd_, bytes.data() + done, left, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // A line with its CRLF, or nullopt on EOF, error or timeout.
  std::optional<std::string> read_line() {
    for (;;) {
      const auto lf = pending_.find('\n');
      if (lf != std::string::npos) {
        auto line = pending_.substr(0, lf + 1);
        pending_.erase(0, lf + 1);
        return line;
      }
      if (!fill()) return std::nullopt;
    }
  }

  // Waits until the client closes the connection (for HANG).
  void wait_for_close() {
    while (fill()) pending_.clear();
  }

 private:
  bool wait_readable() {
    if (ssl_ && SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, io_timeout_ms) == 1;
  }

  bool fill() {
    if (!wait_readable()) return false;
    char buf[16384];
    const long n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  const tls_files& files_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string pending_;
};

std::string shorten(const std::string& s) {
  auto t = s.size() > 200 ? s.substr(0, 200) + "..." : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

}  // namespace

script_server::script_server(tls_files tls) : tls_(std::move(tls)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener_, 4) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("cannot listen on 127.0.0.1");
  port_ = ntohs(addr.sin_port);
}

script_server::~script_server() {
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) ::close(listener_);
}

void script_server::start(std::vector<transcript_step> steps, bool implicit_tls) {
  thread_ = std::thread([this, steps = std::move(steps), implicit_tls]() mutable {
    serve(std::move(steps), implicit_tls);
  });
}

std::string script_server::finish() {
  if (thread_.joinable()) thread_.join();
  return problem_;
}

void script_server::serve(std::vector<transcript_step> steps, bool implicit_tls) {
  pollfd p{listener_, POLLIN, 0};
  if (::poll(&p, 1, io_timeout_ms) != 1) {
    problem_ = "the client never connected";
    return;
  }
  const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    problem_ = "accept failed";
    return;
  }
  connection c(fd, tls_);
  if (implicit_tls) {
    if (auto why = c.tls(); !why.empty()) {
      problem_ = why;
      return;
    }
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& s = steps[i];
    const auto at = " (transcript line " + std::to_string(s.line_number) + ")";
    switch (s.type) {
      case transcript_step::kind::server: {
        // Consecutive server lines go out in one write, as a pipelining attacker would send them.
        std::string bytes = s.text;
        while (i + 1 < steps.size() && steps[i + 1].type == transcript_step::kind::server)
          bytes += steps[++i].text;
        if (!c.write(bytes)) {
          // After the script's last lines the client may hang up at any point: a client that
          // gives up on a FLOOD at its buffer bound closes while the rest is still being
          // written (over TLS the write then fails; over TCP the kernel usually absorbs it).
          if (i + 1 == steps.size()) return;
          problem_ = "the client closed the connection before the server's line" + at;
          return;
        }
        break;
      }
      case transcript_step::kind::client: {
        const auto line = c.read_line();
        if (!line) {
          problem_ = "expected the client to send '" + shorten(s.text) + "' but it closed" + at;
          return;
        }
        if (*line != s.text) {
          problem_ =
              "expected '" + shorten(s.text) + "', the client sent '" + shorten(*line) + "'" + at;
          return;
        }
        break;
      }
      case transcript_step::kind::tls:
        if (auto why = c.tls(); !why.empty()) {
          problem_ = why + at;
          return;
        }
        break;
      case transcript_step::kind::close:
        return;
      case transcript_step::kind::hang:
        c.wait_for_close();
        return;
    }
  }
}

}  // namespace mailoauth::test
