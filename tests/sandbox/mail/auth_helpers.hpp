// Authentication exchanges driven by hand, for the tests that look at each server line.
#pragma once

#include "mail_fixture.hpp"

#include <mailoauth/sasl.hpp>

#include <string>
#include <vector>

namespace mailoauth::sandbox::test {

/// What an exchange showed: the final line, and the decoded error challenge if one came.
struct auth_outcome {
  std::string final_line;
  std::string challenge_json;  // empty when the server sent none
};

inline std::string response_b64(sasl::mechanism m, const std::string& user,
                                const std::string& token) {
  return m == sasl::mechanism::xoauth2 ? xoauth2_b64(user, token) : oauthbearer_b64(user, token);
}

// Answers a failure challenge as each mechanism requires: XOAUTH2 an empty line, OAUTHBEARER ^A.
inline auth_outcome finish(line_client& c, sasl::mechanism m, std::string line,
                           std::string_view continuation, std::string_view final_prefix) {
  auth_outcome out;
  if (line.starts_with(continuation)) {
    auto decoded = sasl::decode_error_challenge(line.substr(continuation.size()));
    out.challenge_json = decoded ? decoded->json : "(undecodable)";
    c.send(m == sasl::mechanism::xoauth2 ? "" : "AQ==");
    line = c.read_line();
  }
  out.final_line = line;
  (void)final_prefix;
  return out;
}

/// IMAP over implicit TLS: AUTHENTICATE with SASL-IR (or two steps).
inline auth_outcome imap_auth(line_client& c, sasl::mechanism m, const std::string& user,
                              const std::string& token, bool initial_response = true) {
  c.read_line();  // greeting
  const auto b64 = response_b64(m, user, token);
  if (initial_response) {
    c.send("a1 AUTHENTICATE " + std::string(sasl::name(m)) + " " + b64);
  } else {
    c.send("a1 AUTHENTICATE " + std::string(sasl::name(m)));
    if (c.read_line() != "+ ") return {"(no continuation)", {}};
    c.send(b64);
  }
  return finish(c, m, c.read_line(), "+ ", "a1 ");
}

/// POP3 over implicit TLS, two steps (as Microsoft requires).
inline auth_outcome pop3_auth(line_client& c, sasl::mechanism m, const std::string& user,
                              const std::string& token) {
  c.read_line();
  c.send("AUTH " + std::string(sasl::name(m)));
  if (c.read_line() != "+ ") return {"(no continuation)", {}};
  c.send(response_b64(m, user, token));
  return finish(c, m, c.read_line(), "+ ", "");
}

/// SMTP over implicit TLS, two steps.
inline auth_outcome smtp_auth(line_client& c, sasl::mechanism m, const std::string& user,
                              const std::string& token) {
  c.read_line();
  c.send("EHLO test");
  c.read_until("250 ");
  c.send("AUTH " + std::string(sasl::name(m)));
  if (c.read_line() != "334 ") return {"(no continuation)", {}};
  c.send(response_b64(m, user, token));
  return finish(c, m, c.read_line(), "334 ", "");
}

}  // namespace mailoauth::sandbox::test
