// Helpers of the tcp_server and http_server tests: the server's io_context on threads of its
// own, a record of what the handlers saw, captured log lines, and a plain client written with
// POSIX sockets and OpenSSL directly, so that it shares no code with what it tests.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace mailoauth::test {

using namespace std::chrono_literals;

/// What the handlers saw, one string each, in order; the test waits for them.
class event_log {
 public:
  void push(std::string e) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  /// Waits until there are `n` events (bounded, so that a broken server fails the test rather
  /// than hanging it); returns them.
  std::vector<std::string> wait_for(std::size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, limit, [&] { return items_.size() >= n; });
    return items_;
  }
  std::vector<std::string> all() {
    std::lock_guard lock(mutex_);
    return items_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> items_;
};

/// Log lines of the default logger while it lives, at `level` and above.
class log_capture {
 public:
  explicit log_capture(spdlog::level::level_enum level = spdlog::level::trace)
      : previous_(spdlog::default_logger()), sink_(std::make_shared<sink>(lines_)) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(level);
    spdlog::set_default_logger(logger);
  }
  ~log_capture() { spdlog::set_default_logger(previous_); }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  event_log& lines() { return lines_; }

 private:
  class sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    explicit sink(event_log& out) : out_(out) {}

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      out_.push(std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}

   private:
    event_log& out_;
  };

  event_log lines_;
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<sink> sink_;
};

/// Runs an io_context on `threads` threads until it runs out of work.
class io_runner {
 public:
  explicit io_runner(boost::asio::io_context& io, int threads = 2) : io_(io) {
    for (int i = 0; i < threads; ++i) {
      auto done = std::make_shared<std::promise<void>>();
      done_.push_back(done->get_future());
      threads_.emplace_back([this, done] {
        io_.run();
        done->set_value();
      });
    }
  }
  /// True when every thread's run() returned (the io_context ran out of work) within `limit`.
  bool ran_out(std::chrono::milliseconds limit = 10s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (auto& f : done_)
      if (f.wait_until(until) != std::future_status::ready) return false;
    return true;
  }
  ~io_runner() {
    if (!ran_out(0ms)) io_.stop();
    for (auto& t : threads_) t.join();
  }
  io_runner(const io_runner&) = delete;
  io_runner& operator=(const io_runner&) = delete;

 private:
  boost::asio::io_context& io_;
  std::vector<std::thread> threads_;
  std::vector<std::future<void>> done_;
};

/// A blocking TCP client on 127.0.0.1 with a receive timeout, optionally over TLS.
class raw_client {
 public:
  raw_client() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  explicit raw_client(std::uint16_t port) : raw_client() { EXPECT_TRUE(connect(port)); }
  ~raw_client() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  [[nodiscard]] bool valid() const { return fd_ >= 0; }

  bool connect(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }

  /// A TLS handshake that verifies the server against `ca_file` for 127.0.0.1.
  bool handshake(const std::string& ca_file) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) return false;
    ssl_ = SSL_new(ctx_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    SSL_set_fd(ssl_, fd_);
    return SSL_connect(ssl_) == 1;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                          : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// What one read returns: "" at EOF (or a reset, or the 10 s receive timeout: see eof()).
  std::string read_some() {
    char buf[16 * 1024];
    const long n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      last_errno_ = n < 0 ? errno : 0;
      return {};
    }
    return std::string(buf, static_cast<std::size_t>(n));
  }

  /// Reads until `n` octets have come or the stream ends.
  std::string read_at_least(std::size_t n) {
    std::string out;
    while (out.size() < n) {
      auto s = read_some();
      if (s.empty()) break;
      out += s;
    }
    return out;
  }

  /// Reads until the server closes; "timed out" is not EOF (see closed_by_peer()).
  std::string read_to_end() {
    std::string out;
    for (;;) {
      auto s = read_some();
      if (s.empty()) return out;
      out += s;
    }
  }

  /// After a read returned "": true when the server closed (FIN or reset), false when the
  /// client's own 10 s timeout ended the read.
  [[nodiscard]] bool closed_by_peer() const {
    return last_errno_ != EAGAIN && last_errno_ != EWOULDBLOCK;
  }

  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int last_errno_ = 0;
};

}  // namespace mailoauth::test
