#include "sandbox/identity/claims.hpp"

#include "sandbox/identity/text.hpp"

namespace mailoauth::sandbox::detail {
namespace {

// What every access token shares: Exchange Online as the audience, the v1.0 issuer, the tenant.
access_claims outlook_access(const platform_state& s, time_point issued,
                             std::chrono::seconds lifetime) {
  access_claims c;
  c.issuer = s.access_token_issuer();
  c.audience = std::string(outlook_resource);
  c.tenant_id = s.dir().tenant.id;
  c.issued_at = unix_seconds(issued);
  c.not_before = c.issued_at;
  c.expires_at = c.issued_at + lifetime.count();
  return c;
}

}  // namespace

access_claims delegated_access_claims(const platform_state& s, const grant& g, time_point issued,
                                      std::chrono::seconds lifetime) {
  auto c = outlook_access(s, issued, lifetime);
  c.client_id = g.client_id;
  c.object_id = g.user_oid;
  c.username = g.username;
  c.scopes.assign(g.outlook.begin(), g.outlook.end());
  return c;
}

access_claims app_access_claims(const platform_state& s, const app_registration& app,
                                std::vector<std::string> roles, time_point issued,
                                std::chrono::seconds lifetime) {
  auto c = outlook_access(s, issued, lifetime);
  c.client_id = app.client_id;
  c.object_id = app.object_id;
  c.roles = std::move(roles);
  return c;
}

id_claims id_token_claims(const platform_state& s, const grant& g, const std::string& nonce) {
  id_claims c;
  c.audience = g.client_id;
  c.issuer = s.issuer_v2();
  c.issued_at = unix_seconds(s.now());
  c.not_before = c.issued_at;
  c.expires_at = c.issued_at + s.o.access_token_lifetime.count();
  if (const auto* user = s.dir().find_user(g.username)) c.name = user->display_name;
  c.object_id = g.user_oid;
  c.preferred_username = g.username;
  if (g.oidc.contains("email")) c.email = g.username;
  c.subject = base64url(sha256(g.user_oid + "/" + g.client_id)).substr(0, 43);
  c.tenant_id = s.dir().tenant.id;
  c.nonce = nonce;
  return c;
}

result<std::string> issue_access_token(const platform_state& s, const access_claims& c) {
  return sign_access_token(s.o.keys.token_key, c);
}

result<std::string> issue_id_token(const platform_state& s, const grant& g,
                                   const std::string& nonce) {
  return sign_id_token(s.o.keys.token_key, id_token_claims(s, g, nonce));
}

}  // namespace mailoauth::sandbox::detail
