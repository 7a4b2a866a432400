// The refresh token grant (RFC 6749 section 6) with rotation: every refresh gives a new
// refresh token, and an old one coming back revokes the whole sign-in (RFC 9700 section
// 4.14.2), as does a code redeemed twice.
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>

namespace mailoauth::sandbox::detail {

token_result refresh_token_grant(platform_state& s, const app_registration& app,
                                 const form_fields& f) {
  const auto* token = field(f, "refresh_token");
  if (!token || token->empty()) return missing_parameter("refresh_token");
  const auto it = s.refresh_tokens.find(digest(*token));
  if (it == s.refresh_tokens.end()) return invalid_refresh_token();
  auto& r = it->second;
  if (s.revoked_families.contains(r.family)) return refresh_token_revoked();
  if (!iequals(r.g.client_id, app.client_id)) return grant_of_another_client();
  if (r.used) {
    // Two holders of one sign-in: every token of it is revoked.
    spdlog::warn("identity: a used refresh token of {} came back; its sign-in is revoked",
                 r.g.username);
    const auto family = r.family;
    s.revoke_family(family);
    return refresh_token_reused();
  }
  if (r.expires <= s.now()) return refresh_token_expired();
  const auto* app_reg = s.dir().find_application(r.g.client_id);
  const auto allowed = app_reg ? s.consented(*app_reg, r.g.user_oid) : std::set<std::string>{};
  auto g = rescope(s, app, r.g, field(f, "scope"), allowed);
  if (auto* e = std::get_if<aad_error>(&g)) return *e;
  auto next = std::get<grant>(std::move(g));
  next.oidc.insert("offline_access");  // the refresh token stays a refresh token
  r.used = true;
  const auto family = r.family;
  return delegated_tokens(s, next, family, {});
}

}  // namespace mailoauth::sandbox::detail
