// The client credentials grant (RFC 6749 section 4.4): an app-only token for a confidential
// client, scope exactly https://outlook.office365.com/.default, with the application
// permissions as roles once an administrator has consented.
#include "sandbox/identity/claims.hpp"
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>

namespace mailoauth::sandbox::detail {

token_result client_credentials_grant(const platform_state& s, const app_registration& app,
                                      const form_fields& f) {
  if (auto e = check_app_only_scope(value(f, "scope"), s.dir().tenant.domain)) return *e;
  // Application permissions take effect only once an administrator has consented.
  const auto c = app_access_claims(
      s, app, app.admin_consent ? app.application_permissions : std::vector<std::string>{}, s.now(),
      s.o.access_token_lifetime);
  auto at = issue_access_token(s, c);
  if (!at) {
    spdlog::error("identity: cannot sign an access token: {}", at.error().message);
    return token_issuing_failed();
  }
  boost::json::object r;
  r["token_type"] = "Bearer";
  r["expires_in"] = s.o.access_token_lifetime.count();
  r["ext_expires_in"] = s.o.access_token_lifetime.count();
  r["access_token"] = std::move(*at);
  spdlog::info("identity: app-only token for {} ({} roles)", app.client_id, c.roles.size());
  return r;
}

}  // namespace mailoauth::sandbox::detail
