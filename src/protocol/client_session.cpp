// The client session: one sans-I/O machine for IMAP, POP3 and SMTP, an explicit state machine
// that receives the result of every step (Boost.MySQL's sansio algorithms are the model), so
// that every failure, the network's included, is turned into an error code and a diagnostic
// here and nowhere else. The SASL exchange's content comes from the one engine
// (sasl_engine.hpp); the dialects parse replies.
#include <mailoauth/protocol.hpp>

#include "protocol/dialect.hpp"
#include "protocol/line_buffer.hpp"
#include "protocol/sasl_engine.hpp"

namespace mailoauth::protocol {

std::string_view name(mail_protocol p) noexcept {
  switch (p) {
    case mail_protocol::imap:
      return "IMAP";
    case mail_protocol::pop3:
      return "POP3";
    case mail_protocol::smtp:
      return "SMTP";
  }
  return "?";
}

namespace {

using detail::expectation;
using detail::reply;

// An IMAP literal larger than this in a reply we only skip is not a real server's doing.
constexpr std::size_t max_literal = 1024 * 1024;

std::unique_ptr<detail::dialect> make_dialect(const session_options& o) {
  switch (o.protocol) {
    case mail_protocol::imap:
      return detail::make_imap_dialect();
    case mail_protocol::pop3:
      return detail::make_pop3_dialect();
    case mail_protocol::smtp:
      return detail::make_smtp_dialect(o.client_name);
  }
  return detail::make_imap_dialect();
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
}

// What the user should do about a refusal, from what the server said.
std::string explain_rejection(const reply& r, const std::optional<sasl::error_challenge>& ch) {
  if (r.line.find("5.7.139") != std::string::npos)
    return "SMTP AUTH is switched off for this tenant or mailbox; an administrator must enable "
           "authenticated SMTP (Exchange Online: Set-CASMailbox -SmtpClientAuthenticationDisabled "
           "$false)";
  if (ch) return sasl::explain(*ch);
  return "the server refused the token: check that it is current, that it was issued for this "
         "user, and that it carries the scope for this protocol";
}

bool is_timeout(std::error_code ec) {
  return ec == std::errc::timed_out || ec == make_error_code(errc::timeout);
}

}  // namespace

struct client_session::impl {
  // Where the session is; each stage ends with a complete reply or a step's result.
  enum class stage {
    tls_first,  // implicit TLS: the handshake before the greeting
    greeting,
    caps_plain,    // CAPABILITY / CAPA / EHLO before STARTTLS
    starttls,      // the STARTTLS command's reply
    tls_upgrade,   // the handshake after the go-ahead
    caps,          // capabilities (after TLS when TLS is used)
    authenticate,  // replies to AUTHENTICATE / AUTH
    logout,        // the polite goodbye; its outcome does not change the verdict
    done,
  };
  enum class pull { more, complete, error };

  explicit impl(session_options o)
      : opt(std::move(o)), dialect(make_dialect(opt)), in(opt.max_line_length) {}
  ~impl() { wipe(wbuf); }

  session_options opt;
  std::unique_ptr<detail::dialect> dialect;
  detail::line_buffer in;
  std::function<void(const transcript_line&)> sink;
  session_outcome out;
  stage st = stage::tls_first;

  std::string wbuf;  // the line being written; may hold the credential, wiped after the write
  std::optional<detail::capabilities> caps;
  std::optional<detail::sasl_client> sasl;
  bool tls_active = false;
  bool eof = false;
  bool sent_response = false;
  std::size_t literal_left = 0;
  std::size_t lines_in_reply = 0;
  detail::feed_result feed_error;
  std::string last_server_line;

  [[nodiscard]] const reply& current() const { return dialect->current(); }

  [[nodiscard]] std::string_view stage_text() const {
    switch (st) {
      case stage::tls_first:
      case stage::tls_upgrade:
        return "starting TLS";
      case stage::greeting:
        return "waiting for the greeting";
      case stage::caps_plain:
        return "asking for capabilities before STARTTLS";
      case stage::starttls:
        return "asking for STARTTLS";
      case stage::caps:
        return "asking for capabilities";
      case stage::authenticate:
        return "authenticating";
      case stage::logout:
        return "logging out";
      case stage::done:
        break;
    }
    return "finishing";
  }

  void emit(transcript_line::direction dir, std::string text) {
    if (sink) sink(transcript_line{dir, std::move(text)});
  }

  // A hostile or confused server might echo the credential back; never show it.
  std::string redact(std::string_view line) const {
    std::string s(line);
    if (sasl) replace_all(s, sasl->response().reveal(), "[redacted]");
    if (!opt.token.empty()) replace_all(s, opt.token.reveal(), "[redacted]");
    return s;
  }

