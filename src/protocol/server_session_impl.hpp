// Internal: the state of a server session, shared by its core (server_session.cpp: framing,
// events, the SASL steps) and the three protocols' command handlers (imap_server.cpp,
// pop3_server.cpp, smtp_server.cpp).
#pragma once

#include "protocol/line_buffer.hpp"
#include "protocol/server_session.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::protocol {

struct server_session::impl {
  explicit impl(server_options o);
  ~impl();

  // Where the session is. Output queued in out_ always goes first, whatever the phase.
  enum class phase {
    commands,       // reading commands before authentication
    sasl_line,      // reading the client's answer to a SASL challenge
    verifying,      // waiting for on_verdict()
    tls_start,      // the go-ahead is out: drop buffered plaintext, then start_tls
    tls_wait,       // waiting for resume(tls)
    authenticated,  // the success reply is out: report it
    handed_over,    // reported; waiting for resume(proceed) or nothing
    app_commands,   // framing commands after authentication for the caller
    app_message,    // framing an SMTP message for the caller
    app_wait,       // a command or message is out; waiting for resume(proceed)
    closing,        // write what is queued, then close
    closed,
  };

  // What framing produced.
  enum class unit { none, ready, too_long, literal_too_large };

  server_action resume(event ev, std::error_code ec, std::string_view bytes);
  server_action next();

  // Framing.
  unit frame_line();
  unit frame_imap_command();
  unit frame_message();

  // A POP3 or SMTP command line taken apart: the verb upper-cased, the arguments as sent. The
  // line is recorded with the credential of AUTH (and of POP3's PASS) replaced by "[redacted]".
  struct verb_line {
    std::string verb;
    std::string_view args;
  };
  verb_line take_verb_line();

  // Handlers of one complete command before authentication, per protocol.
  void imap_command();
  void pop3_command();
  void smtp_command();
  void handle_command();

  // The protocols' words for the ends of an exchange.
  void reply_auth(detail::sasl_server::step::kind k);
  void reply_too_long();
  void reply_literal_too_large();

  // SASL.
  void start_sasl(sasl::mechanism m, std::optional<std::string_view> initial_response);
  void apply(const detail::sasl_server::step& s);
  void verify_password(std::string user, secret password);

  // Output and the transcript.
  void send(std::string_view line);
  void record_client(std::string_view line);
  void record_server(std::string_view line);
  void fail(errc e, std::string why);
  void io_failed(std::error_code ec);

  [[nodiscard]] bool auth_allowed() const noexcept;
  [[nodiscard]] bool offers(sasl::mechanism m) const noexcept;
  [[nodiscard]] std::vector<std::string> capability_words() const;
  [[nodiscard]] std::string_view step_name() const noexcept;
  void clear_command() noexcept;

  server_options opt;
  detail::line_buffer in;
  std::string out;  // queued output; may echo nothing secret, but is wiped anyway
  bool writing = false;
  bool eof = false;
  phase ph = phase::commands;
  server_outcome result;
  std::function<void(const transcript_line&)> sink;

  // The command being framed or handled (IMAP: with literals inline). Holds passwords.
  std::string cmd;
  bool cmd_started = false;
  std::size_t literal_left = 0;
  std::size_t literal_count = 0;
  std::size_t literal_total = 0;
  bool cmd_has_secret = false;  // IMAP LOGIN: literals are summarised, lines redacted

  // SASL, and who is asking: the IMAP tag, POP3's USER.
  std::optional<detail::sasl_server> sasl;
  detail::credential password;  // IMAP LOGIN, POP3 USER/PASS
  bool verifying_password = false;
  std::string tag;
  std::string pop3_user;
  bool smtp_greeted = false;

  // SMTP DATA after authentication.
  std::size_t message_max = 0;
  bool message_big = false;
  bool want_message = false;  // read_message() was called: the next proceed frames a message
  server_action::kind app_kind = server_action::kind::command;
};

}  // namespace mailoauth::protocol
