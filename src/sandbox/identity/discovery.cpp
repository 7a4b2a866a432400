// OpenID Connect Discovery 1.0 for the v2.0 endpoints, in Entra ID's shape (the issuer keeps
// its {tenantid} placeholder for common and organizations), and the JWKS of the signing key.
#include "sandbox/identity/endpoints.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace mailoauth::sandbox::detail {

http_out discovery_endpoint(exchange& x) {
  namespace json = boost::json;
  const auto& s = x.s;
  if (s.resolve_tenant(x.tenant) == tenant_kind::unknown)
    return x.json_error(unknown_tenant(x.tenant));
  const bool specific = !iequals(x.tenant, "common") && !iequals(x.tenant, "organizations") &&
                        !iequals(x.tenant, "consumers");
  const auto base = s.origin + "/" + x.tenant;
  json::object d;
  d["token_endpoint"] = base + "/oauth2/v2.0/token";
  d["token_endpoint_auth_methods_supported"] =
      json::array{"client_secret_post", "private_key_jwt", "client_secret_basic"};
  d["jwks_uri"] = base + "/discovery/v2.0/keys";
  d["response_modes_supported"] = json::array{"query", "fragment", "form_post"};
  d["subject_types_supported"] = json::array{"pairwise"};
  d["id_token_signing_alg_values_supported"] = json::array{"RS256"};
  d["response_types_supported"] =
      json::array{"code", "id_token", "code id_token", "id_token token"};
  d["scopes_supported"] = json::array{"openid", "profile", "email", "offline_access"};
  d["issuer"] = s.origin + "/" + (specific ? s.dir().tenant.id : "{tenantid}") + "/v2.0";
  d["request_uri_parameter_supported"] = false;
  d["authorization_endpoint"] = base + "/oauth2/v2.0/authorize";
  d["device_authorization_endpoint"] = base + "/oauth2/v2.0/devicecode";
  d["http_logout_supported"] = true;
  d["frontchannel_logout_supported"] = true;
  d["claims_supported"] = json::array{"sub", "iss",  "aud",   "exp", "iat",
                                      "nbf", "name", "nonce", "oid", "preferred_username",
                                      "tid", "ver",  "email"};
  d["grant_types_supported"] =
      json::array{"authorization_code", "refresh_token", "client_credentials",
                  std::string(device_grant), "implicit"};
  d["code_challenge_methods_supported"] = json::array{"plain", "S256"};
  d["tenant_region_scope"] = "NA";
  d["cloud_instance_name"] = "microsoftonline.com";
  spdlog::debug("identity: GET {} -> 200", x.path);
  auto out = json_out(200, json::serialize(d));
  out.headers[0].second = "max-age=86400, private";
  out.headers.pop_back();  // no Pragma: the document may be cached
  return out;
}

http_out keys_endpoint(exchange& x) {
  const auto& s = x.s;
  if (s.resolve_tenant(x.tenant) == tenant_kind::unknown)
    return x.json_error(unknown_tenant(x.tenant));
  auto doc = jwks_document(s.o.keys.token_key);
  if (!doc) return json_out(500, R"({"error":"server_error"})");
  spdlog::debug("identity: GET {} -> 200", x.path);
  return json_out(200, std::move(*doc));
}

}  // namespace mailoauth::sandbox::detail
