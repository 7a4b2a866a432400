// POP3 (RFC 1939) in the AUTHORIZATION state, as Exchange Online answers it: CAPA (RFC 2449),
// STLS (RFC 2595), AUTH (RFC 5034), USER/PASS, QUIT.
#include "protocol/dialect.hpp"
#include "protocol/server_session_impl.hpp"

#include <utility>

namespace mailoauth::protocol {
namespace {

constexpr std::string_view invalid_state = "-ERR Command is not valid in this state.";

}  // namespace

void server_session::impl::pop3_command() {
  const auto [verb, args] = take_verb_line();

  if (verb == "QUIT") {
    send("+OK Microsoft Exchange Server POP3 server signing off.");
    result.logged_out = true;
    ph = phase::closing;
    return;
  }
  if (verb == "CAPA") {
    send("+OK");
    for (const auto& w : capability_words()) send(w);
    send(".");
    return;
  }
  if (verb == "STLS") {
    if (result.tls) {
      send("-ERR Command not permitted when TLS active.");
      return;
    }
    if (opt.security != transport_security::starttls) {
      send(invalid_state);
      return;
    }
    send("+OK Begin TLS negotiation.");
    ph = phase::tls_start;
    return;
  }
  if (verb == "USER") {
    if (!auth_allowed() || args.empty()) {
      send(invalid_state);
      return;
    }
    pop3_user.assign(args);
    send("+OK");
    return;
  }
  if (verb == "PASS") {
    if (!opt.password_commands || !auth_allowed()) {
      send("-ERR Logon failure: unknown user name or bad password.");
      return;
    }
    if (pop3_user.empty()) {
      send(invalid_state);
      return;
    }
    // RFC 1939 section 7: the password is the rest of the line, spaces included.
    verify_password(std::exchange(pop3_user, {}), secret(std::string(args)));
    return;
  }
  if (verb != "AUTH" || !auth_allowed()) {
    send(invalid_state);
    return;
  }
  if (args.empty()) {
    // RFC 5034 section 4 leaves the bare AUTH to RFC 1734's mechanism list.
    send("+OK");
    for (const auto m : opt.mechanisms) send(sasl::name(m));
    send(".");
    return;
  }
  const auto mech_end = args.find(' ');
  const auto mech = sasl::parse_mechanism(args.substr(0, mech_end));
  if (!mech || !offers(*mech)) {
    reply_auth(detail::sasl_server::step::kind::failure);
    return;
  }
  std::optional<std::string_view> initial;
  if (mech_end != std::string_view::npos) {
    initial = args.substr(mech_end + 1);
    if (!opt.pop3_initial_response) {
      // What Office 365 answers today to the one-line form that Microsoft's guide shows.
      send("-ERR Protocol error.");
      return;
    }
  }
  start_sasl(*mech, initial);
}

}  // namespace mailoauth::protocol
