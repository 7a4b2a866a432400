// The sandbox's access tokens: RS256 JWTs shaped like the ones Microsoft's identity platform
// issues for Exchange Online (v1.0 access tokens for https://outlook.office365.com), signed and
// verified with libjwt. The identity platform signs them; the mail servers verify them.
#pragma once

#include <mailoauth/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::sandbox {

/// The RSA key pair the identity platform signs with; `kid` names it in the JWT header and in
/// the JWKS document.
struct signing_key {
  std::string private_pem;  // PKCS#8 PEM; a secret, never logged
  std::string public_pem;   // SubjectPublicKeyInfo PEM
  std::string kid;
};

/// What an access token says. Delegated tokens carry `scopes` (the `scp` claim: short names such
/// as "IMAP.AccessAsUser.All", space-separated in the JWT) and `username` (`upn`); app-only tokens
/// carry `roles` ("IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp") and no user.
struct access_claims {
  std::string issuer;     // iss: https://sts.windows.net/{tenant id}/
  std::string audience;   // aud: https://outlook.office365.com
  std::string tenant_id;  // tid
  std::string client_id;  // appid
  std::string object_id;  // oid: the user's (delegated) or the app's (app-only) id
  std::string username;   // upn; empty for app-only tokens
  std::vector<std::string> scopes;
  std::vector<std::string> roles;
  std::int64_t issued_at = 0;   // iat, unix seconds
  std::int64_t not_before = 0;  // nbf
  std::int64_t expires_at = 0;  // exp
};

/// What an ID token says: Microsoft's v2.0 ID token (OpenID Connect Core section 2) for the
/// app that asked for `openid`. Empty `name`, `email` and `nonce` are left out.
struct id_claims {
  std::string issuer;              // iss: {authority}/{tenant id}/v2.0
  std::string audience;            // aud: the app's client id
  std::string tenant_id;           // tid
  std::string object_id;           // oid: the user's
  std::string subject;             // sub: pairwise, per user and app
  std::string preferred_username;  // the UPN
  std::string name;
  std::string email;
  std::string nonce;
  std::int64_t issued_at = 0;   // iat, unix seconds
  std::int64_t not_before = 0;  // nbf
  std::int64_t expires_at = 0;  // exp
};

/// Signs `claims` with RS256 under `key` (header: typ JWT, alg RS256, kid).
result<std::string> sign_access_token(const signing_key& key, const access_claims& claims);
/// Signs an ID token the same way, with the same key and header.
result<std::string> sign_id_token(const signing_key& key, const id_claims& claims);

/// Verifies a compact JWT: exactly RS256 (any other alg, "none" and HS256 with the public key as
/// its secret included, is refused before libjwt sees the key), the signature under
/// `public_pem`, and `nbf <= now < exp` (with `leeway_seconds` either side). Audience, scopes
/// and user are the caller's to check. The failure message says which check failed and never
/// quotes the token.
result<access_claims> verify_access_token(std::string_view token, const std::string& public_pem,
                                          std::int64_t now, std::int64_t leeway_seconds = 0);

/// The JWKS document ({"keys":[{"kty":"RSA","use":"sig","kid":...,"n":...,"e":...}]}) for the
/// discovery document's jwks_uri.
result<std::string> jwks_document(const signing_key& key);

}  // namespace mailoauth::sandbox
