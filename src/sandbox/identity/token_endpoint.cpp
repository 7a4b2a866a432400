// /{tenant}/oauth2/v2.0/token: the client authenticates (or, being public, does not), then the
// grant_type picks the grant (*_grant.cpp). What the delegated grants share is here: narrowing
// a grant's scope and the token response.
#include "sandbox/identity/claims.hpp"
#include "sandbox/identity/endpoints.hpp"
#include "sandbox/identity/grants.hpp"

#include <mailoauth/sasl.hpp>

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace mailoauth::sandbox::detail {
namespace {

http_out tokens(const exchange& x, token_result r, std::string_view grant_type) {
  if (auto* e = std::get_if<aad_error>(&r)) return x.json_error(*e);
  spdlog::debug("identity: POST {} -> 200 ({})", x.path, grant_type);
  return json_out(200, boost::json::serialize(std::get<boost::json::object>(r)));
}

std::string new_refresh_token(platform_state& s, const grant& g, const std::string& family) {
  auto token = "0.A" + random_token(96);
  s.refresh_tokens[digest(token)] = {family, g, s.now() + s.o.refresh_token_lifetime, false};
  return token;
}

}  // namespace

http_out token_endpoint(exchange& x) {
  auto& s = x.s;
  if (x.in.method != "POST") return x.json_error(post_only(x.in.method));
  const auto f = x.form();
  if (!f) return x.json_error(malformed_request("The request body is malformed."));
  auto client = authenticate_client(x, *f);
  if (auto* e = std::get_if<aad_error>(&client)) return x.json_error(*e);
  const auto& app = *std::get<const app_registration*>(client);
  const auto grant_type = value(*f, "grant_type");
  if (grant_type.empty()) return x.json_error(missing_parameter("grant_type"));
  if (grant_type == "authorization_code")
    return tokens(x, redeem_authorization_code(s, app, *f), grant_type);
  if (grant_type == "refresh_token") return tokens(x, refresh_token_grant(s, app, *f), grant_type);
  if (grant_type == device_grant) return tokens(x, poll_device_code(s, app, *f), "device_code");
  if (grant_type == "client_credentials")
    return tokens(x, client_credentials_grant(s, app, *f), grant_type);
  return x.json_error(unsupported_grant_type(grant_type));
}

std::variant<const app_registration*, aad_error> authenticate_client(const exchange& x,
                                                                     const form_fields& f) {
  const auto& authorization = x.in.authorization;
  std::optional<std::string> basic_id;
  std::optional<std::string> basic_secret;
  if (iequals(authorization.substr(0, std::min<std::size_t>(6, authorization.size())), "basic ")) {
    const auto decoded = sasl::base64_decode(authorization.substr(6));
    const auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
      return malformed_request("The Authorization header is malformed.");
    // RFC 6749 section 2.3.1: both halves are form-encoded.
    const auto parsed =
        parse_form("i=" + decoded->substr(0, colon) + "&s=" + decoded->substr(colon + 1));
    if (!parsed) return malformed_request("The Authorization header is malformed.");
    basic_id = parsed->at("i");
    basic_secret = parsed->at("s");
  }
  const auto* form_id = field(f, "client_id");
  const auto* form_secret = field(f, "client_secret");
  if (basic_secret && form_secret)
    return malformed_request("The client authenticated twice (header and body).");
  const std::string* id = form_id ? form_id : (basic_id ? &*basic_id : nullptr);
  if (basic_id && form_id && !iequals(*basic_id, *form_id))
    return malformed_request("client_id differs between the header and the body.");
  auto client = x.s.client_for(x.tenant, id);
  if (std::holds_alternative<aad_error>(client)) return client;
  const auto& app = *std::get<const app_registration*>(client);
  const std::string* given = form_secret ? form_secret : (basic_secret ? &*basic_secret : nullptr);
  if (field(f, "client_assertion") && !app.confidential) return public_client_sent_secret();
  if (!app.confidential) {
    if (given) return public_client_sent_secret();
    return &app;
  }
  if (!given || given->empty()) return secret_required();
  if (!same_secret(*given, app.client_secret.reveal())) return invalid_secret(app.client_id);
  return &app;
}

std::variant<grant, aad_error> rescope(const platform_state& s, const app_registration& app,
                                       const grant& g, const std::string* scope,
                                       const std::set<std::string>& allowed) {
  if (!scope || scope->empty()) return g;
  auto parsed = parse_delegated_scopes(*scope, app, s.dir().tenant.domain);
  if (auto* e = std::get_if<aad_error>(&parsed)) return *e;
  const auto& want = std::get<scope_set>(parsed);
  for (const auto& p : want.outlook)
    if (!allowed.contains(p)) return consent_missing(app.client_id, app.display_name);
  grant out = g;
  out.outlook = want.outlook;
  for (const auto& p : want.oidc)
    if (allowed.contains(p) || g.oidc.contains(p)) out.oidc.insert(p);
  return out;
}

token_result delegated_tokens(platform_state& s, const grant& g, const std::string& family,
                              const std::string& nonce) {
  auto at =
      issue_access_token(s, delegated_access_claims(s, g, s.now(), s.o.access_token_lifetime));
  if (!at) {
    spdlog::error("identity: cannot sign an access token: {}", at.error().message);
    return token_issuing_failed();
  }
  boost::json::object r;
  r["token_type"] = "Bearer";
  r["scope"] = response_scope(g.outlook, g.oidc);
  r["expires_in"] = s.o.access_token_lifetime.count();
  r["ext_expires_in"] = s.o.access_token_lifetime.count();
  r["access_token"] = std::move(*at);
  if (g.oidc.contains("offline_access")) r["refresh_token"] = new_refresh_token(s, g, family);
  if (g.oidc.contains("openid")) {
    auto id = issue_id_token(s, g, nonce);
    if (!id) {
      spdlog::error("identity: cannot sign an ID token: {}", id.error().message);
      return token_issuing_failed();
    }
    r["id_token"] = std::move(*id);
  }
  return r;
}

}  // namespace mailoauth::sandbox::detail
