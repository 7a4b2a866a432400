// The client session: one sans-I/O machine for IMAP, POP3 and SMTP, written as a stackless
// coroutine (boost::asio::coroutine, as Boost.MySQL's algorithms are). Locals that live across a
// yield are members of impl.
#include <mailoauth/protocol.hpp>

#include "protocol/dialect.hpp"
#include "protocol/line_buffer.hpp"

#include <boost/asio/coroutine.hpp>

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

}  // namespace

struct client_session::impl {
  enum class event { start, data, eof, written, tls };
  enum class pull { more, complete, error };

  explicit impl(session_options o)
      : opt(std::move(o)), dialect(make_dialect(opt)), in(opt.max_line_length) {}

  session_options opt;
  std::unique_ptr<detail::dialect> dialect;
  detail::line_buffer in;
  boost::asio::coroutine coro;
  std::function<void(const transcript_line&)> sink;
  session_outcome out;

  std::string wbuf;  // the line being written; may hold a credential, wiped after the write
  secret encoded;    // the base64 client response
  detail::capabilities caps;
  bool have_caps = false;
  bool tls_active = false;
  bool eof = false;
  bool sent_response = false;
  bool answered_error = false;
  bool undecodable_challenge = false;
  bool logging_out = false;
  std::size_t literal_left = 0;
  std::size_t lines_in_reply = 0;
  pull pr = pull::more;
  detail::feed_result feed_error;
  std::string last_server_line;

  const reply& current() const { return dialect->current(); }

  void emit(transcript_line::direction dir, std::string text) {
    if (sink) sink(transcript_line{dir, std::move(text)});
  }

