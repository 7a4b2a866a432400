// IMAP4rev1 (RFC 3501) before authentication, as Exchange Online answers it: CAPABILITY, NOOP,
// LOGOUT, ID (RFC 2971), STARTTLS, AUTHENTICATE with SASL-IR (RFC 4959), LOGIN.
#include "protocol/dialect.hpp"
#include "protocol/imap_syntax.hpp"
#include "protocol/server_session_impl.hpp"

namespace mailoauth::protocol {
namespace {

constexpr std::string_view invalid_state = "BAD Command received in Invalid state.";

}  // namespace

void server_session::impl::imap_command() {
  const auto sp = cmd.find(' ');
  tag = cmd.substr(0, sp);
  // RFC 3501 section 9: a tag is astring characters other than "+".
  if (tag.empty() || tag == "*" || tag == "+" ||
      tag.find_first_of("(){%\"\\]") != std::string::npos) {
    send("* BAD Command Error.");
    return;
  }
  const auto reply = [this](std::string_view text) { send(tag + " " + std::string(text)); };
  std::string why;
  auto values = detail::parse_imap_values(std::string_view(cmd).substr(tag.size()), why);
  if (!values || values->empty() || !values->front().is_atom()) {
    reply("BAD Command Error. " + (why.empty() ? std::string("Missing command.") : why));
    return;
  }
  const auto name = detail::to_upper(values->front().text);
  const std::vector<detail::imap_value> args(values->begin() + 1, values->end());

  if (name == "CAPABILITY") {
    std::string line = "* CAPABILITY";
    for (const auto& w : capability_words()) line.append(" ").append(w);
    send(line);
    // Exchange's words, byte for byte, as Microsoft's guide shows them.
    reply("OK Completed");
    return;
  }
  if (name == "NOOP") {
    reply("OK NOOP completed.");
    return;
  }
  if (name == "LOGOUT") {
    send("* BYE Microsoft Exchange Server IMAP4 server signing off.");
    reply("OK LOGOUT completed.");
    result.logged_out = true;
    ph = phase::closing;
    return;
  }
  if (name == "ID" && !opt.texts.imap_id.empty()) {
    send("* ID " + opt.texts.imap_id);
    reply("OK ID completed.");
    return;
  }
  if (name == "STARTTLS") {
    if (result.tls || opt.security != transport_security::starttls) {
      reply(invalid_state);
      return;
    }
    reply("OK Begin TLS negotiation now.");
    ph = phase::tls_start;
    return;
  }
  if (name == "AUTHENTICATE") {
    // No AUTHENTICATE before TLS: the capability list said LOGINDISABLED and no AUTH=.
    if (!auth_allowed()) {
      reply(invalid_state);
      return;
    }
    if (args.empty() || args.size() > 2 || !args[0].is_atom() ||
        (args.size() == 2 && !args[1].is_atom())) {
      reply("BAD Command Argument Error.");
      return;
    }
    const auto mech = sasl::parse_mechanism(args[0].text);
    if (!mech || !offers(*mech)) {
      reply("NO AUTHENTICATE failed.");
      return;
    }
    std::optional<std::string_view> initial;
    if (args.size() == 2) initial = args[1].text;
    start_sasl(*mech, initial);
    return;
  }
  if (name == "LOGIN") {
    if (!auth_allowed()) {
      reply(invalid_state);
      return;
    }
    if (args.size() != 2 || !args[0].is_astring() || !args[1].is_astring()) {
      reply("BAD Command Argument Error.");
      return;
    }
    if (!opt.password_commands) {
      // Basic authentication is off, as in a tenant that follows Microsoft's advice.
      reply("NO LOGIN failed.");
      return;
    }
    verify_password(args[0].text, secret(std::string(args[1].text)));
    return;
  }
  reply(invalid_state);
}

}  // namespace mailoauth::protocol
