// A transcript file: the options of a client session, then the exact exchange, line by line.
// Format (one item per line; '#' starts a comment line):
//
//   protocol: imap | pop3 | smtp
//   security: any | starttls | implicit | none   (any: replayed over plaintext and implicit TLS)
//   user: U
//   token: T | token-length: N                 (N bytes of a deterministic token)
//   mech: xoauth2 | oauthbearer                (forces one; default: what the server offers)
//   initial-response: auto | prefer | never
//   exit: N                                    (the CLI's exit code; the session's classification)
//   expect: TEXT                               (the CLI's output must contain TEXT; repeatable)
//   S: line     the server sends line + CRLF; consecutive S: lines go out in one write
//   C: line     the client must send exactly line + CRLF; "{response}" stands for the base64
//               client response of user/token/mech
//   TLS         both sides perform the TLS handshake (after a STARTTLS go-ahead)
//   CLOSE       the server closes the connection
//   HANG        the server stops answering (the client's timeout must end the session)
//   FLOOD: N    the server sends one line of N bytes (a hostile server's endless line)
//
// Escapes in S:/C: lines: \r \n \xNN \\ .
#pragma once

#include <mailoauth/protocol.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mailoauth::test {

struct transcript_step {
  enum class kind { server, client, tls, close, hang };
  kind type;
  std::string text;  // server: bytes to send (CRLF included); client: expected line with CRLF
  int line_number = 0;
};

struct transcript {
  std::string name;
  protocol::mail_protocol protocol = protocol::mail_protocol::imap;
  std::string security = "any";
  std::string user;
  std::string token;
  std::optional<std::string> mech;
  std::string initial_response = "auto";
  int exit_code = 0;
  std::vector<std::string> expect;
  std::vector<transcript_step> steps;

  /// The steps with {response} expanded for the host and port the client will name
  /// (OAUTHBEARER carries them).
  [[nodiscard]] std::vector<transcript_step> steps_for(std::string_view host,
                                                       std::optional<std::uint16_t> port) const;

  /// Session options for replay with the given transport security.
  [[nodiscard]] protocol::session_options options(protocol::transport_security security) const;
};

/// Parses a transcript file; throws std::runtime_error naming the line on any error.
transcript load_transcript(const std::filesystem::path& file);

/// A gtest name for a transcript file ("seed-imap-success.txt" -> "seed_imap_success").
std::string transcript_test_name(const ::testing::TestParamInfo<std::filesystem::path>& file);

/// All transcript files of the suite, sorted by name.
std::vector<std::filesystem::path> transcript_files();

/// The escapes of S:/C: lines (\r \n \xNN \\), for other transcript formats too.
std::string unescape_transcript(std::string_view s, int line);

/// A token of n bytes in a JWT's base64url alphabet, the same on every run.
std::string deterministic_token(std::size_t n);

}  // namespace mailoauth::test
