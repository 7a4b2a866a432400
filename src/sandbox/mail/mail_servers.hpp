// The sandbox's IMAP, POP3 and SMTP servers (issue 4, build item 2): Exchange Online's side of
// Microsoft's guide on loopback. They accept SASL XOAUTH2 and OAUTHBEARER only with a valid
// sandbox access token, answer as Microsoft's guide shows, and keep a small mailbox per user in a
// state folder so that real mail programs have something to read and write.
#pragma once

#include <mailoauth/result.hpp>

#include "sandbox/core/pki.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace mailoauth::sandbox {

/// The six listeners: implicit TLS and STARTTLS for each protocol.
enum class mail_listener { imaps, imap, pop3s, pop3, smtps, smtp };

/// "imaps", "imap", ... as in the URL schemes of `mailoauth check`.
const char* scheme(mail_listener l) noexcept;

/// One port per listener; 0 asks the system for any free port.
struct mail_ports {
  std::uint16_t imaps = 0;
  std::uint16_t imap = 0;
  std::uint16_t pop3s = 0;
  std::uint16_t pop3 = 0;
  std::uint16_t smtps = 0;
  std::uint16_t smtp = 0;

  [[nodiscard]] std::uint16_t get(mail_listener l) const noexcept;
  void set(mail_listener l, std::uint16_t port) noexcept;
};

/// One line of a session's exchange, credentials already redacted. `from_client` tells "C:"
/// from "S:"; message bodies (APPEND, DATA, FETCH, RETR) are left out.
struct transcript_line {
  std::uint64_t session = 0;  // numbers the connections from 1
  mail_listener listener = mail_listener::imaps;
  bool from_client = false;
  std::string text;
};

struct mail_server_options {
  /// TLS: the server certificate chain (leaf first) and its key, PEM (pki::server_*_pem).
  std::string server_cert_pem;
  std::string server_key_pem;
  /// The identity platform's token-signing public key (pki::token_key.public_pem).
  std::string token_public_pem;
  /// Mail domains the sandbox hosts: mailboxes exist for every address at them.
  std::vector<std::string> domains{"contoso.onmicrosoft.com"};
  /// Mailboxes live in <state_dir>/mail/.
  std::filesystem::path state_dir;
  /// Refuse POP3's one-line `AUTH XOAUTH2 <token>` with "-ERR Protocol error.", as Office 365
  /// does today (Microsoft's guide shows it accepted).
  bool strict = false;
  std::string address = "127.0.0.1";
  mail_ports ports;
  /// The name in the SMTP greeting, EHLO reply and 535 reply.
  std::string host_name = "SANDBOX01.mailoauth.localhost";
  /// Put in OAUTHBEARER failure challenges when set (the identity platform's discovery URL).
  std::string openid_configuration;
  /// How long a client may stay silent between commands, and the deadline of every other read,
  /// write and TLS handshake.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(30);
  std::chrono::milliseconds io_timeout = std::chrono::seconds(60);
  /// Command lines after authentication; before it (AUTH lines carry tokens of 8 KB and more)
  /// the longer limit applies.
  std::size_t max_line = 16 * 1024;
  std::size_t max_auth_line = 64 * 1024;
  /// The largest message accepted by APPEND and DATA (advertised in SMTP's SIZE).
  std::size_t max_message = 25 * 1024 * 1024;
  std::size_t max_connections = 4096;
  /// Accepted clock skew when checking nbf and exp, in seconds.
  std::int64_t clock_leeway = 0;
  /// Called (on the servers' threads) for every line of every session, when set.
  std::function<void(const transcript_line&)> on_transcript;
};

/// Options filled from the sandbox's keys and certificates: TLS from the server certificate,
/// token checks with the signing key.
mail_server_options make_mail_server_options(const pki& keys,
                                             const std::filesystem::path& state_dir);

/// The six listeners and their sessions, one coroutine per connection, on the io_context given
/// to start(); that io_context may run on any number of threads. Destroy this object before
/// that io_context (its destructor calls stop(), which posts to it).
class mail_servers {
 public:
  explicit mail_servers(mail_server_options options);
  ~mail_servers();
  mail_servers(const mail_servers&) = delete;
  mail_servers& operator=(const mail_servers&) = delete;

  /// Loads the TLS key, binds every listener and starts accepting; once per object. Fails
  /// (nothing left bound) when a port is taken or the certificate or key cannot be used.
  result<void> start(boost::asio::io_context& io);

  /// The ports actually bound (valid after start()).
  [[nodiscard]] mail_ports ports() const;

  /// Closes the listeners and every open connection; the io_context then runs out of work.
  /// Safe to call from any thread, more than once.
  void stop();

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace mailoauth::sandbox