  void set_feed_error(errc e, std::string why) {
    feed_error.k = detail::feed_result::kind::error;
    feed_error.error = e;
    feed_error.why = std::move(why);
  }

  pull pull_reply() {
    for (;;) {
      if (literal_left > 0 && !in.skip(literal_left)) return pull::more;
      auto line = in.next_line();
      if (!line) {
        if (in.too_long()) {
          set_feed_error(errc::line_too_long,
                         "a line longer than " + std::to_string(opt.max_line_length) + " bytes");
          return pull::error;
        }
        return pull::more;
      }
      last_server_line = redact(*line);
      emit(transcript_line::direction::server, last_server_line);
      if (++lines_in_reply > opt.max_reply_lines) {
        set_feed_error(errc::too_many_lines,
                       "more than " + std::to_string(opt.max_reply_lines) + " lines in one reply");
        return pull::error;
      }
      auto r = dialect->feed(*line);
      if (r.k == detail::feed_result::kind::error) {
        feed_error = std::move(r);
        return pull::error;
      }
      if (r.k == detail::feed_result::kind::complete) return pull::complete;
      if (r.literal > max_literal) {
        set_feed_error(errc::line_too_long, "a literal of " + std::to_string(r.literal) + " bytes");
        return pull::error;
      }
      literal_left = r.literal;
    }
  }

  // Writes a line, then reads the reply of the given kind.
  next_action write(std::string line, std::string display, expectation reply_kind) {
    emit(transcript_line::direction::client, std::move(display));
    wipe(wbuf);
    wbuf = std::move(line);
    wbuf.append("\r\n");
    dialect->expect(reply_kind);
    lines_in_reply = 0;
    return {next_action::kind::write, wbuf};
  }
  next_action write(std::string line, expectation reply_kind) {
    auto display = line;
    return write(std::move(line), std::move(display), reply_kind);
  }

  next_action done() {
    wipe(wbuf);
    sasl.reset();
    st = stage::done;
    return {next_action::kind::done, {}};
  }

  // Ends the session with an error; `server` says whether the last server line explains it.
  next_action fail(errc e, std::string why, bool server = true) {
    out.verdict_accepted = false;
    out.error = make_error_code(e);
    out.diag.client_message = std::move(why);
    if (server) out.diag.server_message = last_server_line;
    return done();
  }

  // A step failed in the driver: decide what it means for the user, here.
  next_action step_failed(event ev, std::error_code ec, std::string_view detail) {
    // The verdict is known once the session logs out; a goodbye that fails does not change it.
    if (st == stage::logout) return done();
    const std::string during = " while " + std::string(stage_text());
    const std::string why = detail.empty() ? ec.message() : std::string(detail);
    // For a deadline, `detail` is the limit ("within 30 s").
    if (is_timeout(ec))
      return fail(errc::timeout,
                  "no answer from " + (opt.host.empty() ? std::string("the server") : opt.host) +
                      (detail.empty() ? std::string() : " " + std::string(detail)) + during,
                  false);
    switch (ev) {
      case event::tls:
        return fail(ec == make_error_code(errc::certificate_verify_failed)
                        ? errc::certificate_verify_failed
                        : errc::tls_handshake_failed,
                    "the TLS handshake failed" + during + ": " + why, false);
      case event::written:
        return fail(errc::connection_closed, "writing to the server failed" + during + ": " + why,
                    false);
      case event::start:
      case event::data:
      case event::eof:
        break;
    }
    return fail(errc::connection_closed, "reading from the server failed" + during + ": " + why,
                false);
  }

  next_action protocol_failure() {
    return fail(feed_error.error,
                "the server sent " + feed_error.why + " (while " + std::string(stage_text()) + ")");
  }

  std::string response_display() const {
    return "[redacted " + std::string(sasl::name(*out.mechanism)) + " response for " + opt.user +
           ", token of " + std::to_string(opt.token.size()) + " bytes]";
  }

