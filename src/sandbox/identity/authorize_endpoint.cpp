// /{tenant}/oauth2/v2.0/authorize: the authorization request is checked as Entra ID checks it
// (errors about the client and its redirect URI on a page, the rest redirected to the app),
// then the user signs in (signin_pages.cpp) unless the browser's session already has, consents
// if need be, and the app gets a code (authorization_code_grant.cpp) or tokens
// (implicit_grant.cpp) through the browser.
#include "sandbox/identity/endpoints.hpp"
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace mailoauth::sandbox::detail {
namespace {

/// RFC 8252 section 7.3: a loopback redirect URI matches whatever its port. Otherwise the URI
/// must be registered exactly (an empty path and "/" being the same).
bool redirect_matches(const std::string& registered, const std::string& requested) {
  auto split = [](const std::string& uri) {
    struct parts {
      std::string scheme, host, port, rest;
    } p;
    const auto colon = uri.find("://");
    if (colon == std::string::npos) {
      p.rest = uri;
      return p;
    }
    p.scheme = to_lower(uri.substr(0, colon));
    const auto start = colon + 3;
    const auto end = uri.find_first_of("/?#", start);
    auto authority = uri.substr(start, end == std::string::npos ? std::string::npos : end - start);
    p.rest = end == std::string::npos ? std::string() : uri.substr(end);
    const auto port_colon = authority.rfind(':');
    if (port_colon != std::string::npos && authority.find(']', port_colon) == std::string::npos) {
      p.port = authority.substr(port_colon + 1);
      authority.resize(port_colon);
    }
    p.host = to_lower(authority);
    if (p.rest.empty() || p.rest.front() != '/') p.rest = "/" + p.rest;
    return p;
  };
  if (registered == requested) return true;
  const auto r = split(registered);
  const auto q = split(requested);
  if (r.scheme.empty() || q.scheme.empty()) return false;
  const bool loopback =
      r.scheme == "http" && (r.host == "localhost" || r.host == "127.0.0.1" || r.host == "[::1]");
  if (requested.find('#') != std::string::npos) return false;  // RFC 6749 section 3.1.2
  // Any port, but a port: digits (RFC 3986 section 3.2.3). Anything else would go into the
  // Location and Content-Security-Policy headers as the request wrote it, CR and LF included.
  if (loopback)
    return q.scheme == r.scheme && q.host == r.host && q.rest == r.rest &&
           q.port.find_first_not_of("0123456789") == std::string::npos;
  return q.scheme == r.scheme && q.host == r.host && q.port == r.port && q.rest == r.rest;
}

/// Sends the response to the client through the browser, per response_mode.
http_out deliver(const exchange& x, const auth_request& r, fields f) {
  if (!r.state.empty()) f.emplace_back("state", r.state);
  f.emplace_back("session_state", new_guid());
  if (r.response_mode == "form_post") {
    spdlog::debug("identity: {} {} -> form_post to the redirect URI", x.in.method, x.path);
    return page_out(200, form_post_page(r.redirect_uri, f));
  }
  std::string location = r.redirect_uri;
  if (r.response_mode == "fragment") {
    location += "#" + encode_form(f);
  } else {
    location += (location.find('?') == std::string::npos ? "?" : "&") + encode_form(f);
  }
  spdlog::debug("identity: {} {} -> 302 to the redirect URI ({})", x.in.method, x.path,
                r.response_mode);
  http_out out;
  out.status = 302;
  out.content_type = "text/html; charset=utf-8";
  out.headers.emplace_back("Location", std::move(location));
  out.headers.emplace_back("Cache-Control", "no-store, no-cache");
  return out;
}

}  // namespace

http_out redirect_error(exchange& x, const auth_request& r, const aad_error& e) {
  spdlog::debug("identity: {} {} -> redirect with {} AADSTS{}", x.in.method, x.path, e.error,
                e.code);
  return deliver(
      x, r,
      {{"error", e.error},
       {"error_description", error_description(e, x.ctx)},
       {"error_uri", "https://login.microsoftonline.com/error?code=" + std::to_string(e.code)}});
}

http_out authorize_endpoint(exchange& x) {
  auto& s = x.s;
  if (x.in.method != "GET" && x.in.method != "POST")
    return x.error_page_out(post_only(x.in.method));
  const auto f = x.form();
  if (!f) return x.error_page_out(malformed_request("The request's parameters are malformed."));
  auto client = s.client_for(x.tenant, field(*f, "client_id"));
  if (auto* e = std::get_if<aad_error>(&client)) return x.error_page_out(*e);
  const auto& app = *std::get<const app_registration*>(client);

  // Errors about the client and its redirect URI are shown, never redirected: the redirect
  // URI is not trusted yet (RFC 6749 section 4.1.2.1).
  auth_request r;
  r.tenant = x.tenant;
  r.client_id = app.client_id;
  r.redirect_uri = value(*f, "redirect_uri");
  if (r.redirect_uri.empty()) {
    if (app.redirect_uris.empty()) return x.error_page_out(no_redirect_registered(app.client_id));
    r.redirect_uri = app.redirect_uris.front();
  } else if (std::none_of(
                 app.redirect_uris.begin(), app.redirect_uris.end(),
                 [&](const std::string& u) { return redirect_matches(u, r.redirect_uri); })) {
    return x.error_page_out(redirect_mismatch(r.redirect_uri, app.client_id));
  }

  r.state = value(*f, "state");
  r.nonce = value(*f, "nonce");
  r.prompt = value(*f, "prompt");
  r.login_hint = value(*f, "login_hint");
  const auto type = value(*f, "response_type");
  for (const auto& w : split_spaces(type)) {
    if (w == "code") {
      r.want_code = true;
    } else if (w == "token") {
      r.want_token = true;
    } else if (w == "id_token") {
      r.want_id_token = true;
    } else {
      r.response_mode = "query";
      return redirect_error(x, r, unsupported_response_type(type));
    }
  }
  const bool implicit = r.want_token || r.want_id_token;
  const auto mode = value(*f, "response_mode");
  r.response_mode = mode.empty() ? (implicit ? "fragment" : "query") : mode;
  if (r.response_mode != "query" && r.response_mode != "fragment" &&
      r.response_mode != "form_post") {
    r.response_mode = implicit ? "fragment" : "query";
    return redirect_error(x, r, unsupported_response_mode(mode));
  }
  if (type.empty()) return redirect_error(x, r, missing_parameter("response_type"));
  // Tokens never travel in a query string (OAuth 2.0 Multiple Response Type Encoding).
  if (implicit && r.response_mode == "query") {
    r.response_mode = "fragment";
    return redirect_error(x, r, unsupported_response_mode("query"));
  }
  if (auto e = check_implicit_enabled(app, r)) return redirect_error(x, r, *e);

  const auto scope = value(*f, "scope");
  auto scopes = parse_delegated_scopes(scope, app, s.dir().tenant.domain);
  if (auto* e = std::get_if<aad_error>(&scopes)) return redirect_error(x, r, *e);
  r.scopes = std::get<scope_set>(std::move(scopes));
  if (auto e = check_implicit_scopes(r, scope)) return redirect_error(x, r, *e);
  if (r.want_code)
    if (auto e = check_pkce(app, *f, r)) return redirect_error(x, r, *e);
  if (s.full()) return x.error_page_out(temporarily_unavailable());

  // A signed-in browser session skips the password, unless the app asks for a sign-in.
  flow_context flow;
  flow.req = std::move(r);
  flow.expires = s.now() + flow_lifetime;
  const auto* user = x.session_user();
  const bool fresh_login = flow.req.prompt == "login" || flow.req.prompt == "select_account";
  if (user && !fresh_login &&
      (flow.req.login_hint.empty() || iequals(flow.req.login_hint, user->username))) {
    flow.signed_in = true;
    flow.username = user->username;
    return after_signin(x, flow, new_flow_id(), {});
  }
  if (flow.req.prompt == "none") return redirect_error(x, flow.req, login_required());
  const auto id = new_flow_id();
  auto page = signin_page(id, app.display_name, s.dir().tenant.display_name, flow.req.login_hint,
                          {}, csp_source(flow.req.redirect_uri));
  s.flows[digest(id)] = std::move(flow);
  spdlog::debug("identity: {} {} -> sign-in page", x.in.method, x.path);
  return page_out(200, std::move(page));
}

http_out after_signin(exchange& x, flow_context& flow, const std::string& id,
                      std::optional<std::string> set_cookie) {
  auto& s = x.s;
  const auto* app = s.dir().find_application(flow.req.client_id);
  const auto* user = s.dir().find_user(flow.username);
  if (!app || !user) return x.error_page_out(flow_expired());
  const auto have = s.consented(*app, user->object_id);
  http_out out;
  if (flow.req.prompt == "consent" || !platform_state::covers(have, flow.req.scopes)) {
    if (flow.req.prompt == "none") {
      auto e = consent_missing(app->client_id, app->display_name);
      e.error = "consent_required";
      out = redirect_error(x, flow.req, e);
    } else {
      out = page_out(
          200, consent_page(id, app->display_name, s.dir().tenant.display_name, user->username,
                            describe(flow.req.scopes.outlook, flow.req.scopes.oidc), false,
                            csp_source(flow.req.redirect_uri)));
      spdlog::debug("identity: {} {} -> consent page", x.in.method, x.path);
      s.flows[digest(id)] = std::move(flow);
    }
  } else {
    out = complete_authorization(x, flow);
    s.flows.erase(digest(id));
  }
  if (set_cookie) out.headers.emplace_back("Set-Cookie", *set_cookie);
  return out;
}

http_out complete_authorization(exchange& x, const flow_context& flow) {
  auto& s = x.s;
  const auto& r = flow.req;
  const auto* user = s.dir().find_user(flow.username);
  const grant g{r.client_id, user->username, user->object_id, r.scopes.outlook, r.scopes.oidc};
  fields f;
  if (r.want_code) f.emplace_back("code", issue_authorization_code(s, g, r));
  if (auto e = implicit_tokens(s, g, r, f)) return x.error_page_out(*e);
  // RFC 9207: the authorization server names itself in the response.
  f.emplace_back("iss", s.issuer_v2());
  spdlog::info("identity: signed in {} to {} ({})", user->username, r.client_id,
               r.want_code ? "authorization code" : "implicit grant");
  return deliver(x, r, std::move(f));
}

}  // namespace mailoauth::sandbox::detail
