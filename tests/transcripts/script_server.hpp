// A loopback server that plays the server's side of a transcript over TCP, with implicit TLS or
// STARTTLS when the transcript says so, and checks every line the real client sends.
#pragma once

#include "transcript.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mailoauth::test {

struct tls_files {
  std::string certificate;
  std::string key;
};

class script_server {
 public:
  /// Listens on 127.0.0.1, on a free port.
  explicit script_server(tls_files tls);
  ~script_server();
  script_server(const script_server&) = delete;
  script_server& operator=(const script_server&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  /// Serves one connection in a thread, playing `steps`; `implicit_tls` does the handshake
  /// before the first step.
  void start(std::vector<transcript_step> steps, bool implicit_tls);

  /// Waits for the connection to end. Empty when the client did exactly what the steps say,
  /// else what went wrong.
  std::string finish();

 private:
  void serve(std::vector<transcript_step> steps, bool implicit_tls);

  tls_files tls_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::string problem_;
};

}  // namespace mailoauth::test