  next_action begin();
  next_action read_reply();
  next_action on_reply();
  next_action after_tls();
  next_action ask_capabilities(stage next);
  next_action authenticate();
  next_action on_auth_reply();
  next_action logout();
  next_action resume(event ev, std::error_code ec, std::string_view bytes);
};

next_action client_session::impl::begin() {
  if (opt.token.empty()) return fail(errc::invalid_argument, "the access token is empty", false);
  if (opt.user.empty()) return fail(errc::invalid_argument, "the user name is empty", false);
  // Validated before anything goes on the wire: ^A would end an XOAUTH2 item, CR or LF a line.
  if (auto why = sasl::invalid_field(opt.user, opt.host); !why.empty())
    return fail(errc::invalid_argument, why, false);
  if (opt.mechanism && !sasl::is_bearer(*opt.mechanism))
    return fail(errc::invalid_argument, "only XOAUTH2 and OAUTHBEARER carry a token", false);
  if (opt.security == transport_security::implicit_tls) {
    st = stage::tls_first;
    return {next_action::kind::start_tls, {}};
  }
  st = stage::greeting;
  dialect->expect(expectation::greeting);
  return read_reply();
}

next_action client_session::impl::after_tls() {
  tls_active = true;
  if (st == stage::tls_first) {
    st = stage::greeting;
    dialect->expect(expectation::greeting);
    return read_reply();
  }
  // Everything learned before TLS is forgotten (RFC 3207 section 4.2, RFC 2595 section 3.1).
  in.clear();
  caps.reset();
  return ask_capabilities(stage::caps);
}

// Takes a complete reply from what arrived, or asks for more.
next_action client_session::impl::read_reply() {
  const auto p = pull_reply();
  // A goodbye the server garbles does not change the verdict.
  if (p == pull::error) return st == stage::logout ? done() : protocol_failure();
  if (p == pull::complete) return on_reply();
  if (eof) {
    if (st == stage::logout) return done();
    return fail(errc::connection_closed,
                "the server closed the connection while " + std::string(stage_text()));
  }
  return {next_action::kind::read, {}};
}

next_action client_session::impl::ask_capabilities(stage next) {
  if (caps && next == stage::caps) return authenticate();
  st = next;
  return write(dialect->capability_command(), dialect->capability_reply_multiline()
                                                  ? expectation::multiline
                                                  : expectation::single);
}

next_action client_session::impl::on_reply() {
  switch (st) {
    case stage::greeting:
      if (current().st == reply::status::preauth) {
        // RFC 8314 / "Why TLS is better without STARTTLS": PREAUTH before TLS would skip it.
        if (!tls_active && opt.security == transport_security::starttls)
          return fail(errc::preauth_without_tls,
                      "the server sent PREAUTH before STARTTLS, which would skip TLS; refusing to "
                      "continue");
        return fail(errc::preauthenticated,
                    "the server authenticated the connection by other means; the token was not "
                    "tested");
      }
      if (current().st != reply::status::ok)
        return fail(errc::server_unavailable, "the server refused the connection in its greeting");
      if (opt.protocol == mail_protocol::imap) caps = dialect->parse_capabilities(current());
      if (opt.security == transport_security::starttls) {
        if (caps) {
          st = stage::caps_plain;
          return on_reply();
        }
        return ask_capabilities(stage::caps_plain);
      }
      return ask_capabilities(stage::caps);

    case stage::caps_plain:
      if (!caps) caps = dialect->parse_capabilities(current());
      if (!caps || !caps->starttls)
        return fail(errc::starttls_not_offered,
                    "the server does not offer STARTTLS, so the token cannot be sent safely; use "
                    "the implicit-TLS port (imaps://, pop3s://, smtps://) if it has one");
      st = stage::starttls;
      return write(dialect->starttls_command(), expectation::single);

    case stage::starttls:
      if (current().st != reply::status::ok)
        return fail(errc::starttls_refused,
                    "the server refused STARTTLS; not continuing without TLS");
      // Bytes behind the go-ahead were sent before TLS and could be an attacker's (curl
      // CVE-2021-22947): abort rather than read them after the handshake.
      if (in.has_pending() || literal_left > 0)
        return fail(errc::starttls_injection,
                    "the server sent data behind its STARTTLS go-ahead, which an attacker may have "
                    "injected; aborting");
      st = stage::tls_upgrade;
      return {next_action::kind::start_tls, {}};

    case stage::caps:
      caps = dialect->parse_capabilities(current());
      // POP3 servers without CAPA exist (RFC 2449 is an extension); the others must answer.
      if (!caps && opt.protocol != mail_protocol::pop3)
        return fail(errc::unexpected_reply, "the server did not list its capabilities");
      if (!caps) caps.emplace();
      return authenticate();

    case stage::authenticate:
      return on_auth_reply();

    case stage::logout:
    case stage::done:
    case stage::tls_first:
    case stage::tls_upgrade:
      break;
  }
  return done();
}

next_action client_session::impl::authenticate() {
  st = stage::authenticate;
  out.capabilities = caps->words;
  // The forced mechanism, else XOAUTH2 (Microsoft's guide's), else OAUTHBEARER.
  if (opt.mechanism) {
    out.mechanism = opt.mechanism;
  } else if (caps->offers("XOAUTH2")) {
    out.mechanism = sasl::mechanism::xoauth2;
  } else if (caps->offers("OAUTHBEARER")) {
    out.mechanism = sasl::mechanism::oauthbearer;
  } else {
    std::string offered;
    for (const auto& m : caps->mechanisms) offered += (offered.empty() ? "" : " ") + m;
    return fail(errc::mechanism_not_offered,
                "the server offers neither XOAUTH2 nor OAUTHBEARER (it offers: " +
                    (offered.empty() ? std::string("no SASL mechanisms") : offered) +
                    "); OAuth may be disabled for this server or account");
  }
  const auto& prof = detail::profile(opt.protocol);
  sasl.emplace(prof, *out.mechanism, opt.user, opt.token, opt.host, opt.port);
  const auto& response = sasl->response().reveal();
  out.used_initial_response =
      sasl->use_initial_response(caps->sasl_ir, opt.initial_response,
                                 dialect->auth_command_length(*out.mechanism, response.size()));
  auto command = dialect->auth_command(*out.mechanism);
  if (!out.used_initial_response) return write(std::move(command), expectation::authenticate);
  sent_response = true;
  auto display = command + " " + response_display();
  // One allocation of the final size, so that no smaller copy of the token is freed unwiped.
  std::string line;
  line.reserve(command.size() + 1 + response.size() + 2);
  line.append(command).append(" ").append(response);
  return write(std::move(line), std::move(display), expectation::authenticate);
}

next_action client_session::impl::on_auth_reply() {
  if (current().st == reply::status::continuation) {
    const auto step = sasl->on_continuation(current().payload, sent_response);
    using k = detail::sasl_client::step::kind;
    switch (step.k) {
      case k::send_response: {
        // The empty continuation of the two-step exchange.
        sent_response = true;
        const auto& response = sasl->response().reveal();
        std::string line;
        line.reserve(response.size() + 2);
        line.append(response);
        return write(std::move(line), response_display(), expectation::authenticate);
      }
      case k::answer:
        out.challenge = sasl->challenge();
        return write(step.line, expectation::authenticate);
      case k::cancel:
        return write(step.line, expectation::authenticate);
      case k::fail:
        return fail(errc::unexpected_reply,
                    "the server sent another challenge after the exchange should have ended");
    }
  }

  out.diag.server_message = last_server_line;
  switch (current().st) {
    case reply::status::ok:
      out.verdict_accepted = true;
      out.error = {};
      out.diag.client_message = "authenticated";
      break;
    case reply::status::no:
      out.error = make_error_code(errc::authentication_failed);
      out.diag.client_message = explain_rejection(current(), out.challenge);
      break;
    case reply::status::temporary:
      out.error = make_error_code(errc::server_unavailable);
      out.diag.client_message =
          "the server could not check the token just now (a temporary failure on its side); "
          "try again later";
      break;
    default:
      out.error = make_error_code(errc::unexpected_reply);
      out.diag.client_message = "the server rejected the AUTHENTICATE command itself";
      break;
  }
  if (sasl->cancelled() && !out.verdict_accepted) {
    out.error = make_error_code(errc::malformed_reply);
    out.diag.client_message =
        "the server's challenge was not base64 JSON, so the exchange was cancelled";
  }
  return logout();
}

next_action client_session::impl::logout() {
  sasl.reset();
  if (!opt.logout || eof) return done();
  st = stage::logout;
  return write(dialect->logout_command(), expectation::single);
}

next_action client_session::impl::resume(event ev, std::error_code ec, std::string_view bytes) {
  if (st == stage::done) return {next_action::kind::done, {}};
  if (ec) return step_failed(ev, ec, bytes);
  switch (ev) {
    case event::start:
      return begin();
    case event::data:
      in.append(bytes);
      return read_reply();
    case event::eof:
      eof = true;
      return read_reply();
    case event::written:
      wipe(wbuf);
      return read_reply();
    case event::tls:
      return after_tls();
  }
  return done();
}

client_session::client_session(session_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}
client_session::~client_session() = default;
client_session::client_session(client_session&&) noexcept = default;
client_session& client_session::operator=(client_session&&) noexcept = default;

next_action client_session::resume(event ev, std::error_code ec, std::string_view bytes) {
  return impl_->resume(ev, ec, bytes);
}
const session_outcome& client_session::outcome() const noexcept {
  return impl_->out;
}
void client_session::on_transcript(std::function<void(const transcript_line&)> sink) {
  impl_->sink = std::move(sink);
}

}  // namespace mailoauth::protocol
