// Internal: whether a decoded SASL response may open a mailbox over a given protocol, the way
// Exchange Online decides it: a valid RS256 token from the identity platform, for Exchange's
// audience, with the protocol's delegated scope (and then only for its own user) or app-only
// role (any mailbox the sandbox hosts).
#pragma once

#include <mailoauth/sasl.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mailoauth::sandbox::detail {

enum class mail_protocol { imap, pop3, smtp };

struct token_policy {
  const std::string* public_pem = nullptr;
  const std::vector<std::string>* domains = nullptr;
  std::int64_t now = 0;
  std::int64_t leeway = 0;
};

struct token_verdict {
  bool ok = false;
  /// The mailbox opened: the SASL user (or the token's upn), lower-cased.
  std::string mailbox;
  /// For the failure challenge: "400" (malformed, wrong user), "401" (invalid or expired),
  /// "403" (missing scope or role).
  std::string status;
  /// For the log; never holds the token.
  std::string reason;
};

token_verdict check_token(const sasl::decoded_response& response, mail_protocol protocol,
                          const token_policy& policy);

/// The JSON error challenge (before base64) for a refused token: Google's XOAUTH2 shape
/// {"status":"401","schemes":"Bearer","scope":...} or RFC 7628's for OAUTHBEARER.
std::string error_challenge_json(sasl::mechanism mech, const token_verdict& verdict,
                                 mail_protocol protocol, const std::string& openid_configuration);

/// "https://outlook.office365.com/IMAP.AccessAsUser.All" and the like.
std::string protocol_scope(mail_protocol protocol);

/// Lower-cases ASCII.
std::string lower(std::string_view s);

/// Whether `address` is user@domain with the domain one of `domains` (case-insensitive).
bool hosted_address(std::string_view address, const std::vector<std::string>& domains);

}  // namespace mailoauth::sandbox::detail
