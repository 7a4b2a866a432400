// Internal: sans-I/O server sessions for IMAP, POP3 and SMTP submission, the mirror of
// client_session: bytes in, actions out (write, read, start TLS, verify a credential, close,
// "authenticated: hand over"). A session covers the whole dialogue before authentication
// (greeting, CAPABILITY / CAPA / EHLO, STARTTLS / STLS with the plaintext behind the go-ahead
// thrown away, AUTHENTICATE / AUTH with XOAUTH2, OAUTHBEARER, PLAIN or LOGIN, IMAP LOGIN, POP3
// USER/PASS, NOOP, LOGOUT / QUIT, unknown commands), with bounded lines and literals. After it,
// the caller either takes the stream over (a relay: take_pending()) or lets the session frame
// the commands that follow (the sandbox's mailboxes: command actions).
#pragma once

#include <mailoauth/protocol.hpp>

#include "protocol/sasl_engine.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mailoauth::protocol {

/// What a server says, as far as it is the server's own choice. The defaults are Exchange
/// Online's words (protocol-facts.md), which mail programs are known to accept.
struct server_texts {
  /// After "* OK ", "+OK ", "220 <host> ".
  std::string greeting;
  /// IMAP's ID response (RFC 2971), e.g. `("name" "x")`; empty: ID is an unknown command.
  std::string imap_id;
};

/// How a server session behaves.
struct server_options {
  mail_protocol protocol = mail_protocol::imap;
  /// implicit_tls: the driver completes TLS before start(); starttls: the session offers
  /// STARTTLS / STLS; none: plaintext only (loopback listeners).
  transport_security security = transport_security::implicit_tls;
  /// No authentication before TLS (RFC 8314): nothing offered and AUTH refused in plaintext.
  bool require_tls_for_auth = true;
  /// The SASL mechanisms offered once authentication is allowed, in this order.
  std::vector<sasl::mechanism> mechanisms{sasl::mechanism::xoauth2, sasl::mechanism::oauthbearer};
  /// IMAP LOGIN and POP3 USER/PASS with a password (the proxy's local logins). When off, IMAP
  /// LOGIN gets "NO LOGIN failed." and POP3 PASS the failure reply, as Exchange answers.
  bool password_commands = false;
  /// POP3's one-line `AUTH <mech> <response>`: when false it gets "-ERR Protocol error.", as
  /// Office 365 answers today (Microsoft's guide shows it accepted).
  bool pop3_initial_response = true;
  /// The longest command line before authentication, CRLF included: AUTH lines and LOGIN
  /// literals carry tokens and passwords of 8 KB and more.
  std::size_t max_auth_line = 64 * 1024;
  /// The longest command line after authentication, CRLF included.
  std::size_t max_line = 16 * 1024;
  /// The octets of all literals of one IMAP command (APPEND's message), and of an SMTP message.
  std::size_t max_literal = 25 * 1024 * 1024;
  /// Literals in one IMAP command.
  std::size_t max_literals = 64;
  /// SMTP: the server's name in the greeting and EHLO reply, and the client's address for
  /// "Hello [addr]".
  std::string host_name = "localhost";
  std::string peer = "127.0.0.1";
  /// Capability words besides those the session derives (IMAP: STARTTLS, LOGINDISABLED, AUTH=,
  /// SASL-IR; POP3: STLS, SASL, USER; SMTP: STARTTLS, AUTH). The derived ones go where the word
  /// "%auth" stands, or at the end. IMAP: "IMAP4rev1" and the like; POP3: "TOP", "UIDL";
  /// SMTP: EHLO keywords ("SIZE 35882577", "PIPELINING").
  std::vector<std::string> capabilities;
  server_texts texts;
};

/// The placeholder in server_options::capabilities for the words the session derives.
inline constexpr std::string_view derived_capabilities = "%auth";

/// What the driver must do next.
struct server_action {
  enum class kind {
    /// Read from the client and call resume(data, ..., bytes) or resume(eof).
    read,
    /// Write `data` in full, then resume(written). `data` stays valid until then.
    write,
    /// The server side of the TLS handshake, then resume(tls).
    start_tls,
    /// Decide pending_credential() and call on_verdict().
    verify,
    /// The client is authenticated (see outcome()); the success reply went out. Take the
    /// stream over (take_pending() has what the client pipelined), or resume(proceed) to have
    /// the session frame the next command.
    authenticated,
    /// After authentication: command() holds the next command (IMAP: with its literals inline,
    /// "{n}\r\n" and the octets). Queue replies with send(), then resume(proceed).
    command,
    /// The message of SMTP DATA (after read_message()) is in command(), dot-unstuffed.
    message,
    /// The session is over; see outcome(). The driver ends the connection gracefully.
    close,
  };
  kind type = kind::close;
  std::string_view data;
};

/// How the session ended, or where it is.
struct server_outcome {
  /// Set when the session ended with a failure: an I/O error the driver reported (with the
  /// step in `why`), the client's EOF (connection_closed), a line too long, a literal too large.
  std::error_code error;
  std::string why;
  /// After authentication: who (the verifier's identity), by which mechanism.
  bool authenticated = false;
  std::string identity;
  std::optional<sasl::mechanism> mechanism;
  bool password_command = false;
  /// True once TLS is up (implicit, or after STARTTLS).
  bool tls = false;
  /// Octets the client sent in plaintext behind STARTTLS, thrown away (CVE-2011-0411).
  std::size_t discarded_before_tls = 0;
  /// The client logged out (LOGOUT, QUIT).
  bool logged_out = false;
};

/// One server session. Not copyable; movable.
class server_session {
 public:
  enum class event { start, data, eof, written, tls, proceed };

  explicit server_session(server_options options);
  ~server_session();
  server_session(server_session&&) noexcept;
  server_session& operator=(server_session&&) noexcept;

  /// The result of the last step: `ec` set means that step failed (a write or read error, a
  /// TLS failure, a deadline), and the session ends, saying which step it was.
  server_action resume(event ev, std::error_code ec = {}, std::string_view bytes = {});
  server_action start() { return resume(event::start); }
  /// The verifier's decision on pending_credential().
  server_action on_verdict(const detail::verdict& v);

  /// Valid while the last action was verify.
  [[nodiscard]] const detail::credential& pending_credential() const noexcept;

  /// After a command action: the command. Wiped when the next one is read.
  [[nodiscard]] std::string_view command() const noexcept;
  /// Queues a reply line (CRLF added) for the next write; send_raw() queues octets as they are.
  void send(std::string_view line);
  void send_raw(std::string_view octets);
  /// After a command action: the next resume(proceed) reads an SMTP message (up to ".") instead
  /// of a command, and returns a message action. Octets beyond `max_size` are dropped and
  /// message_too_big() says so.
  void read_message(std::size_t max_size);
  [[nodiscard]] bool message_too_big() const noexcept;
  /// After a command action: write what is queued, then close.
  void finish();

  /// What the client sent behind the command that authenticated it, removed from the session.
  std::string take_pending();

  [[nodiscard]] const server_outcome& outcome() const noexcept;

  /// Called for every line sent or received, credentials replaced by "[redacted]"; literals and
  /// messages summarised.
  void on_transcript(std::function<void(const transcript_line&)> sink);

  /// The capability words the session offers now (for a post-authentication CAPABILITY).
  [[nodiscard]] std::vector<std::string> capabilities() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace mailoauth::protocol
