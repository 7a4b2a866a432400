// Drives a server session with the fuzz input as everything a client sends before (and just
// after) authentication, and checks that it always ends, within a bounded number of steps,
// without crashing, never echoing a credential, never authenticating without the TLS it
// requires, and starting TLS only when asked and only once.
//
// Input layout (fuzz/README.md):
//   byte 0  options: bits 0-1 transport security (implicit TLS, STARTTLS, none; 3 = implicit),
//           bit 2 password commands (IMAP LOGIN, POP3 USER/PASS) and PLAIN/LOGIN offered,
//           bit 3 POP3's one-line AUTH refused (Office 365's "-ERR Protocol error."),
//           bit 4 the verifier answers "temporary" instead of "reject",
//           bit 5 a JSON error challenge with each refusal,
//           bit 6 tight bounds (64-byte lines, 2 literals of 64 octets),
//           bit 7 after authentication, frame commands for the caller instead of handing over
//   byte 1  the separator that splits the rest into reads; it is not delivered itself
//   rest    the client's bytes; the credential "user" / "good-proof" is accepted
#include "protocol/server_session.hpp"

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

constexpr std::string_view good_proof = "good-proof-Zq7X";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto options = data[0];
  const char sep = static_cast<char>(data[1]);
  const std::string_view client(reinterpret_cast<const char*>(data) + 2, size - 2);

  server_options o;
  o.protocol = mail_protocol::MAILOAUTH_FUZZ_PROTOCOL;
  switch (options & 3) {
    case 1:
      o.security = transport_security::starttls;
      break;
    case 2:
      o.security = transport_security::none;
      o.require_tls_for_auth = false;
      break;
    default:
      o.security = transport_security::implicit_tls;
      break;
  }
  if (options & 4) {
    o.password_commands = true;
    o.mechanisms.push_back(sasl::mechanism::plain);
    o.mechanisms.push_back(sasl::mechanism::login);
  }
  o.pop3_initial_response = (options & 8) == 0;
  const bool temporary = (options & 0x10) != 0;
  const bool challenge = (options & 0x20) != 0;
  if (options & 0x40) {
    o.max_auth_line = 64;
    o.max_line = 64;
    o.max_literal = 64;
    o.max_literals = 2;
  }
  const bool frame_after = (options & 0x80) != 0;
  o.capabilities = {"IMAP4rev1", std::string(derived_capabilities), "LITERAL+"};
  o.texts.greeting = "ready";
  const auto security = o.security;
  const bool require_tls = o.require_tls_for_auth;

  // What the session records and writes never holds a credential it was given. A client may
  // also send the same octets where they are no credential (an IMAP tag, which servers echo),
  // so the check holds when the proof reached the verifier only in base64 (SASL), never as it
  // is: then any copy of it in the output was decoded and leaked by the session.
  std::vector<std::string> said;
  bool proof_verified = false;
  // What the client delivers: the input without its separators.
  std::string delivered;
  for (const auto c : split(client, sep)) delivered.append(c);
  const bool proof_in_input = contains(delivered, good_proof);
  const auto check_no_credential = [&] {
    if (!proof_verified || proof_in_input) return;
    for (const auto& line : said)
      MAILOAUTH_FUZZ_CHECK(!contains(line, good_proof),
                           "a credential in the transcript or a reply");
  };
  server_session session(std::move(o));
  session.on_transcript([&](const transcript_line& line) { said.push_back(line.text); });

  const auto chunks = split(client, sep);
  std::size_t next_chunk = 0;
  bool eof_sent = false;
  bool tls = security == transport_security::implicit_tls;
  const std::size_t max_steps = 4 * size + 64;
  auto action = session.start();
  for (std::size_t step = 0;; ++step) {
    MAILOAUTH_FUZZ_CHECK(step < max_steps, "no end within the step bound");
    switch (action.type) {
      case server_action::kind::read:
        if (next_chunk < chunks.size()) {
          action = session.resume(server_session::event::data, {}, chunks[next_chunk++]);
        } else {
          // A session that reads again after EOF would spin in a real driver.
          MAILOAUTH_FUZZ_CHECK(!eof_sent, "read requested after EOF");
          eof_sent = true;
          action = session.resume(server_session::event::eof);
        }
        break;
      case server_action::kind::write: {
        const auto out = action.data;
        MAILOAUTH_FUZZ_CHECK(out.size() >= 2 && out.ends_with("\r\n"), "write without CRLF");
        said.emplace_back(out);
        action = session.resume(server_session::event::written);
        break;
      }
      case server_action::kind::start_tls:
        MAILOAUTH_FUZZ_CHECK(security == transport_security::starttls,
                             "start_tls without STARTTLS on offer");
        MAILOAUTH_FUZZ_CHECK(!tls, "start_tls twice");
        tls = true;
        action = session.resume(server_session::event::tls);
        break;
      case server_action::kind::verify: {
        const auto& c = session.pending_credential();
        if (c.proof.reveal() == good_proof) proof_verified = true;
        MAILOAUTH_FUZZ_CHECK(tls || !require_tls, "a credential accepted for checking before TLS");
        detail::verdict v;
        if (c.user == "user" && c.proof.reveal() == good_proof) {
          v.k = detail::verdict::kind::accept;
          v.identity = "user@example.com";
        } else {
          v.k = temporary ? detail::verdict::kind::temporary : detail::verdict::kind::reject;
          if (challenge) v.error_challenge = R"({"status":"401","schemes":"bearer"})";
        }
        action = session.on_verdict(v);
        break;
      }
      case server_action::kind::authenticated: {
        const auto& out = session.outcome();
        MAILOAUTH_FUZZ_CHECK(out.authenticated && out.identity == "user@example.com",
                             "authenticated without the verifier's yes");
        MAILOAUTH_FUZZ_CHECK(tls || !require_tls, "authenticated without the TLS required");
        if (!frame_after) {
          (void)session.take_pending();
          check_no_credential();
          return 0;
        }
        action = session.resume(server_session::event::proceed);
        break;
      }
      case server_action::kind::command:
      case server_action::kind::message:
        session.send("* OK");
        action = session.resume(server_session::event::proceed);
        break;
      case server_action::kind::close:
        check_no_credential();
        return 0;
    }
  }
}
