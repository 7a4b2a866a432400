// The identity platform's behaviour, apart from the network. Entra ID's behaviour is the model
// throughout: which errors it shows on a page and which it redirects, its AADSTS codes, its
// response fields. Credentials (codes, tokens, device codes, flow contexts, session cookies)
// are kept only as SHA-256 digests, and nothing here logs a query string, a body or a
// credential. Each endpoint and grant has its own file (endpoints.hpp lists them); this one
// routes a request to its endpoint and holds what the sandbox calls without a request.
#include "sandbox/identity/authority.hpp"

#include "sandbox/identity/authority_state.hpp"
#include "sandbox/identity/claims.hpp"
#include "sandbox/identity/endpoints.hpp"
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace mailoauth::sandbox::detail {
namespace {

http_out route(exchange& x) {
  const auto& path = x.path;
  if (path == "/devicelogin") return devicelogin_endpoint(x);
  if (path == "/login" || path == "/consent") {
    if (x.in.method != "POST") return x.error_page_out(post_only(x.in.method));
    return path == "/login" ? login_endpoint(x) : consent_endpoint(x);
  }
  // /{tenant}/...
  if (path.size() > 1 && path[0] == '/') {
    const auto slash = path.find('/', 1);
    if (slash != std::string::npos) {
      x.tenant = path.substr(1, slash - 1);
      const auto rest = path.substr(slash);
      if (rest == "/oauth2/v2.0/authorize") return authorize_endpoint(x);
      if (rest == "/oauth2/v2.0/token") return token_endpoint(x);
      if (rest == "/oauth2/v2.0/devicecode") return devicecode_endpoint(x);
      if (rest == "/v2.0/.well-known/openid-configuration") return discovery_endpoint(x);
      if (rest == "/discovery/v2.0/keys" || rest == "/discovery/keys") return keys_endpoint(x);
    }
  }
  spdlog::debug("identity: {} {} -> 404", x.in.method, path);
  return json_out(404, R"({"error":"not_found"})");
}

}  // namespace

authority::authority(identity_options options)
    : state_(std::make_unique<state>(std::move(options))) {}
authority::~authority() = default;

void authority::set_origin(std::string origin) {
  std::lock_guard lock(state_->mutex);
  state_->origin = std::move(origin);
}

const identity_options& authority::options() const noexcept {
  return state_->o;
}

identity_endpoints authority::endpoints() const {
  std::lock_guard lock(state_->mutex);
  const auto& s = *state_;
  identity_endpoints e;
  e.authority = s.origin;
  const auto base = s.origin + "/" + s.dir().tenant.id;
  e.authorize = base + "/oauth2/v2.0/authorize";
  e.token = base + "/oauth2/v2.0/token";
  e.devicecode = base + "/oauth2/v2.0/devicecode";
  e.discovery = base + "/v2.0/.well-known/openid-configuration";
  e.jwks = base + "/discovery/v2.0/keys";
  e.devicelogin = s.origin + "/devicelogin";
  e.issuer = s.issuer_v2();
  e.access_token_issuer = s.access_token_issuer();
  return e;
}

http_out authority::handle(const http_in& request) {
  std::lock_guard lock(state_->mutex);
  state_->purge();
  try {
    exchange x(*state_, request);
    auto out = route(x);
    out.headers.emplace_back("x-ms-request-id", x.ctx.trace_id);
    out.headers.emplace_back("client-request-id", x.ctx.correlation_id);
    return out;
  } catch (const std::exception& e) {
    // A bug or an exhausted resource; the message names no credential.
    spdlog::error("identity: internal error: {}", e.what());
    return json_out(500, R"({"error":"server_error"})");
  }
}

result<void> authority::approve_device_code(std::string_view user_code, std::string_view username) {
  std::lock_guard lock(state_->mutex);
  auto& s = *state_;
  const auto code = normalize_user_code(user_code);
  auto* d = find_user_code(s, user_code, nullptr);
  if (!d) return make_failure(errc::invalid_argument, "no device sign-in has the code " + code);
  if (d->expires <= s.now())
    return make_failure(errc::authorization_expired, "the device code " + code + " has expired");
  if (d->status != device_status::pending)
    return make_failure(errc::invalid_argument, "the device code " + code + " was already used");
  const auto* user = s.dir().find_user(username);
  if (!user)
    return make_failure(errc::invalid_argument, "the sandbox has no user " + std::string(username));
  approve_device(s, *d, *user);
  spdlog::info("identity: device sign-in approved for {} on the user's behalf", user->username);
  return {};
}

result<secret> authority::mint_access_token(const mint_request& request) const {
  std::lock_guard lock(state_->mutex);
  const auto& s = *state_;
  const bool app_only = request.username.empty();
  const app_registration* app = nullptr;
  if (!request.client_id.empty()) {
    app = s.dir().find_application(request.client_id);
  } else {
    for (const auto& a : s.dir().applications)
      if (a.confidential == app_only) {
        app = &a;
        break;
      }
  }
  if (!app)
    return make_failure(errc::invalid_argument,
                        request.client_id.empty()
                            ? std::string("the sandbox directory has no suitable application")
                            : "the sandbox has no application " + request.client_id);
  const auto issued = request.issued_at.value_or(s.now());
  const auto lifetime = request.lifetime.value_or(s.o.access_token_lifetime);
  access_claims c;
  if (app_only) {
    c = app_access_claims(s, *app,
                          request.roles.empty() ? app->application_permissions : request.roles,
                          issued, lifetime);
  } else {
    const auto* user = s.dir().find_user(request.username);
    if (!user)
      return make_failure(errc::invalid_argument, "the sandbox has no user " + request.username);
    grant g{app->client_id, user->username, user->object_id, {}, {}};
    if (request.scopes.empty()) {
      for (const auto& p : app->delegated_permissions)
        if (p.find('.') != std::string::npos) g.outlook.insert(p);
    } else {
      g.outlook.insert(request.scopes.begin(), request.scopes.end());
    }
    c = delegated_access_claims(s, g, issued, lifetime);
  }
  auto token = issue_access_token(s, c);
  if (!token) return token.error();
  return secret(std::move(*token));
}

}  // namespace mailoauth::sandbox::detail