  // A hostile or confused server might echo the credential back; never show it.
  std::string redact(std::string_view line) const {
    std::string s(line);
    if (!encoded.empty()) replace_all(s, encoded.reveal(), "[redacted]");
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

  void begin_reply(expectation e) {
    dialect->expect(e);
    lines_in_reply = 0;
  }

  next_action write(std::string line, std::string display) {
    emit(transcript_line::direction::client, std::move(display));
    wipe(wbuf);
    wbuf = std::move(line);
    wbuf.append("\r\n");
    return {next_action::kind::write, wbuf};
  }
  next_action write(std::string line) {
    auto display = line;
    return write(std::move(line), std::move(display));
  }

  next_action done() {
    wipe(wbuf);
    return {next_action::kind::done, {}};
  }

  // Ends the session with an error; `server` says whether the last server line explains it.
  next_action fail(errc e, std::string why, bool server = true) {
    out.authenticated = false;
    out.error = make_error_code(e);
    out.diag.client_message = std::move(why);
    if (server) out.diag.server_message = last_server_line;
    return done();
  }

  next_action protocol_failure() {
    return fail(feed_error.error, "the server sent " + feed_error.why +
                                      (logging_out ? "" : " (while " + std::string(stage) + ")"));
  }

  next_action closed() {
    if (logging_out) return done();
    return fail(errc::connection_closed,
                "the server closed the connection while " + std::string(stage));
  }

  const char* stage = "waiting for the greeting";

  std::string response_display() const {
    return "[redacted " + std::string(sasl::name(*out.mechanism)) + " response for " + opt.user +
           ", token of " + std::to_string(opt.token.size()) + " bytes]";
  }

  next_action resume(event ev, std::string_view bytes = {});
};

// Reads one complete reply into dialect->current(), yielding reads as needed.
#define MAILOAUTH_READ_REPLY(expected)                          \
  begin_reply(expected);                                        \
  while ((pr = pull_reply()) == pull::more) {                   \
    if (eof) return closed();                                   \
    BOOST_ASIO_CORO_YIELD return {next_action::kind::read, {}}; \
  }                                                             \
  if (pr == pull::error) return protocol_failure()

next_action client_session::impl::resume(event ev, std::string_view bytes) {
  if (ev == event::data && !bytes.empty()) in.append(bytes);
  if (ev == event::eof) eof = true;
  if (ev == event::written) wipe(wbuf);

  BOOST_ASIO_CORO_REENTER(coro) {
    tls_active = opt.security == transport_security::implicit_tls;
    if (opt.token.empty()) return fail(errc::invalid_argument, "the access token is empty", false);
    if (opt.user.empty()) return fail(errc::invalid_argument, "the user name is empty", false);

    // Greeting.
    MAILOAUTH_READ_REPLY(expectation::greeting);
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
    if (opt.protocol == mail_protocol::imap) {
      if (auto c = dialect->parse_capabilities(current())) {
        caps = std::move(*c);
        have_caps = true;
      }
    }

    if (opt.security == transport_security::starttls) {
      stage = "asking for capabilities before STARTTLS";
      if (!have_caps) {
        BOOST_ASIO_CORO_YIELD return write(dialect->capability_command());
        MAILOAUTH_READ_REPLY(dialect->capability_reply_multiline() ? expectation::multiline
                                                                   : expectation::single);
        if (auto c = dialect->parse_capabilities(current())) caps = std::move(*c);
      }
      if (!caps.starttls)
        return fail(errc::starttls_not_offered,
                    "the server does not offer STARTTLS, so the token cannot be sent safely; use "
                    "the implicit-TLS port (imaps://, pop3s://, smtps://) if it has one");
      stage = "starting TLS";
      BOOST_ASIO_CORO_YIELD return write(dialect->starttls_command());
      MAILOAUTH_READ_REPLY(expectation::single);
      if (current().st != reply::status::ok)
        return fail(errc::starttls_refused,
                    "the server refused STARTTLS; not continuing without TLS");
      // Bytes behind the go-ahead were sent before TLS and could be an attacker's (curl
      // CVE-2021-22947): abort rather than read them after the handshake.
      if (in.has_pending() || literal_left > 0)
        return fail(errc::starttls_injection,
                    "the server sent data behind its STARTTLS go-ahead, which an attacker may have "
                    "injected; aborting");
      BOOST_ASIO_CORO_YIELD return {next_action::kind::start_tls, {}};
      tls_active = true;
      // Everything learned before TLS is forgotten (RFC 3207 section 4.2, RFC 2595 section 3.1).
      in.clear();
      caps = {};
      have_caps = false;
    }

    stage = "asking for capabilities";
    if (!have_caps) {
      BOOST_ASIO_CORO_YIELD return write(dialect->capability_command());
      MAILOAUTH_READ_REPLY(dialect->capability_reply_multiline() ? expectation::multiline
                                                                 : expectation::single);
      if (auto c = dialect->parse_capabilities(current())) {
        caps = std::move(*c);
      } else if (opt.protocol != mail_protocol::pop3) {
        // POP3 servers without CAPA exist (RFC 2449 is an extension); the others must answer.
        return fail(errc::unexpected_reply, "the server did not list its capabilities");
      }
      have_caps = true;
    }
    out.capabilities = caps.words;

    // Choose the mechanism: the forced one, else XOAUTH2 (the seed's), else OAUTHBEARER.
    if (opt.mechanism) {
      out.mechanism = opt.mechanism;
    } else if (caps.offers("XOAUTH2")) {
      out.mechanism = sasl::mechanism::xoauth2;
    } else if (caps.offers("OAUTHBEARER")) {
      out.mechanism = sasl::mechanism::oauthbearer;
    } else {
      std::string offered;
      for (const auto& m : caps.mechanisms) offered += (offered.empty() ? "" : " ") + m;
      return fail(errc::mechanism_not_offered,
                  "the server offers neither XOAUTH2 nor OAUTHBEARER (it offers: " +
                      (offered.empty() ? std::string("no SASL mechanisms") : offered) +
                      "); OAuth may be disabled for this server or account");
    }

    encoded = secret(sasl::base64_encode(
        sasl::client_response(*out.mechanism, opt.user, opt.token, opt.host, opt.port).reveal()));

    stage = "authenticating";
    // The initial response goes on the command line only where allowed and where the whole
    // line fits; otherwise the two-step exchange (RFC 4954 section 4, RFC 4959, RFC 5034).
    {
      const auto limit = dialect->command_line_limit();
      out.used_initial_response =
          dialect->initial_response_allowed(caps, opt.initial_response) &&
          (limit == 0 || dialect->auth_command_length(*out.mechanism, encoded.size()) <= limit);
    }
    if (out.used_initial_response) {
      sent_response = true;
      BOOST_ASIO_CORO_YIELD {
        auto cmd = dialect->auth_command(*out.mechanism, encoded.reveal());
        auto display = cmd;
        replace_all(display, encoded.reveal(), response_display());
        return write(std::move(cmd), std::move(display));
      }
    } else {
      BOOST_ASIO_CORO_YIELD return write(dialect->auth_command(*out.mechanism, {}));
    }

    for (;;) {
      MAILOAUTH_READ_REPLY(expectation::authenticate);
      if (current().st != reply::status::continuation) break;
      if (!sent_response) {
        // The empty continuation of the two-step exchange.
        sent_response = true;
        BOOST_ASIO_CORO_YIELD return write(std::string(encoded.reveal()), response_display());
        continue;
      }
      if (!answered_error) {
        answered_error = true;
        out.challenge = sasl::decode_error_challenge(current().payload);
        if (!out.challenge) {
          // RFC 4954 section 4: a client that cannot use a challenge cancels with "*".
          undecodable_challenge = true;
          BOOST_ASIO_CORO_YIELD return write("*");
          continue;
        }
        // XOAUTH2: an empty response (Google's documentation); OAUTHBEARER: a single ^A
        // (RFC 7628 section 3.2.3). Only then does the final failure arrive.
        if (*out.mechanism == sasl::mechanism::xoauth2) {
          BOOST_ASIO_CORO_YIELD return write("");
        } else {
          BOOST_ASIO_CORO_YIELD return write(sasl::base64_encode("\x01"));
        }
        continue;
      }
      return fail(errc::unexpected_reply,
                  "the server sent another challenge after the exchange should have ended");
    }

    out.diag.server_message = last_server_line;
    switch (current().st) {
      case reply::status::ok:
        out.authenticated = true;
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
    if (undecodable_challenge && !out.authenticated) {
      out.error = make_error_code(errc::malformed_reply);
      out.diag.client_message =
          "the server's challenge was not base64 JSON, so the exchange was cancelled";
    }

    // A polite goodbye; its outcome does not change the verdict.
    if (!opt.logout || eof) return done();
    logging_out = true;
    BOOST_ASIO_CORO_YIELD return write(dialect->logout_command());
    begin_reply(expectation::single);
    while ((pr = pull_reply()) == pull::more && !eof) {
      BOOST_ASIO_CORO_YIELD return {next_action::kind::read, {}};
    }
    return done();
  }
  return done();
}

#undef MAILOAUTH_READ_REPLY

client_session::client_session(session_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}
client_session::~client_session() = default;
client_session::client_session(client_session&&) noexcept = default;
client_session& client_session::operator=(client_session&&) noexcept = default;

next_action client_session::start() {
  return impl_->resume(impl::event::start);
}
next_action client_session::on_data(std::string_view bytes) {
  return impl_->resume(impl::event::data, bytes);
}
next_action client_session::on_eof() {
  return impl_->resume(impl::event::eof);
}
next_action client_session::on_written() {
  return impl_->resume(impl::event::written);
}
next_action client_session::on_tls_established() {
  return impl_->resume(impl::event::tls);
}
const session_outcome& client_session::outcome() const noexcept {
  return impl_->out;
}
void client_session::on_transcript(std::function<void(const transcript_line&)> sink) {
  impl_->sink = std::move(sink);
}

}  // namespace mailoauth::protocol
