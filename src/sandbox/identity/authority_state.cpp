#include "sandbox/identity/authority_state.hpp"

#include "sandbox/identity/text.hpp"

namespace mailoauth::sandbox::detail {
namespace {

template <class Map>
void purge_expired(Map& m, time_point now) {
  for (auto it = m.begin(); it != m.end();) {
    if (it->second.expires <= now)
      it = m.erase(it);
    else
      ++it;
  }
}

}  // namespace

std::int64_t unix_seconds(time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

authority::state::state(identity_options opts) : o(std::move(opts)) {
  if (!o.clock) o.clock = [] { return clock_type::now(); };
}

error_context authority::state::context(const http_in& in) const {
  error_context c;
  c.now = unix_seconds(now());
  c.trace_id = new_guid();
  const auto& id = in.client_request_id;
  const bool guid_like =
      id.size() == 36 && id.find_first_not_of("0123456789abcdefABCDEF-") == std::string::npos;
  c.correlation_id = guid_like ? to_lower(id) : new_guid();
  return c;
}

tenant_kind authority::state::resolve_tenant(std::string_view t) const {
  if (iequals(t, "common") || iequals(t, "organizations") || iequals(t, dir().tenant.id) ||
      iequals(t, dir().tenant.domain))
    return tenant_kind::ours;
  if (iequals(t, "consumers")) return tenant_kind::consumers;
  return tenant_kind::unknown;
}

std::variant<const app_registration*, aad_error> authority::state::client_for(
    std::string_view tenant, const std::string* client_id) const {
  const auto kind = resolve_tenant(tenant);
  if (kind == tenant_kind::unknown) return unknown_tenant(tenant);
  if (!client_id || client_id->empty()) return missing_parameter("client_id");
  const auto* app = dir().find_application(*client_id);
  if (!app) return unknown_client(*client_id, dir().tenant.domain);
  if (kind == tenant_kind::consumers) return consumers_refused(app->client_id, app->display_name);
  return app;
}

std::set<std::string> authority::state::consented(const app_registration& app,
                                                  const std::string& user_oid) const {
  std::set<std::string> out;
  if (app.admin_consent)
    out.insert(app.delegated_permissions.begin(), app.delegated_permissions.end());
  if (const auto it = consents.find({app.client_id, user_oid}); it != consents.end())
    out.insert(it->second.begin(), it->second.end());
  return out;
}

bool authority::state::covers(const std::set<std::string>& have, const scope_set& want) {
  for (const auto& s : want.outlook)
    if (!have.contains(s)) return false;
  for (const auto& s : want.oidc)
    if (!have.contains(s)) return false;
  return true;
}

void authority::state::record_consent(const std::string& client_id, const std::string& user_oid,
                                      const scope_set& s) {
  auto& c = consents[{client_id, user_oid}];
  c.insert(s.outlook.begin(), s.outlook.end());
  c.insert(s.oidc.begin(), s.oidc.end());
}

std::string authority::state::issuer_v2() const {
  return origin + "/" + dir().tenant.id + "/v2.0";
}

std::string authority::state::access_token_issuer() const {
  return "https://sts.windows.net/" + dir().tenant.id + "/";
}

void authority::state::revoke_family(const std::string& family) {
  if (!family.empty()) revoked_families.insert(family);
}

void authority::state::purge() {
  const auto t = now();
  if (t - last_purge < std::chrono::seconds(5) &&
      codes.size() + devices.size() + flows.size() < max_pending)
    return;
  last_purge = t;
  purge_expired(codes, t);
  purge_expired(flows, t);
  purge_expired(sessions, t);
  purge_expired(refresh_tokens, t);
  for (auto it = devices.begin(); it != devices.end();) {
    // Kept a while after expiry, to answer expired_token rather than bad_verification_code.
    if (it->second.expires + std::chrono::minutes(15) <= t) {
      user_codes.erase(it->second.user_code);
      it = devices.erase(it);
    } else {
      ++it;
    }
  }
}

bool authority::state::full() const {
  return codes.size() + devices.size() + flows.size() >= max_pending;
}

}  // namespace mailoauth::sandbox::detail
