// A server transcript: the options of a server session and how its verifier decides, then the
// exact exchange from the server's side, line by line. Files live in data/server/. Format:
//
//   protocol: imap | pop3 | smtp
//   security: implicit | starttls | none
//   mechanisms: xoauth2 oauthbearer plain login     (offered, in this order)
//   password-commands: yes | no                     (IMAP LOGIN, POP3 USER/PASS)
//   pop3-initial-response: yes | no
//   max-auth-line: N                                (CRLF included)
//   capabilities: W W %auth W       words besides the derived ones ("_" stands for a space)
//   greeting: TEXT, require-tls: yes | no
//   accept: USER PROOF IDENTITY   the verifier accepts USER with PROOF (token or password)
//   temporary: USER               the verifier cannot decide for USER now
//   challenge: JSON               sent as the error challenge when a bearer token is refused
//   end: authenticated | logged-out | closed | line-too-long
//   identity: X                   who the session reports as authenticated
//   C: line     the client sends line + CRLF; consecutive C: lines arrive in one read
//   S: line     the server must send exactly line + CRLF
//   TLS         the server starts TLS (implicit TLS needs no TLS line: it comes first)
//   CLOSE       the client closes the connection
//   PENDING: x  after authentication: what the client pipelined, handed over verbatim
//   COMMAND: x  after authentication: the session frames the next command as x
//
// Escapes as in client transcripts (\r \n \xNN \\); "{plain:U:P}" stands for base64 of PLAIN's
// "\0U\0P", "{xoauth2:U:T}" and "{oauthbearer:U:T}" for those mechanisms' responses.
#pragma once

#include "protocol/server_session.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace mailoauth::test {

struct server_step {
  enum class kind { client, server, tls, close, pending, command };
  kind type;
  std::string text;  // client: bytes sent (CRLF included); server: one line with CRLF
  int line_number = 0;
};

struct server_transcript {
  struct account {
    std::string user, proof, identity;
  };
  std::string name;
  protocol::server_options options;
  std::vector<account> accept;
  std::vector<std::string> temporary;
  std::string challenge;
  std::string end = "closed";
  std::string identity;
  std::vector<server_step> steps;

  /// The verifier's decision, as the transcript's header says.
  [[nodiscard]] protocol::detail::verdict decide(const protocol::detail::credential& c) const;
  /// Every proof the verifier knows: none may appear in any output.
  [[nodiscard]] std::vector<std::string> secrets() const;
};

/// Parses a server transcript; throws std::runtime_error naming the line on any error.
server_transcript load_server_transcript(const std::filesystem::path& file);

/// All server transcripts, sorted by name.
std::vector<std::filesystem::path> server_transcript_files();

}  // namespace mailoauth::test
