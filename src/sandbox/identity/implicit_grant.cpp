// The implicit grant (RFC 6749 section 4.2) and OpenID Connect's id_token response type: tokens
// in the authorization response, only where the registration enables them ("Access tokens" and
// "ID tokens" on the portal's Authentication page), as Entra ID allows.
#include "sandbox/identity/claims.hpp"
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>

namespace mailoauth::sandbox::detail {

std::optional<aad_error> check_implicit_enabled(const app_registration& app,
                                                const auth_request& r) {
  if (r.want_token && !app.implicit_access_tokens) return implicit_access_tokens_disabled();
  if (r.want_id_token && !app.implicit_id_tokens) return implicit_id_tokens_disabled();
  return std::nullopt;
}

std::optional<aad_error> check_implicit_scopes(auth_request& r, const std::string& scope) {
  if (r.want_id_token && !r.scopes.openid())
    return invalid_scope(scope, "response_type 'id_token' requires the 'openid' scope.");
  if (r.want_id_token && r.nonce.empty()) return missing_parameter("nonce");
  if (r.want_token || r.want_id_token) r.scopes.oidc.erase("offline_access");  // not in a URL
  return std::nullopt;
}

std::optional<aad_error> implicit_tokens(const platform_state& s, const grant& g,
                                         const auth_request& r, fields& out) {
  if (r.want_token) {
    auto at =
        issue_access_token(s, delegated_access_claims(s, g, s.now(), s.o.access_token_lifetime));
    if (!at) {
      spdlog::error("identity: cannot sign an access token: {}", at.error().message);
      return token_issuing_failed();
    }
    out.emplace_back("access_token", std::move(*at));
    out.emplace_back("token_type", "Bearer");
    out.emplace_back("expires_in", std::to_string(s.o.access_token_lifetime.count()));
    out.emplace_back("scope", response_scope(g.outlook, g.oidc));
  }
  if (r.want_id_token) {
    auto id = issue_id_token(s, g, r.nonce);
    if (!id) {
      spdlog::error("identity: cannot sign an ID token: {}", id.error().message);
      return token_issuing_failed();
    }
    out.emplace_back("id_token", std::move(*id));
  }
  return std::nullopt;
}

}  // namespace mailoauth::sandbox::detail
