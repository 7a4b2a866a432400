// Drives a client session with the fuzz input as everything the server sends, and checks that
// it always comes to a verdict, within a bounded number of steps, without crashing, and
// without letting the token out where it must not go.
//
// Input layout (fuzz/README.md):
//   byte 0  options: bits 0-1 transport security (implicit TLS, STARTTLS, none; 3 = implicit),
//           bits 2-3 forced mechanism (none, XOAUTH2, OAUTHBEARER; 3 = none),
//           bits 4-5 initial response policy (automatic, prefer, never; 3 = automatic),
//           bit 6 log out after the verdict,
//           bit 7 tight bounds (256-byte lines, 16 lines per reply) so that small inputs
//           reach the limits
//   byte 1  token size: 16 + 40 * n bytes, up to about 10 KB, so that initial responses both
//           fit and overflow each protocol's command-line limit
//   byte 2  the separator that splits the rest into reads; it is not delivered itself
//   rest    the server's bytes
#include <mailoauth/protocol.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

#ifndef MAILOAUTH_FUZZ_PROTOCOL
#error "define MAILOAUTH_FUZZ_PROTOCOL as imap, pop3 or smtp"
#endif

namespace {

using namespace mailoauth;
using namespace mailoauth::protocol;
using fuzz::contains;
using fuzz::split;

std::string make_token(std::size_t n) {
  // Characters of a JWT, none of which the server's fixed replies are likely to hold by chance.
  static constexpr std::string_view chars =
      "eyJ0eXAiOiJKV1QiLCJub25jZSI6ImhUbzdUWkJhZTNBRHFhY3N3VnlvYWF4RzE4VXRhYlpfTzV1SzNidldUT2ci";
  std::string out = "FuzzToken.";
  while (out.size() < n) out.push_back(chars[out.size() % chars.size()]);
  return out;
}

// MAILOAUTH_FUZZ_VERBOSE=1 prints each exchange and its verdict, to read what a saved input
// (a crash, or a seed) makes the session do: `MAILOAUTH_FUZZ_VERBOSE=1 fuzz_imap_session FILE`.
bool verbose() {
  static const bool on = std::getenv("MAILOAUTH_FUZZ_VERBOSE") != nullptr;
  return on;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const auto options = data[0];
  const std::size_t token_size = 16 + 40 * std::size_t{data[1]};
  const auto sep = static_cast<char>(data[2]);
  const std::string_view server(reinterpret_cast<const char*>(data + 3), size - 3);

  session_options o;
  o.protocol = mail_protocol::MAILOAUTH_FUZZ_PROTOCOL;
  switch (options & 3) {
    case 1:
      o.security = transport_security::starttls;
      break;
    case 2:
      o.security = transport_security::none;
      break;
    default:
      o.security = transport_security::implicit_tls;
      break;
  }
  switch ((options >> 2) & 3) {
    case 1:
      o.mechanism = sasl::mechanism::xoauth2;
      break;
    case 2:
      o.mechanism = sasl::mechanism::oauthbearer;
      break;
    default:
      break;
  }
  switch ((options >> 4) & 3) {
    case 1:
      o.initial_response = initial_response_policy::prefer;
      break;
    case 2:
      o.initial_response = initial_response_policy::never;
      break;
    default:
      o.initial_response = initial_response_policy::automatic;
      break;
  }
  o.logout = (options & 0x40) != 0;
  if (options & 0x80) {
    o.max_line_length = 256;
    o.max_reply_lines = 16;
  }
  // ',' and '=' exercise OAUTHBEARER's saslname escaping.
  o.user = "fuzz,user=1@example.com";
  o.host = "mail.example.com";
  o.port = 993;
  const std::string token = make_token(token_size);
  o.token = secret(token);
  const auto security = o.security;

  // The base64 client responses the session may send, to recognise them on the wire.
  std::vector<std::string> encoded;
  for (const auto m : {sasl::mechanism::xoauth2, sasl::mechanism::oauthbearer}) {
    encoded.push_back(
        sasl::base64_encode(sasl::client_response(m, o.user, o.token, o.host, o.port).reveal()));
  }

  client_session session(std::move(o));
  session.on_transcript([&](const transcript_line& line) {
    if (verbose())
      std::fprintf(stderr, "%s: %.*s\n", line.dir == transcript_line::direction::client ? "C" : "S",
                   static_cast<int>(line.text.size()), line.text.data());
    // The transcript is shown to users and logged: never the token, whatever the server echoes.
    MAILOAUTH_FUZZ_CHECK(!contains(line.text, token), "token in the transcript");
    for (const auto& e : encoded)
      MAILOAUTH_FUZZ_CHECK(!contains(line.text, e), "client response in the transcript");
  });

  const auto chunks = split(server, sep);
  std::size_t next_chunk = 0;
  bool eof_sent = false;
  bool tls = false;
  using event = client_session::event;

  // Every step but the reads answers a reply of at least one line, so the session needs fewer
  // steps than bytes; anything beyond that is a loop.
  const std::size_t max_steps = 3 * size + 32;
  auto action = session.start();
  for (std::size_t step = 0;; ++step) {
    MAILOAUTH_FUZZ_CHECK(step < max_steps, "no verdict within the step bound");
    switch (action.type) {
      case next_action::kind::read:
        if (next_chunk < chunks.size()) {
          action = session.resume(event::data, {}, chunks[next_chunk++]);
        } else {
          // A session that reads again after EOF would spin in a real driver.
          MAILOAUTH_FUZZ_CHECK(!eof_sent, "read requested after EOF");
          eof_sent = true;
          action = session.resume(event::eof);
        }
        break;
      case next_action::kind::write: {
        const auto line = action.data;
        // One command line per write, never folded: the server must not be able to make the
        // client send a second command.
        MAILOAUTH_FUZZ_CHECK(line.size() >= 2 && line.ends_with("\r\n"), "write without CRLF");
        const auto body = line.substr(0, line.size() - 2);
        MAILOAUTH_FUZZ_CHECK(body.find_first_of("\r\n") == std::string_view::npos,
                             "CR or LF inside a command line");
        // RFC 8314: with STARTTLS required, the token goes out only after the handshake.
        if (!tls && security != transport_security::none) {
          MAILOAUTH_FUZZ_CHECK(!contains(body, token), "token sent before TLS");
          for (const auto& e : encoded)
            MAILOAUTH_FUZZ_CHECK(!contains(body, e), "client response sent before TLS");
        }
        action = session.resume(event::written);
        break;
      }
      case next_action::kind::start_tls:
        // Implicit TLS starts with the handshake; STARTTLS asks for it once.
        MAILOAUTH_FUZZ_CHECK(security != transport_security::none, "start_tls in plaintext");
        MAILOAUTH_FUZZ_CHECK(!tls, "start_tls twice");
        tls = true;
        if (verbose()) std::fprintf(stderr, "-- TLS handshake --\n");
        action = session.resume(event::tls);
        break;
      case next_action::kind::done: {
        const auto& out = session.outcome();
        if (verbose())
          std::fprintf(stderr, "verdict: %s, %s: %s [server: %s]\n",
                       out.authenticated() ? "authenticated" : "not authenticated",
                       out.error.message().c_str(), out.diag.client_message.c_str(),
                       out.diag.server_message.c_str());
        MAILOAUTH_FUZZ_CHECK(out.authenticated() == !out.error, "verdict and error disagree");
        if (out.authenticated()) {
          MAILOAUTH_FUZZ_CHECK(out.mechanism.has_value(), "authenticated without a mechanism");
          MAILOAUTH_FUZZ_CHECK(tls || security == transport_security::none,
                               "authenticated without the TLS that was required");
        }
        MAILOAUTH_FUZZ_CHECK(!contains(out.diag.server_message, token), "token in diagnostics");
        MAILOAUTH_FUZZ_CHECK(!contains(out.diag.client_message, token), "token in diagnostics");
        return 0;
      }
    }
  }
}
