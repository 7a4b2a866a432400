// SMTP submission (RFC 5321, RFC 6409) before authentication, as Exchange Online answers it:
// EHLO/HELO, STARTTLS (RFC 3207), AUTH (RFC 4954), NOOP, RSET, VRFY, HELP, QUIT; mail commands
// are refused until the client has authenticated.
#include "protocol/dialect.hpp"
#include "protocol/server_session_impl.hpp"

namespace mailoauth::protocol {

void server_session::impl::smtp_command() {
  const auto [verb, args] = take_verb_line();
  const auto& host = opt.host_name;

  if (verb == "QUIT") {
    send("221 2.0.0 Service closing transmission channel");
    result.logged_out = true;
    ph = phase::closing;
    return;
  }
  if (verb == "NOOP") {
    send("250 2.0.0 OK");
    return;
  }
  if (verb == "RSET") {
    send("250 2.0.0 Resetting");
    return;
  }
  if (verb == "EHLO" || verb == "HELO") {
    if (args.empty()) {
      send("501 5.5.4 Invalid domain name");
      return;
    }
    smtp_greeted = true;
    const auto hello = host + " Hello [" + opt.peer + "]";
    if (verb == "HELO") {
      send("250 " + hello);
      return;
    }
    const auto words = capability_words();
    send((words.empty() ? "250 " : "250-") + hello);
    for (std::size_t i = 0; i < words.size(); ++i)
      send((i + 1 < words.size() ? "250-" : "250 ") + words[i]);
    return;
  }
  if (verb == "STARTTLS") {
    if (result.tls) {
      send("503 5.5.1 TLS already active");
      return;
    }
    if (opt.security != transport_security::starttls) {
      send("500 5.3.3 Unrecognized command");
      return;
    }
    if (!smtp_greeted) {
      send("503 5.5.2 Send hello first");
      return;
    }
    send("220 2.0.0 SMTP server ready");
    ph = phase::tls_start;
    return;
  }
  if (verb == "VRFY") {
    send("252 2.1.5 Cannot VRFY user");
    return;
  }
  if (verb == "HELP") {
    send("214 2.0.0 See RFC 5321");
    return;
  }
  if (!smtp_greeted) {
    send("503 5.5.2 Send hello first [" + host + "]");
    return;
  }
  if (verb == "AUTH") {
    if (!auth_allowed()) {
      send("504 5.7.4 Unrecognized authentication type [" + host + "]");
      return;
    }
    const auto mech_end = args.find(' ');
    const auto name = args.substr(0, mech_end);
    const auto mech = sasl::parse_mechanism(name);
    if (!mech || !offers(*mech)) {
      if (mech && !sasl::is_bearer(*mech))
        // Exchange Online's answer to a password where OAuth is required.
        send("535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [" + host +
             "]");
      else
        send("504 5.7.4 Unrecognized authentication type [" + host + "]");
      return;
    }
    std::optional<std::string_view> initial;
    if (mech_end != std::string_view::npos) initial = args.substr(mech_end + 1);
    start_sasl(*mech, initial);
    return;
  }
  if (verb == "MAIL" || verb == "RCPT" || verb == "DATA" || verb == "BDAT") {
    if (!result.tls && opt.require_tls_for_auth) {
      send("530 5.7.0 Must issue a STARTTLS command first");
      return;
    }
    send("530 5.7.57 Client not authenticated to send mail. [" + host + "]");
    return;
  }
  send("500 5.3.3 Unrecognized command");
}

}  // namespace mailoauth::protocol
