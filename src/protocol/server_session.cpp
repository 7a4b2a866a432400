// The server session's core: events in, actions out, the framing of lines, IMAP literals and
// SMTP messages, and the SASL steps that the three protocols share. What each protocol answers
// to each command is in imap_server.cpp, pop3_server.cpp and smtp_server.cpp.
#include "protocol/server_session_impl.hpp"

#include "protocol/dialect.hpp"
#include "protocol/imap_syntax.hpp"

#include <algorithm>

namespace mailoauth::protocol {

using detail::sasl_server;

namespace {

// The line_buffer bounds a line without its terminator; the options count the CRLF, as RFC
// 5321 and RFC 2449 do.
std::size_t without_crlf(std::size_t limit) {
  return limit > 2 ? limit - 2 : 1;
}

}  // namespace

server_session::impl::impl(server_options o)
    : opt(std::move(o)), in(without_crlf(opt.max_auth_line)) {
  result.tls = opt.security == transport_security::implicit_tls;
}

server_session::impl::~impl() {
  wipe(out);
  wipe(cmd);
}

bool server_session::impl::auth_allowed() const noexcept {
  return result.tls || !opt.require_tls_for_auth;
}

bool server_session::impl::offers(sasl::mechanism m) const noexcept {
  return auth_allowed() &&
         std::find(opt.mechanisms.begin(), opt.mechanisms.end(), m) != opt.mechanisms.end();
}

void server_session::impl::send(std::string_view line) {
  record_server(line);
  out.append(line).append("\r\n");
}

void server_session::impl::record_client(std::string_view line) {
  if (sink) sink(transcript_line{transcript_line::direction::client, std::string(line)});
}

void server_session::impl::record_server(std::string_view line) {
  if (sink) sink(transcript_line{transcript_line::direction::server, std::string(line)});
}

void server_session::impl::fail(errc e, std::string why) {
  if (!result.error) {
    result.error = make_error_code(e);
    result.why = std::move(why);
  }
}

std::string_view server_session::impl::step_name() const noexcept {
  switch (ph) {
    case phase::tls_start:
    case phase::tls_wait:
      return "the TLS handshake";
    case phase::sasl_line:
    case phase::verifying:
      return "authentication";
    case phase::app_commands:
    case phase::app_message:
    case phase::app_wait:
    case phase::authenticated:
    case phase::handed_over:
      return "the session after authentication";
    default:
      return "the dialogue before authentication";
  }
}

void server_session::impl::io_failed(std::error_code ec) {
  // Whatever failed (a write, a read, the handshake, a deadline), the session is over; the
  // outcome says which step, so that a log line names it.
  const auto what = writing ? std::string("writing to the client during ")
                            : std::string("reading from the client during ");
  const bool deadline = ec == std::errc::timed_out || ec == make_error_code(errc::timeout);
  fail(
      deadline ? errc::timeout : errc::connection_closed,
      (ph == phase::tls_wait ? std::string("the TLS handshake") : what + std::string(step_name())) +
          " failed: " + ec.message());
  writing = false;
  wipe(out);
  ph = phase::closed;
}

void server_session::impl::clear_command() noexcept {
  wipe(cmd);
  cmd_started = false;
  literal_count = 0;
  literal_total = 0;
  cmd_has_secret = false;
}

std::vector<std::string> server_session::impl::capability_words() const {
  std::vector<std::string> derived;
  const bool offer_tls = !result.tls && opt.security == transport_security::starttls;
  std::string sasl_list;
  if (!result.authenticated)
    for (const auto m : opt.mechanisms)
      if (offers(m)) sasl_list += (sasl_list.empty() ? "" : " ") + std::string(sasl::name(m));
  switch (opt.protocol) {
    case mail_protocol::imap:
      if (offer_tls) derived.emplace_back("STARTTLS");
      // RFC 3501 section 6.2.3: LOGINDISABLED while LOGIN may not be used.
      if (!result.authenticated && !auth_allowed()) derived.emplace_back("LOGINDISABLED");
      if (!result.authenticated && auth_allowed()) {
        for (const auto m : opt.mechanisms)
          if (offers(m)) derived.push_back("AUTH=" + std::string(sasl::name(m)));
        if (!sasl_list.empty()) derived.emplace_back("SASL-IR");
      }
      break;
    case mail_protocol::pop3:
      if (offer_tls) derived.emplace_back("STLS");
      if (!sasl_list.empty()) derived.push_back("SASL " + sasl_list);
      break;
    case mail_protocol::smtp:
      if (offer_tls) derived.emplace_back("STARTTLS");
      // No AUTH before TLS, as Office 365 on port 587 (RFC 4954 section 4 allows either).
      if (!sasl_list.empty()) derived.push_back("AUTH " + sasl_list);
      break;
  }
  std::vector<std::string> words;
  bool placed = false;
  for (const auto& w : opt.capabilities) {
    if (w == derived_capabilities) {
      words.insert(words.end(), derived.begin(), derived.end());
      placed = true;
    } else {
      words.push_back(w);
    }
  }
  if (!placed) words.insert(words.end(), derived.begin(), derived.end());
  return words;
}

// Framing.

server_session::impl::unit server_session::impl::frame_line() {
  auto line = in.next_line();
  if (!line) return in.too_long() ? unit::too_long : unit::none;
  wipe(cmd);
  cmd.assign(*line);
  return unit::ready;
}

server_session::impl::unit server_session::impl::frame_imap_command() {
  for (;;) {
    if (literal_left > 0) {
      auto octets = in.take(literal_left);
      if (!octets) return unit::none;
      cmd.append(*octets);
      record_client("[literal, " + std::to_string(literal_left) + " octets]");
      literal_left = 0;
    }
    auto line = in.next_line();
    if (!line) return in.too_long() ? unit::too_long : unit::none;
    if (!cmd_started) {
      wipe(cmd);
      cmd_started = true;
    }
    const auto first = cmd.empty();
    cmd.append(*line);
    if (first) {
      // The credential of AUTHENTICATE (its initial response) and of LOGIN stays out of the
      // transcript; so do LOGIN's literals, above, which are only counted.
      const auto sp = line->find(' ');
      const auto rest = sp == std::string_view::npos ? std::string_view() : line->substr(sp + 1);
      const auto verb = detail::to_upper(rest.substr(0, rest.find(' ')));
      if (verb == "LOGIN") {
        cmd_has_secret = true;
        record_client(std::string(line->substr(0, sp)) + " LOGIN [redacted]");
      } else if (verb == "AUTHENTICATE" && std::count(rest.begin(), rest.end(), ' ') >= 2) {
        const auto mech_end = rest.find(' ', rest.find(' ') + 1);
        record_client(std::string(line->substr(0, sp + 1 + mech_end)) + " [redacted]");
      } else {
        record_client(*line);
      }
    } else if (!cmd_has_secret) {
      record_client(*line);
    }
    const auto lit = detail::trailing_literal(*line);
    if (!lit) {
      cmd_started = false;
      return unit::ready;
    }
    if (++literal_count > opt.max_literals || lit->size > opt.max_literal ||
        literal_total + lit->size > opt.max_literal)
      return unit::literal_too_large;
    literal_total += lit->size;
    cmd.append("\r\n");
    literal_left = lit->size;
    if (!lit->non_synchronizing) {
      // RFC 3501 section 7.5: the client waits for this before sending the octets.
      send("+ Ready for additional command text.");
      return unit::none;
    }
  }
}

server_session::impl::unit server_session::impl::frame_message() {
  // RFC 5321 section 4.1.1.4: lines up to "." alone; a leading dot is removed (4.5.2).
  for (;;) {
    auto line = in.next_line();
    if (!line) return in.too_long() ? unit::too_long : unit::none;
    if (*line == ".") {
      record_client("[message, " + std::to_string(cmd.size()) + " octets]");
      return unit::ready;
    }
    auto text = *line;
    if (text.starts_with('.')) text.remove_prefix(1);
    if (cmd.size() + text.size() + 2 > message_max) message_big = true;
    if (!message_big) cmd.append(text).append("\r\n");
  }
}

// SASL.

void server_session::impl::start_sasl(sasl::mechanism m,
                                      std::optional<std::string_view> initial_response) {
  sasl.emplace(detail::profile(opt.protocol), m);
  apply(sasl->start(initial_response));
}

void server_session::impl::verify_password(std::string user, secret pass) {
  password = detail::credential{};
  password.mechanism = sasl::mechanism::plain;
  password.password_command = true;
  password.user = std::move(user);
  password.proof = std::move(pass);
  verifying_password = true;
  ph = phase::verifying;
}

void server_session::impl::apply(const sasl_server::step& s) {
  using k = sasl_server::step::kind;
  switch (s.k) {
    case k::challenge:
      send(std::string(detail::profile(opt.protocol).continuation) + s.line);
      ph = phase::sasl_line;
      return;
    case k::verify:
      ph = phase::verifying;
      return;
    case k::success:
      result.identity = sasl->identity();
      result.mechanism = sasl->mechanism();
      reply_auth(k::success);
      ph = phase::authenticated;
      in.set_max_line(without_crlf(opt.max_line));
      sasl.reset();
      return;
    case k::malformed:
      result.why = s.why;
      [[fallthrough]];
    case k::failure:
    case k::temporary:
    case k::cancelled:
      reply_auth(s.k);
      ph = phase::commands;
      sasl.reset();
      return;
  }
}

server_session::impl::verb_line server_session::impl::take_verb_line() {
  const auto sp = cmd.find(' ');
  verb_line v{detail::to_upper(std::string_view(cmd).substr(0, sp)),
              sp == std::string::npos ? std::string_view() : std::string_view(cmd).substr(sp + 1)};
  if (v.verb == "AUTH" && v.args.find(' ') != std::string_view::npos)
    record_client("AUTH " + std::string(v.args.substr(0, v.args.find(' '))) + " [redacted]");
  else if (v.verb == "PASS" && opt.protocol == mail_protocol::pop3)
    record_client("PASS [redacted]");
  else
    record_client(cmd);
  return v;
}

void server_session::impl::handle_command() {
  switch (opt.protocol) {
    case mail_protocol::imap:
      imap_command();
      break;
    case mail_protocol::pop3:
      pop3_command();
      break;
    case mail_protocol::smtp:
      smtp_command();
      break;
  }
  clear_command();
}

// The protocols' words for the ends of an exchange (Exchange Online's, protocol-facts.md).

void server_session::impl::reply_auth(detail::sasl_server::step::kind k) {
  using kind = detail::sasl_server::step::kind;
  const bool login = verifying_password;
  const std::string_view verb = login ? "LOGIN" : "AUTHENTICATE";
  switch (opt.protocol) {
    case mail_protocol::imap:
      switch (k) {
        case kind::success:
          send(tag + " OK " + std::string(verb) + " completed.");
          return;
        case kind::cancelled:
          send(tag + " BAD " + std::string(verb) + " cancelled.");
          return;
        case kind::temporary:
          send(tag + " NO [UNAVAILABLE] Temporary authentication failure.");
          return;
        default:
          send(tag + " NO " + std::string(verb) + " failed.");
          return;
      }
    case mail_protocol::pop3:
      switch (k) {
        case kind::success:
          send("+OK Welcome.");
          return;
        case kind::cancelled:
          send("-ERR Authentication canceled by client.");
          return;
        case kind::temporary:
          send("-ERR [SYS/TEMP] Temporary authentication failure.");
          return;
        default:
          send(login ? "-ERR Logon failure: unknown user name or bad password."
                     : "-ERR Authentication failure: unknown user name or bad password.");
          return;
      }
    case mail_protocol::smtp:
      switch (k) {
        case kind::success:
          send("235 2.7.0 Authentication successful");
          return;
        case kind::cancelled:
          send("501 5.7.0 Authentication cancelled");
          return;
        case kind::temporary:
          send("454 4.7.0 Temporary authentication failure");
          return;
        default:
          send("535 5.7.3 Authentication unsuccessful [" + opt.host_name + "]");
          return;
      }
  }
}

void server_session::impl::reply_too_long() {
  switch (opt.protocol) {
    case mail_protocol::imap:
      send("* BYE Line too long.");
      return;
    case mail_protocol::pop3:
      send("-ERR Line too long.");
      return;
    case mail_protocol::smtp:
      send("500 5.5.6 Line too long");
      return;
  }
}

void server_session::impl::reply_literal_too_large() {
  send("* BYE Literal too large.");
}

// The loop: output first, then whatever the phase asks for.

server_action server_session::impl::next() {
  for (;;) {
    if (writing) return {server_action::kind::write, out};
    if (!out.empty() && ph != phase::closed) {
      writing = true;
      return {server_action::kind::write, out};
    }
    switch (ph) {
      case phase::closed:
        return {server_action::kind::close, {}};
      case phase::closing:
        ph = phase::closed;
        continue;
      case phase::tls_start:
        // Bytes behind STARTTLS came in plaintext: an attacker may have put them there to be
        // read as if they came over TLS (Postfix CVE-2011-0411). Drop them.
        result.discarded_before_tls = in.pending();
        in.clear();
        ph = phase::tls_wait;
        return {server_action::kind::start_tls, {}};
      case phase::tls_wait:
        return {server_action::kind::start_tls, {}};
      case phase::verifying:
        return {server_action::kind::verify, {}};
      case phase::authenticated:
        // Only now, with the success reply written: a login whose reply was lost is none.
        result.authenticated = true;
        ph = phase::handed_over;
        return {server_action::kind::authenticated, {}};
      case phase::handed_over:
        ph = phase::app_commands;
        continue;
      case phase::app_wait:
        return {app_kind, cmd};
      case phase::commands:
      case phase::sasl_line:
      case phase::app_commands:
      case phase::app_message: {
        unit u;
        if (ph == phase::app_message)
          u = frame_message();
        else if (opt.protocol == mail_protocol::imap && ph != phase::sasl_line)
          u = frame_imap_command();
        else
          u = frame_line();
        if (u == unit::too_long) {
          reply_too_long();
          fail(errc::line_too_long, "the client sent a line longer than the limit");
          ph = phase::closing;
          continue;
        }
        if (u == unit::literal_too_large) {
          // The client may be sending the octets already (LITERAL+): no way to resynchronise.
          reply_literal_too_large();
          fail(errc::line_too_long, "the client announced literals larger than the limit");
          ph = phase::closing;
          continue;
        }
        if (u == unit::none) {
          if (!out.empty()) continue;
          if (eof) {
            fail(errc::connection_closed,
                 "the client closed the connection during " + std::string(step_name()));
            ph = phase::closed;
            continue;
          }
          return {server_action::kind::read, {}};
        }
        if (ph == phase::sasl_line) {
          if (!sasl_server::harmless(cmd)) {
            record_client("[redacted]");
          } else {
            record_client(cmd);
          }
          const auto s = sasl->on_line(cmd);
          clear_command();
          apply(s);
          continue;
        }
        if (ph == phase::app_commands || ph == phase::app_message) {
          const auto k = ph == phase::app_message ? server_action::kind::message
                                                  : server_action::kind::command;
          if (ph == phase::app_commands && opt.protocol != mail_protocol::imap) record_client(cmd);
          ph = phase::app_wait;
          app_kind = k;
          return {k, cmd};
        }
        handle_command();
        continue;
      }
    }
  }
}

server_action server_session::impl::resume(event ev, std::error_code ec, std::string_view bytes) {
  if (ec) {
    io_failed(ec);
    return next();
  }
  switch (ev) {
    case event::start:
      switch (opt.protocol) {
        case mail_protocol::imap:
          send("* OK " + opt.texts.greeting);
          break;
        case mail_protocol::pop3:
          send("+OK " + opt.texts.greeting);
          break;
        case mail_protocol::smtp:
          send("220 " + opt.host_name + " " + opt.texts.greeting);
          break;
      }
      break;
    case event::data:
      in.append(bytes);
      break;
    case event::eof:
      eof = true;
      break;
    case event::written:
      writing = false;
      wipe(out);
      break;
    case event::tls:
      if (ph == phase::tls_wait) {
        result.tls = true;
        ph = phase::commands;
        // RFC 3207 section 4.2: the client starts over with EHLO.
        smtp_greeted = false;
      }
      break;
    case event::proceed:
      if (ph == phase::app_wait) {
        ph = want_message ? phase::app_message : phase::app_commands;
        want_message = false;
        wipe(cmd);
      }
      break;
  }
  return next();
}

// The public face.

server_session::server_session(server_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}
server_session::~server_session() = default;
server_session::server_session(server_session&&) noexcept = default;
server_session& server_session::operator=(server_session&&) noexcept = default;

server_action server_session::resume(event ev, std::error_code ec, std::string_view bytes) {
  return impl_->resume(ev, ec, bytes);
}

server_action server_session::on_verdict(const detail::verdict& v) {
  auto& s = *impl_;
  if (s.ph != impl::phase::verifying) return s.next();
  if (s.verifying_password) {
    s.password.proof.clear();
    s.ph = impl::phase::commands;
    using k = sasl_server::step::kind;
    if (v.k == detail::verdict::kind::accept) {
      s.result.identity = v.identity;
      s.result.mechanism = sasl::mechanism::plain;
      s.result.password_command = true;
      s.reply_auth(k::success);
      s.ph = impl::phase::authenticated;
      s.in.set_max_line(without_crlf(s.opt.max_line));
    } else {
      s.reply_auth(v.k == detail::verdict::kind::temporary ? k::temporary : k::failure);
    }
    s.verifying_password = false;
    return s.next();
  }
  s.apply(s.sasl->on_verdict(v));
  return s.next();
}

const detail::credential& server_session::pending_credential() const noexcept {
  return impl_->verifying_password ? impl_->password : impl_->sasl->pending();
}

std::string_view server_session::command() const noexcept {
  return impl_->cmd;
}

void server_session::send(std::string_view line) {
  impl_->send(line);
}

void server_session::send_raw(std::string_view octets) {
  impl_->out.append(octets);
}

void server_session::read_message(std::size_t max_size) {
  impl_->message_max = max_size;
  impl_->message_big = false;
  impl_->want_message = true;
}

bool server_session::message_too_big() const noexcept {
  return impl_->message_big;
}

void server_session::finish() {
  impl_->ph = impl::phase::closing;
}

std::string server_session::take_pending() {
  return impl_->in.take_pending();
}

const server_outcome& server_session::outcome() const noexcept {
  return impl_->result;
}

void server_session::on_transcript(std::function<void(const transcript_line&)> sink) {
  impl_->sink = std::move(sink);
}

std::vector<std::string> server_session::capabilities() const {
  return impl_->capability_words();
}

}  // namespace mailoauth::protocol
