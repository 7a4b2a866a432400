// The authorization code grant (RFC 6749 section 4.1) with PKCE (RFC 7636): the challenge is
// checked at /authorize (public clients must send S256), the code issued after sign-in, and
// redeemed once at /token, where a second redemption revokes what the first gave.
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>

namespace mailoauth::sandbox::detail {

std::optional<aad_error> check_pkce(const app_registration& app, const form_fields& f,
                                    auth_request& r) {
  r.challenge = value(f, "code_challenge");
  r.challenge_method = value(f, "code_challenge_method");
  if (!r.challenge.empty() && r.challenge_method.empty()) r.challenge_method = "plain";
  if (!app.confidential && r.challenge.empty())
    return pkce_required("Send code_challenge with code_challenge_method=S256 (RFC 7636).");
  if (!app.confidential && r.challenge_method != "S256")
    return pkce_required("code_challenge_method must be S256.");
  if (!r.challenge.empty() && r.challenge_method != "S256" && r.challenge_method != "plain")
    return pkce_required("code_challenge_method must be S256 or plain.");
  // RFC 7636 section 4.2: 43 to 128 characters of the unreserved set.
  if (!r.challenge.empty() &&
      (r.challenge.size() < 43 || r.challenge.size() > 128 ||
       r.challenge.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-._~") != std::string::npos))
    return custom_error(400, "invalid_request", 50147,
                        "The size of the code challenge parameter is not valid.");
  return std::nullopt;
}

std::string issue_authorization_code(platform_state& s, const grant& g, const auth_request& r) {
  auto code = "1.A" + random_token(64);
  s.codes[digest(code)] = {g,           r.redirect_uri,
                           r.challenge, r.challenge_method,
                           r.nonce,     s.now() + s.o.authorization_code_lifetime,
                           false,       {}};
  return code;
}

token_result redeem_authorization_code(platform_state& s, const app_registration& app,
                                       const form_fields& f) {
  const auto* code = field(f, "code");
  if (!code || code->empty()) return missing_parameter("code");
  const auto* redirect = field(f, "redirect_uri");
  if (!redirect || redirect->empty()) return missing_parameter("redirect_uri");
  const auto it = s.codes.find(digest(*code));
  if (it == s.codes.end()) return bad_authorization_code({});
  auto& c = it->second;
  if (!iequals(c.g.client_id, app.client_id)) return grant_of_another_client();
  if (c.redeemed) {
    // RFC 6749 section 4.1.2: a code used twice revokes what it gave.
    s.revoke_family(c.family);
    return code_redeemed();
  }
  if (c.expires <= s.now()) return code_expired();
  if (*redirect != c.redirect_uri)
    return bad_authorization_code("The redirect_uri differs from the authorization request's.");
  if (!c.challenge.empty()) {
    const auto* verifier = field(f, "code_verifier");
    if (!verifier || verifier->empty()) return missing_parameter("code_verifier");
    const auto expected = c.challenge_method == "S256" ? base64url(sha256(*verifier)) : *verifier;
    if (!same_secret(expected, c.challenge)) return pkce_mismatch();
  }
  auto g = rescope(s, app, c.g, field(f, "scope"), c.g.outlook);
  if (auto* e = std::get_if<aad_error>(&g)) return *e;
  c.redeemed = true;
  c.family = new_guid();
  spdlog::info("identity: redeemed an authorization code of {} for {}", c.g.username,
               app.client_id);
  return delegated_tokens(s, std::get<grant>(g), c.family, c.nonce);
}

}  // namespace mailoauth::sandbox::detail
