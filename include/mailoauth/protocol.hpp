// Sans-I/O client sessions for IMAP (rev1 and rev2), POP3 and SMTP submission: greeting,
// capability discovery, STARTTLS and SASL OAuth authentication. A session consumes the bytes the
// server sent and says what to do next; it never touches a socket, so the same code serves the
// network driver, the transcript tests and the fuzzers.
#pragma once

#include <mailoauth/error.hpp>
#include <mailoauth/sasl.hpp>
#include <mailoauth/secret.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::protocol {

enum class mail_protocol { imap, pop3, smtp };

/// How the connection is protected. implicit_tls: the driver completes TLS before the greeting.
/// starttls: the session asks for TLS and refuses to go on without it. none: plaintext, which the
/// CLI allows only for loopback hosts with --insecure-plaintext.
enum class transport_security { implicit_tls, starttls, none };

/// When to put the SASL initial response on the command line.
enum class initial_response_policy {
  /// IMAP with SASL-IR and SMTP when the line fits; POP3 never (Microsoft requires two steps).
  automatic,
  /// Wherever the protocol allows it and the line fits, POP3 included.
  prefer,
  /// Always the two-step exchange.
  never,
};

std::string_view name(mail_protocol p) noexcept;

struct session_options {
  mail_protocol protocol = mail_protocol::imap;
  transport_security security = transport_security::implicit_tls;
  std::string user;
  secret token;
  /// Forces a mechanism; otherwise XOAUTH2 when offered, else OAUTHBEARER.
  std::optional<sasl::mechanism> mechanism;
  initial_response_policy initial_response = initial_response_policy::automatic;
  /// Sent in OAUTHBEARER's host and port fields (RFC 7628 section 3.1).
  std::string host;
  std::optional<std::uint16_t> port;
  /// The name given in SMTP EHLO.
  std::string client_name = "localhost";
  /// Log out politely (LOGOUT / QUIT) once the verdict is known.
  bool logout = true;
  /// Longest server line the session buffers; a longer one is a protocol error.
  std::size_t max_line_length = 64 * 1024;
  /// Most lines the session accepts in one reply (hostile servers may send endless lines).
  std::size_t max_reply_lines = 10'000;
};

/// One line of the exchange for display. Credentials are already redacted.
struct transcript_line {
  enum class direction { client, server };
  direction dir;
  std::string text;
};

/// What came of the session.
struct session_outcome {
  /// Set when the session failed; empty once authenticated.
  std::error_code error;
  diagnostics diag;
  /// The server's decoded JSON error challenge, when it sent one.
  std::optional<sasl::error_challenge> challenge;
  /// Capabilities seen last (after TLS when TLS was used).
  std::vector<std::string> capabilities;
  /// The mechanism used, once one was chosen.
  std::optional<sasl::mechanism> mechanism;
  /// True when the token went out on the command line (initial response).
  bool used_initial_response = false;
  /// True once the server accepted the token (the session may still be logging out).
  bool verdict_accepted = false;

  /// The server accepted the token and nothing failed.
  [[nodiscard]] bool authenticated() const noexcept { return verdict_accepted && !error; }
};

/// What the driver must do next.
struct next_action {
  enum class kind {
    /// Read some bytes from the server: resume(event::data, {}, bytes), or event::eof.
    read,
    /// Write `data` in full, then resume(event::written). `data` stays valid until then.
    write,
    /// Perform the TLS handshake now (the first action with implicit TLS), then
    /// resume(event::tls).
    start_tls,
    /// The session is over; see outcome(). The driver closes the connection.
    done,
  };
  kind type = kind::done;
  std::string_view data;
};

/// A client session: the greeting to the verdict (and a polite logout).
class client_session {
 public:
  /// What the driver reports: the session started, bytes arrived, the server closed the
  /// connection, the last write completed, the TLS handshake completed.
  enum class event { start, data, eof, written, tls };

  explicit client_session(session_options options);
  ~client_session();
  client_session(client_session&&) noexcept;
  client_session& operator=(client_session&&) noexcept;

  /// The result of the last step (Boost.MySQL's sansio shape). `ec` set means the step failed:
  /// a read or write error, a TLS handshake failure (errc::certificate_verify_failed when the
  /// certificate was refused), or a deadline (std::errc::timed_out); `bytes` then may hold
  /// the driver's description of it. The session decides the outcome's error code and
  /// diagnostic for every step, in one place.
  next_action resume(event ev, std::error_code ec = {}, std::string_view bytes = {});
  /// The first action: resume(event::start).
  next_action start() { return resume(event::start); }

  /// Valid once an action of kind done was returned.
  [[nodiscard]] const session_outcome& outcome() const noexcept;

  /// Called for every line sent or received, with credentials redacted.
  void on_transcript(std::function<void(const transcript_line&)> sink);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mailoauth::protocol
