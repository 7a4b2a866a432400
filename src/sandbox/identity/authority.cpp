// The identity platform's endpoints and pages. Entra ID's behaviour is the model throughout:
// which errors it shows on a page and which it redirects, its AADSTS codes, its response
// fields. Credentials (codes, tokens, device codes, flow contexts, session cookies) are kept
// only as SHA-256 digests, and nothing here logs a query string, a body or a credential.
#include "sandbox/identity/authority.hpp"

#include <mailoauth/sasl.hpp>

#include "sandbox/core/jwt.hpp"
#include "sandbox/identity/aadsts.hpp"
#include "sandbox/identity/pages.hpp"
#include "sandbox/identity/scopes.hpp"
#include "sandbox/identity/text.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <variant>

namespace mailoauth::sandbox::detail {
namespace {

namespace json = boost::json;
using clock_type = std::chrono::system_clock;
using time_point = clock_type::time_point;
using std::chrono::seconds;
using fields = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view device_grant = "urn:ietf:params:oauth:grant-type:device_code";
constexpr std::string_view session_cookie = "mailoauth_sandbox_session";
constexpr std::size_t max_pending = 10000;  // flows, codes, device codes: bounded memory
constexpr int max_password_attempts = 10;   // then AADSTS50053, as Entra ID locks the account
constexpr auto flow_lifetime = std::chrono::minutes(15);
constexpr auto session_lifetime = std::chrono::hours(8);

std::int64_t unix_seconds(time_point t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}

/// Who signed in, to which app, with which permissions: what codes and refresh tokens carry.
struct grant {
  std::string client_id;
  std::string username;
  std::string user_oid;
  std::set<std::string> outlook;
  std::set<std::string> oidc;
};

struct code_record {
  grant g;
  std::string redirect_uri;
  std::string challenge;
  std::string challenge_method;
  std::string nonce;
  time_point expires;
  bool redeemed = false;
  std::string family;  // the refresh token family its redemption started
};

struct refresh_record {
  std::string family;
  grant g;
  time_point expires;
  bool used = false;
};

enum class device_status { pending, approved, declined, redeemed };

struct device_record {
  std::string client_id;
  std::string user_code;
  scope_set scopes;
  time_point expires;
  seconds interval{5};
  time_point last_poll;
  device_status status = device_status::pending;
  grant g;
};

/// An authorization request as checked at /authorize.
struct auth_request {
  std::string tenant;
  std::string client_id;
  std::string redirect_uri;
  bool want_code = false;
  bool want_token = false;
  bool want_id_token = false;
  std::string response_mode;  // query, fragment, form_post
  std::string state;
  std::string nonce;
  std::string challenge;
  std::string challenge_method;
  std::string prompt;
  std::string login_hint;
  scope_set scopes;
};

/// One browser flow between the pages: an authorization request or a device code being
/// approved.
struct flow_context {
  bool device = false;
  auth_request req;        // !device
  std::string device_key;  // device
  std::string username;    // once signed in
  bool signed_in = false;
  int failed_passwords = 0;
  time_point expires;
};

struct session {
  std::string username;
  time_point expires;
};

std::optional<std::string> header_cookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    auto part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name)
      return std::string(part.substr(eq + 1));
  }
  return std::nullopt;
}

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
  if (loopback) return q.scheme == r.scheme && q.host == r.host && q.rest == r.rest;
  return q.scheme == r.scheme && q.host == r.host && q.port == r.port && q.rest == r.rest;
}

/// The CSP source that lets a page's form end in a redirect to `uri`: its origin, any port for
/// loopback (RFC 8252), or its scheme for a private-use scheme.
std::string csp_source(const std::string& uri) {
  const auto colon = uri.find("://");
  if (colon == std::string::npos) {
    const auto c = uri.find(':');
    return c == std::string::npos ? std::string() : uri.substr(0, c + 1);
  }
  const auto end = uri.find_first_of("/?#", colon + 3);
  auto origin = uri.substr(0, end);
  if (origin.find_first_of(" ;,'\"") != std::string::npos) return {};
  const auto host_start = colon + 3;
  const auto port = origin.rfind(':');
  if (port != std::string::npos && port > host_start && origin.find(']', port) == std::string::npos)
    origin.resize(port);
  return origin + ":*";
}

/// RS256 over header.payload with the platform's key: the ID tokens (the shared core signs
/// only access tokens).
std::string sign_rs256(const signing_key& key, const json::object& payload) {
  json::object header{{"typ", "JWT"}, {"alg", "RS256"}, {"kid", key.kid}};
  const auto input = base64url(json::serialize(header)) + "." + base64url(json::serialize(payload));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(key.private_pem.data(), static_cast<int>(key.private_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &EVP_PKEY_free);
  if (!pkey) throw std::runtime_error("the token-signing key cannot be read");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1)
    throw std::runtime_error("RS256 signing failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    throw std::runtime_error("RS256 signing failed");
  sig.resize(len);
  return input + "." + base64url(sig);
}

http_out json_out(unsigned status, std::string body) {
  http_out o;
  o.status = status;
  o.content_type = "application/json; charset=utf-8";
  o.body = std::move(body);
  o.headers.emplace_back("Cache-Control", "no-store, no-cache");
  o.headers.emplace_back("Pragma", "no-cache");
  return o;
}

http_out page_out(unsigned status, page p) {
  http_out o;
  o.status = status;
  o.content_type = "text/html; charset=utf-8";
  o.body = std::move(p.html);
  o.headers.emplace_back("Cache-Control", "no-store, no-cache");
  o.headers.emplace_back("Content-Security-Policy", std::move(p.content_security_policy));
  o.headers.emplace_back("X-Frame-Options", "DENY");
  return o;
}

std::vector<permission_line> describe(const std::set<std::string>& outlook,
                                      const std::set<std::string>& oidc) {
  std::vector<permission_line> out;
  for (const auto& s : oidc) out.push_back({s, permission_description(s)});
  for (const auto& s : outlook) out.push_back({s, permission_description(s)});
  return out;
}

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

struct authority::state {
  identity_options o;
  std::string origin;
  mutable std::mutex mutex;

  std::map<std::string, code_record> codes;
  std::map<std::string, refresh_record> refresh_tokens;
  std::set<std::string> revoked_families;
  std::map<std::string, device_record> devices;
  std::map<std::string, std::string> user_codes;  // user code -> device key
  std::map<std::string, flow_context> flows;
  std::map<std::string, session> sessions;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> consents;
  time_point last_purge{};

  explicit state(identity_options opts) : o(std::move(opts)) {
    if (!o.clock) o.clock = [] { return clock_type::now(); };
  }

  [[nodiscard]] time_point now() const { return o.clock(); }
  [[nodiscard]] const directory& dir() const { return o.dir; }

  error_context context(const http_in& in) const {
    error_context c;
    c.now = unix_seconds(now());
    c.trace_id = new_guid();
    const auto& id = in.client_request_id;
    const bool guid_like =
        id.size() == 36 && id.find_first_not_of("0123456789abcdefABCDEF-") == std::string::npos;
    c.correlation_id = guid_like ? to_lower(id) : new_guid();
    return c;
  }

  // ---- tenants and clients ------------------------------------------------------------------

  enum class tenant_kind { ours, consumers, unknown };

  tenant_kind resolve_tenant(std::string_view t) const {
    if (iequals(t, "common") || iequals(t, "organizations") || iequals(t, dir().tenant.id) ||
        iequals(t, dir().tenant.domain))
      return tenant_kind::ours;
    if (iequals(t, "consumers")) return tenant_kind::consumers;
    return tenant_kind::unknown;
  }

  /// The application for a request's client_id after the tenant checks, or the error.
  std::variant<const app_registration*, aad_error> client_for(std::string_view tenant,
                                                              const std::string* client_id) const {
    const auto kind = resolve_tenant(tenant);
    if (kind == tenant_kind::unknown) return unknown_tenant(tenant);
    if (!client_id || client_id->empty()) return missing_parameter("client_id");
    const auto* app = dir().find_application(*client_id);
    if (!app) return unknown_client(*client_id, dir().tenant.domain);
    if (kind == tenant_kind::consumers) return consumers_refused(app->client_id, app->display_name);
    return app;
  }

  /// Permissions `user` has consented to for `app`, with the tenant-wide admin consent.
  std::set<std::string> consented(const app_registration& app, const std::string& user_oid) const {
    std::set<std::string> out;
    if (app.admin_consent)
      out.insert(app.delegated_permissions.begin(), app.delegated_permissions.end());
    if (const auto it = consents.find({app.client_id, user_oid}); it != consents.end())
      out.insert(it->second.begin(), it->second.end());
    return out;
  }

  static bool covers(const std::set<std::string>& have, const scope_set& want) {
    for (const auto& s : want.outlook)
      if (!have.contains(s)) return false;
    for (const auto& s : want.oidc)
      if (!have.contains(s)) return false;
    return true;
  }

  void record_consent(const std::string& client_id, const std::string& user_oid,
                      const scope_set& s) {
    auto& c = consents[{client_id, user_oid}];
    c.insert(s.outlook.begin(), s.outlook.end());
    c.insert(s.oidc.begin(), s.oidc.end());
  }

  // ---- tokens -------------------------------------------------------------------------------

  std::string issuer_v2() const { return origin + "/" + dir().tenant.id + "/v2.0"; }

  result<std::string> access_token(const access_claims& claims) const {
    return sign_access_token(o.keys.token_key, claims);
  }

  access_claims delegated_claims(const grant& g, time_point issued, seconds lifetime) const {
    access_claims c;
    c.issuer = "https://sts.windows.net/" + dir().tenant.id + "/";
    c.audience = std::string(outlook_resource);
    c.tenant_id = dir().tenant.id;
    c.client_id = g.client_id;
    c.object_id = g.user_oid;
    c.username = g.username;
    c.scopes.assign(g.outlook.begin(), g.outlook.end());
    c.issued_at = unix_seconds(issued);
    c.not_before = c.issued_at;
    c.expires_at = c.issued_at + lifetime.count();
    return c;
  }

  std::string id_token(const grant& g, const std::string& nonce) const {
    const auto* user = dir().find_user(g.username);
    const auto iat = unix_seconds(now());
    json::object p;
    p["aud"] = g.client_id;
    p["iss"] = issuer_v2();
    p["iat"] = iat;
    p["nbf"] = iat;
    p["exp"] = iat + o.access_token_lifetime.count();
    if (user) p["name"] = user->display_name;
    p["oid"] = g.user_oid;
    p["preferred_username"] = g.username;
    if (g.oidc.contains("email")) p["email"] = g.username;
    // A pairwise subject, per app, as Entra ID's v2.0 ID tokens have.
    p["sub"] = base64url(sha256(g.user_oid + "/" + g.client_id)).substr(0, 43);
    p["tid"] = dir().tenant.id;
    p["ver"] = "2.0";
    if (!nonce.empty()) p["nonce"] = nonce;
    return sign_rs256(o.keys.token_key, p);
  }

  std::string new_refresh_token(const grant& g, const std::string& family) {
    auto token = "0.A" + random_token(96);
    refresh_tokens[digest(token)] = {family, g, now() + o.refresh_token_lifetime, false};
    return token;
  }

  /// The token response of the delegated grants.
  std::variant<json::object, aad_error> delegated_response(const grant& g,
                                                           const std::string& family,
                                                           const std::string& nonce) {
    auto at = access_token(delegated_claims(g, now(), o.access_token_lifetime));
    if (!at) {
      spdlog::error("identity: cannot sign an access token: {}", at.error().message);
      return custom_error(500, "server_error", 50000, "There was an error issuing a token.");
    }
    json::object r;
    r["token_type"] = "Bearer";
    r["scope"] = response_scope(g.outlook, g.oidc);
    r["expires_in"] = o.access_token_lifetime.count();
    r["ext_expires_in"] = o.access_token_lifetime.count();
    r["access_token"] = std::move(*at);
    if (g.oidc.contains("offline_access")) r["refresh_token"] = new_refresh_token(g, family);
    if (g.oidc.contains("openid")) r["id_token"] = id_token(g, nonce);
    return r;
  }

  /// Revokes a sign-in: its refresh tokens stay known (until they expire), so that they are
  /// answered "revoked" (AADSTS50173) rather than "malformed".
  void revoke_family(const std::string& family) {
    if (!family.empty()) revoked_families.insert(family);
  }

  void purge() {
    const auto t = now();
    if (t - last_purge < seconds(5) && codes.size() + devices.size() + flows.size() < max_pending)
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

  bool full() const { return codes.size() + devices.size() + flows.size() >= max_pending; }
};

// ---- one request --------------------------------------------------------------------------

namespace {

using state = authority::state;

/// One request's handling, under the state's lock.
class exchange {
 public:
  exchange(state& s, const http_in& in) : s_(s), in_(in), ctx_(s.context(in)) {
    const auto q = in.target.find('?');
    path_ = in.target.substr(0, q);
    query_ = q == std::string::npos ? std::string() : in.target.substr(q + 1);
  }

  http_out run() {
    auto out = route();
    out.headers.emplace_back("x-ms-request-id", ctx_.trace_id);
    out.headers.emplace_back("client-request-id", ctx_.correlation_id);
    return out;
  }

 private:
  // ---- plumbing -----------------------------------------------------------------------------

  http_out json_error(const aad_error& e) const {
    spdlog::debug("identity: {} {} -> {} AADSTS{}", in_.method, path_, e.error, e.code);
    auto out = json_out(e.http_status, error_json(e, ctx_));
    if (e.http_status == 401) out.headers.emplace_back("WWW-Authenticate", "Basic");
    return out;
  }

  http_out error_page_out(const aad_error& e) const {
    spdlog::debug("identity: {} {} -> error page AADSTS{}", in_.method, path_, e.code);
    return page_out(400, error_page(e, ctx_));
  }

  std::optional<form_fields> form() const {
    if (in_.method == "GET") return parse_form(query_);
    const auto type = to_lower(in_.content_type);
    if (!type.empty() && !type.starts_with("application/x-www-form-urlencoded"))
      return form_fields{};  // nothing readable: reported as the first missing parameter
    return parse_form(in_.body);
  }

  static const std::string* get(const form_fields& f, std::string_view key) {
    const auto it = f.find(std::string(key));
    return it == f.end() ? nullptr : &it->second;
  }
  static std::string value(const form_fields& f, std::string_view key) {
    const auto* v = get(f, key);
    return v ? *v : std::string();
  }

  // ---- routing ------------------------------------------------------------------------------

  http_out route() {
    if (path_ == "/devicelogin") return devicelogin();
    if (path_ == "/login") return post_only_page([this] { return login(); });
    if (path_ == "/consent") return post_only_page([this] { return consent(); });
    // /{tenant}/...
    if (path_.size() > 1 && path_[0] == '/') {
      const auto slash = path_.find('/', 1);
      if (slash != std::string::npos) {
        tenant_ = path_.substr(1, slash - 1);
        const auto rest = path_.substr(slash);
        if (rest == "/oauth2/v2.0/authorize") return authorize();
        if (rest == "/oauth2/v2.0/token") return token();
        if (rest == "/oauth2/v2.0/devicecode") return devicecode();
        if (rest == "/v2.0/.well-known/openid-configuration") return discovery();
        if (rest == "/discovery/v2.0/keys" || rest == "/discovery/keys") return keys();
      }
    }
    spdlog::debug("identity: {} {} -> 404", in_.method, path_);
    auto out = json_out(404, R"({"error":"not_found"})");
    return out;
  }

  template <class F>
  http_out post_only_page(F f) {
    if (in_.method != "POST") return error_page_out(post_only(in_.method));
    return f();
  }

  // ---- discovery ----------------------------------------------------------------------------

  http_out discovery() {
    if (s_.resolve_tenant(tenant_) == state::tenant_kind::unknown)
      return json_error(unknown_tenant(tenant_));
    const bool specific = !iequals(tenant_, "common") && !iequals(tenant_, "organizations") &&
                          !iequals(tenant_, "consumers");
    const auto base = s_.origin + "/" + tenant_;
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
    d["issuer"] = s_.origin + "/" + (specific ? s_.dir().tenant.id : "{tenantid}") + "/v2.0";
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
    spdlog::debug("identity: GET {} -> 200", path_);
    auto out = json_out(200, json::serialize(d));
    out.headers[0].second = "max-age=86400, private";
    out.headers.pop_back();  // no Pragma: the document may be cached
    return out;
  }

  http_out keys() {
    if (s_.resolve_tenant(tenant_) == state::tenant_kind::unknown)
      return json_error(unknown_tenant(tenant_));
    auto doc = jwks_document(s_.o.keys.token_key);
    if (!doc) return json_out(500, R"({"error":"server_error"})");
    spdlog::debug("identity: GET {} -> 200", path_);
    return json_out(200, std::move(*doc));
  }

  // ---- authorize ----------------------------------------------------------------------------

  /// Sends the response to the client through the browser, per response_mode.
  http_out deliver(const auth_request& r, fields f) {
    if (!r.state.empty()) f.emplace_back("state", r.state);
    f.emplace_back("session_state", new_guid());
    if (r.response_mode == "form_post") {
      spdlog::debug("identity: {} {} -> form_post to the redirect URI", in_.method, path_);
      return page_out(200, form_post_page(r.redirect_uri, f));
    }
    std::string location = r.redirect_uri;
    if (r.response_mode == "fragment") {
      location += "#" + encode_form(f);
    } else {
      location += (location.find('?') == std::string::npos ? "?" : "&") + encode_form(f);
    }
    spdlog::debug("identity: {} {} -> 302 to the redirect URI ({})", in_.method, path_,
                  r.response_mode);
    http_out out;
    out.status = 302;
    out.content_type = "text/html; charset=utf-8";
    out.headers.emplace_back("Location", std::move(location));
    out.headers.emplace_back("Cache-Control", "no-store, no-cache");
    return out;
  }

  http_out redirect_error(const auth_request& r, const aad_error& e) {
    spdlog::debug("identity: {} {} -> redirect with {} AADSTS{}", in_.method, path_, e.error,
                  e.code);
    return deliver(r, {{"error", e.error},
                       {"error_description", error_description(e, ctx_)},
                       {"error_uri",
                        "https://login.microsoftonline.com/error?code=" + std::to_string(e.code)}});
  }

  http_out authorize() {
    if (in_.method != "GET" && in_.method != "POST") return error_page_out(post_only(in_.method));
    const auto f = form();
    if (!f) return error_page_out(malformed_request("The request's parameters are malformed."));
    auto client = s_.client_for(tenant_, get(*f, "client_id"));
    if (auto* e = std::get_if<aad_error>(&client)) return error_page_out(*e);
    const auto& app = *std::get<const app_registration*>(client);

    // Errors about the client and its redirect URI are shown, never redirected: the redirect
    // URI is not trusted yet (RFC 6749 section 4.1.2.1).
    auth_request r;
    r.tenant = tenant_;
    r.client_id = app.client_id;
    r.redirect_uri = value(*f, "redirect_uri");
    if (r.redirect_uri.empty()) {
      if (app.redirect_uris.empty()) return error_page_out(no_redirect_registered(app.client_id));
      r.redirect_uri = app.redirect_uris.front();
    } else if (std::none_of(
                   app.redirect_uris.begin(), app.redirect_uris.end(),
                   [&](const std::string& u) { return redirect_matches(u, r.redirect_uri); })) {
      return error_page_out(redirect_mismatch(r.redirect_uri, app.client_id));
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
        return redirect_error(r, unsupported_response_type(type));
      }
    }
    const bool implicit = r.want_token || r.want_id_token;
    const auto mode = value(*f, "response_mode");
    r.response_mode = mode.empty() ? (implicit ? "fragment" : "query") : mode;
    if (r.response_mode != "query" && r.response_mode != "fragment" &&
        r.response_mode != "form_post") {
      r.response_mode = implicit ? "fragment" : "query";
      return redirect_error(r, unsupported_response_mode(mode));
    }
    if (type.empty()) return redirect_error(r, missing_parameter("response_type"));
    // Tokens never travel in a query string (OAuth 2.0 Multiple Response Type Encoding).
    if (implicit && r.response_mode == "query") {
      r.response_mode = "fragment";
      return redirect_error(r, unsupported_response_mode("query"));
    }
    if (r.want_token && !app.implicit_access_tokens)
      return redirect_error(r, implicit_access_tokens_disabled());
    if (r.want_id_token && !app.implicit_id_tokens)
      return redirect_error(r, implicit_id_tokens_disabled());

    auto scopes = parse_delegated_scopes(value(*f, "scope"), app, s_.dir().tenant.domain);
    if (auto* e = std::get_if<aad_error>(&scopes)) return redirect_error(r, *e);
    r.scopes = std::get<scope_set>(std::move(scopes));
    if (r.want_id_token && !r.scopes.openid())
      return redirect_error(r, invalid_scope(value(*f, "scope"),
                                             "response_type 'id_token' requires the 'openid' "
                                             "scope."));
    if (r.want_id_token && r.nonce.empty()) return redirect_error(r, missing_parameter("nonce"));
    if (implicit) r.scopes.oidc.erase("offline_access");  // no refresh token in a URL

    if (r.want_code) {
      r.challenge = value(*f, "code_challenge");
      r.challenge_method = value(*f, "code_challenge_method");
      if (!r.challenge.empty() && r.challenge_method.empty()) r.challenge_method = "plain";
      if (!app.confidential && r.challenge.empty())
        return redirect_error(r, pkce_required("Send code_challenge with "
                                               "code_challenge_method=S256 (RFC 7636)."));
      if (!app.confidential && r.challenge_method != "S256")
        return redirect_error(r, pkce_required("code_challenge_method must be S256."));
      if (!r.challenge.empty() && r.challenge_method != "S256" && r.challenge_method != "plain")
        return redirect_error(r, pkce_required("code_challenge_method must be S256 or plain."));
      if (!r.challenge.empty() &&
          (r.challenge.size() < 43 || r.challenge.size() > 128 ||
           r.challenge.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789-._~") != std::string::npos))
        return redirect_error(r, custom_error(400, "invalid_request", 50147,
                                              "The size of the code challenge parameter is not "
                                              "valid."));
    }
    if (s_.full())
      return error_page_out(custom_error(503, "temporarily_unavailable", 50087,
                                         "The service is temporarily unavailable."));

    // A signed-in browser session skips the password, unless the app asks for a sign-in.
    flow_context flow;
    flow.req = std::move(r);
    flow.expires = s_.now() + flow_lifetime;
    const auto* user = session_user();
    const bool fresh_login = flow.req.prompt == "login" || flow.req.prompt == "select_account";
    if (user && !fresh_login &&
        (flow.req.login_hint.empty() || iequals(flow.req.login_hint, user->username))) {
      flow.signed_in = true;
      flow.username = user->username;
      return after_signin(flow, new_flow_id(), {});
    }
    if (flow.req.prompt == "none") return redirect_error(flow.req, login_required());
    const auto id = new_flow_id();
    auto page = signin_page(id, app.display_name, s_.dir().tenant.display_name, flow.req.login_hint,
                            {}, csp_source(flow.req.redirect_uri));
    s_.flows[digest(id)] = std::move(flow);
    spdlog::debug("identity: {} {} -> sign-in page", in_.method, path_);
    return page_out(200, std::move(page));
  }

  static std::string new_flow_id() { return random_token(32); }

  const directory_user* session_user() const {
    const auto cookie = header_cookie(in_.cookie, session_cookie);
    if (!cookie) return nullptr;
    const auto it = s_.sessions.find(digest(*cookie));
    if (it == s_.sessions.end() || it->second.expires <= s_.now()) return nullptr;
    return s_.dir().find_user(it->second.username);
  }

  /// The user has signed in to an authorization request: consent, or straight to the app.
  http_out after_signin(flow_context& flow, const std::string& id,
                        std::optional<std::string> set_cookie) {
    const auto* app = s_.dir().find_application(flow.req.client_id);
    const auto* user = s_.dir().find_user(flow.username);
    if (!app || !user) return error_page_out(flow_expired());
    const auto have = s_.consented(*app, user->object_id);
    http_out out;
    if (flow.req.prompt == "consent" || !state::covers(have, flow.req.scopes)) {
      if (flow.req.prompt == "none") {
        auto e = consent_missing(app->client_id, app->display_name);
        e.error = "consent_required";
        out = redirect_error(flow.req, e);
      } else {
        out = page_out(
            200, consent_page(id, app->display_name, s_.dir().tenant.display_name, user->username,
                              describe(flow.req.scopes.outlook, flow.req.scopes.oidc), false,
                              csp_source(flow.req.redirect_uri)));
        spdlog::debug("identity: {} {} -> consent page", in_.method, path_);
        s_.flows[digest(id)] = std::move(flow);
      }
    } else {
      out = complete(flow);
      s_.flows.erase(digest(id));
    }
    if (set_cookie) out.headers.emplace_back("Set-Cookie", *set_cookie);
    return out;
  }

  /// Issues what the authorization request asked for.
  http_out complete(const flow_context& flow) {
    const auto& r = flow.req;
    const auto* user = s_.dir().find_user(flow.username);
    grant g{r.client_id, user->username, user->object_id, r.scopes.outlook, r.scopes.oidc};
    fields f;
    if (r.want_code) {
      auto code = "1.A" + random_token(64);
      s_.codes[digest(code)] = {g,           r.redirect_uri,
                                r.challenge, r.challenge_method,
                                r.nonce,     s_.now() + s_.o.authorization_code_lifetime,
                                false,       {}};
      f.emplace_back("code", std::move(code));
    }
    if (r.want_token) {
      auto at = s_.access_token(s_.delegated_claims(g, s_.now(), s_.o.access_token_lifetime));
      if (!at)
        return error_page_out(
            custom_error(500, "server_error", 50000, "There was an error issuing a token."));
      f.emplace_back("access_token", std::move(*at));
      f.emplace_back("token_type", "Bearer");
      f.emplace_back("expires_in", std::to_string(s_.o.access_token_lifetime.count()));
      f.emplace_back("scope", response_scope(g.outlook, g.oidc));
    }
    if (r.want_id_token) f.emplace_back("id_token", s_.id_token(g, r.nonce));
    // RFC 9207: the authorization server names itself in the response.
    f.emplace_back("iss", s_.issuer_v2());
    spdlog::info("identity: signed in {} to {} ({})", user->username, r.client_id,
                 r.want_code ? "authorization code" : "implicit grant");
    return deliver(r, std::move(f));
  }

  static aad_error flow_expired() {
    return custom_error(400, "invalid_request", 50089,
                        "Flow token expired - Authentication Failed. Have the user try signing-in "
                        "again with username -password.");
  }

  flow_context* find_flow(const form_fields& f) {
    const auto* id = get(f, "ctx");
    if (!id) return nullptr;
    const auto it = s_.flows.find(digest(*id));
    if (it == s_.flows.end() || it->second.expires <= s_.now()) return nullptr;
    return &it->second;
  }

  std::string app_name(const flow_context& flow) const {
    const std::string client =
        flow.device ? s_.devices.at(flow.device_key).client_id : flow.req.client_id;
    const auto* app = s_.dir().find_application(client);
    return app ? app->display_name : client;
  }

  // ---- pages: sign-in, consent, device login ------------------------------------------------

  http_out login() {
    const auto f = form();
    if (!f) return error_page_out(malformed_request("The form is malformed."));
    auto* flow = find_flow(*f);
    if (!flow) return error_page_out(flow_expired());
    const std::string id = value(*f, "ctx");
    if (flow->device && !s_.devices.contains(flow->device_key))
      return error_page_out(flow_expired());
    const auto login_name = value(*f, "login");
    const auto* user = s_.dir().find_user(login_name);
    const auto retry = [&](const std::string& why) {
      spdlog::debug("identity: POST /login -> sign-in page again ({})", why);
      return page_out(
          200, signin_page(id, app_name(*flow), s_.dir().tenant.display_name, login_name, why,
                           flow->device ? std::string() : csp_source(flow->req.redirect_uri)));
    };
    if (++flow->failed_passwords > max_password_attempts) {
      s_.flows.erase(digest(id));
      return error_page_out(custom_error(400, "invalid_grant", 50053,
                                         "Your account is locked because you've tried to sign in "
                                         "too many times with an incorrect user ID or password."));
    }
    if (!user) return retry("We couldn't find an account with that username. (AADSTS50034)");
    if (!same_secret(value(*f, "passwd"), user->password.reveal()))
      return retry("Your account or password is incorrect. (AADSTS50126)");
    flow->failed_passwords = 0;
    flow->signed_in = true;
    flow->username = user->username;

    // The browser session, so that the next sign-in in this browser skips the password.
    const auto sid = random_token(32);
    s_.sessions[digest(sid)] = {user->username, s_.now() + session_lifetime};
    const std::string cookie =
        std::string(session_cookie) + "=" + sid + "; Path=/; Secure; HttpOnly; SameSite=Lax";
    spdlog::info("identity: {} signed in", user->username);
    if (!flow->device) {
      auto moved = std::move(*flow);
      return after_signin(moved, id, cookie);
    }
    auto out = device_consent(*flow, id);
    out.headers.emplace_back("Set-Cookie", cookie);
    return out;
  }

  http_out device_consent(const flow_context& flow, const std::string& id) {
    const auto& d = s_.devices.at(flow.device_key);
    const auto* user = s_.dir().find_user(flow.username);
    spdlog::debug("identity: {} {} -> device consent page", in_.method, path_);
    return page_out(200, consent_page(id, app_name(flow), s_.dir().tenant.display_name,
                                      user ? user->username : flow.username,
                                      describe(d.scopes.outlook, d.scopes.oidc), true));
  }

  http_out consent() {
    const auto f = form();
    if (!f) return error_page_out(malformed_request("The form is malformed."));
    auto* flow = find_flow(*f);
    if (!flow || !flow->signed_in) return error_page_out(flow_expired());
    const auto key = digest(value(*f, "ctx"));
    const bool accept = value(*f, "decision") == "accept";
    const auto* user = s_.dir().find_user(flow->username);
    if (!user) return error_page_out(flow_expired());

    if (flow->device) {
      const auto it = s_.devices.find(flow->device_key);
      const auto name = app_name(*flow);
      if (it == s_.devices.end() || it->second.status != device_status::pending ||
          it->second.expires <= s_.now()) {
        s_.flows.erase(key);
        return error_page_out(custom_error(400, "expired_token", 70019,
                                           "Verification code expired. Have the user retry the "
                                           "sign-in."));
      }
      auto& d = it->second;
      if (accept) {
        s_.record_consent(d.client_id, user->object_id, d.scopes);
        d.status = device_status::approved;
        d.g = {d.client_id, user->username, user->object_id, d.scopes.outlook, d.scopes.oidc};
        spdlog::info("identity: {} approved a device sign-in for {}", user->username, d.client_id);
      } else {
        d.status = device_status::declined;
        spdlog::info("identity: {} declined a device sign-in for {}", user->username, d.client_id);
      }
      s_.flows.erase(key);
      return page_out(200, accept ? device_done_page(name) : device_declined_page(name));
    }

    auto flow_copy = std::move(*flow);
    s_.flows.erase(key);
    if (!accept) return redirect_error(flow_copy.req, consent_declined());
    s_.record_consent(flow_copy.req.client_id, user->object_id, flow_copy.req.scopes);
    return complete(flow_copy);
  }

  static std::string normalize_user_code(std::string_view text) {
    std::string out;
    for (const char c : text) {
      if (c == ' ' || c == '-' || c == '\t') continue;
      out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    return out;
  }

  http_out devicelogin() {
    if (in_.method == "GET") {
      spdlog::debug("identity: GET /devicelogin -> code page");
      return page_out(200, devicelogin_page({}));
    }
    if (in_.method != "POST") return error_page_out(post_only(in_.method));
    const auto f = form();
    if (!f) return error_page_out(malformed_request("The form is malformed."));
    const auto code = normalize_user_code(value(*f, "otc"));
    const auto it = s_.user_codes.find(code);
    const auto again = [&](const std::string& why) {
      spdlog::debug("identity: POST /devicelogin -> code page again");
      return page_out(200, devicelogin_page(why));
    };
    if (code.empty() || it == s_.user_codes.end())
      return again("That code didn't work. Check the code and try again. (AADSTS70018)");
    auto& d = s_.devices.at(it->second);
    if (d.expires <= s_.now())
      return again("That code has expired. Go back to the app and get a new one. (AADSTS70019)");
    if (d.status != device_status::pending)
      return again("That code has already been used. Go back to the app and get a new one.");

    flow_context flow;
    flow.device = true;
    flow.device_key = it->second;
    flow.expires = std::min(d.expires, s_.now() + flow_lifetime);
    const auto id = new_flow_id();
    if (const auto* user = session_user()) {
      flow.signed_in = true;
      flow.username = user->username;
      auto out = device_consent(flow, id);
      s_.flows[digest(id)] = std::move(flow);
      return out;
    }
    auto page = signin_page(id, app_name(flow), s_.dir().tenant.display_name, {}, {});
    s_.flows[digest(id)] = std::move(flow);
    spdlog::debug("identity: POST /devicelogin -> sign-in page");
    return page_out(200, std::move(page));
  }

  // ---- devicecode ---------------------------------------------------------------------------

  /// Client authentication of the token and device endpoints: client_secret_post or
  /// client_secret_basic, by what the registration says the client is.
  std::variant<const app_registration*, aad_error> authenticate_client(const form_fields& f) {
    std::optional<std::string> basic_id;
    std::optional<std::string> basic_secret;
    if (iequals(in_.authorization.substr(0, std::min<std::size_t>(6, in_.authorization.size())),
                "basic ")) {
      const auto decoded = sasl::base64_decode(in_.authorization.substr(6));
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
    const auto* form_id = get(f, "client_id");
    const auto* form_secret = get(f, "client_secret");
    if (basic_secret && form_secret)
      return malformed_request("The client authenticated twice (header and body).");
    const std::string* id = form_id ? form_id : (basic_id ? &*basic_id : nullptr);
    if (basic_id && form_id && !iequals(*basic_id, *form_id))
      return malformed_request("client_id differs between the header and the body.");
    auto client = s_.client_for(tenant_, id);
    if (std::holds_alternative<aad_error>(client)) return client;
    const auto& app = *std::get<const app_registration*>(client);
    const std::string* given =
        form_secret ? form_secret : (basic_secret ? &*basic_secret : nullptr);
    if (get(f, "client_assertion") && !app.confidential) return public_client_sent_secret();
    if (!app.confidential) {
      if (given) return public_client_sent_secret();
      return &app;
    }
    if (!given || given->empty()) return secret_required();
    if (!same_secret(*given, app.client_secret.reveal())) return invalid_secret(app.client_id);
    return &app;
  }

  http_out devicecode() {
    if (in_.method != "POST") return json_error(post_only(in_.method));
    const auto f = form();
    if (!f) return json_error(malformed_request("The request body is malformed."));
    auto client = authenticate_client(*f);
    if (auto* e = std::get_if<aad_error>(&client)) return json_error(*e);
    const auto& app = *std::get<const app_registration*>(client);
    auto scopes = parse_delegated_scopes(value(*f, "scope"), app, s_.dir().tenant.domain);
    if (auto* e = std::get_if<aad_error>(&scopes)) return json_error(*e);
    if (s_.full())
      return json_error(custom_error(503, "temporarily_unavailable", 50087,
                                     "The service is temporarily unavailable."));

    const auto device_code = "DAQABAAEAAAD" + random_token(96);
    std::string user_code;
    do user_code = random_user_code(9);
    while (s_.user_codes.contains(user_code));
    device_record d;
    d.client_id = app.client_id;
    d.user_code = user_code;
    d.scopes = std::get<scope_set>(std::move(scopes));
    d.expires = s_.now() + s_.o.device_code_lifetime;
    d.interval = s_.o.device_poll_interval;
    d.last_poll = s_.now();
    const auto key = digest(device_code);
    s_.devices[key] = std::move(d);
    s_.user_codes[user_code] = key;

    const auto uri = s_.origin + "/devicelogin";
    json::object r;
    r["user_code"] = user_code;
    r["device_code"] = device_code;
    r["verification_uri"] = uri;
    r["expires_in"] = s_.o.device_code_lifetime.count();
    r["interval"] = s_.o.device_poll_interval.count();
    r["message"] = "To sign in, use a web browser to open the page " + uri +
                   " and enter the code " + user_code + " to authenticate.";
    spdlog::debug("identity: POST {} -> 200 device code for {}", path_, app.client_id);
    return json_out(200, json::serialize(r));
  }

  // ---- token --------------------------------------------------------------------------------

  http_out tokens(std::variant<json::object, aad_error> r, std::string_view grant_type) {
    if (auto* e = std::get_if<aad_error>(&r)) return json_error(*e);
    spdlog::debug("identity: POST {} -> 200 ({})", path_, grant_type);
    return json_out(200, json::serialize(std::get<json::object>(r)));
  }

  http_out token() {
    if (in_.method != "POST") return json_error(post_only(in_.method));
    const auto f = form();
    if (!f) return json_error(malformed_request("The request body is malformed."));
    auto client = authenticate_client(*f);
    if (auto* e = std::get_if<aad_error>(&client)) return json_error(*e);
    const auto& app = *std::get<const app_registration*>(client);
    const auto grant_type = value(*f, "grant_type");
    if (grant_type.empty()) return json_error(missing_parameter("grant_type"));
    if (grant_type == "authorization_code") return tokens(redeem_code(app, *f), grant_type);
    if (grant_type == "refresh_token") return tokens(refresh(app, *f), grant_type);
    if (grant_type == device_grant) return tokens(poll_device(app, *f), "device_code");
    if (grant_type == "client_credentials") return tokens(app_only(app, *f), grant_type);
    return json_error(unsupported_grant_type(grant_type));
  }

  using token_result = std::variant<json::object, aad_error>;

  /// A scope parameter on a grant that already has permissions: what it may narrow them to.
  std::variant<grant, aad_error> rescope(const app_registration& app, const grant& g,
                                         const std::string* scope,
                                         const std::set<std::string>& allowed) {
    if (!scope || scope->empty()) return g;
    auto parsed = parse_delegated_scopes(*scope, app, s_.dir().tenant.domain);
    if (auto* e = std::get_if<aad_error>(&parsed)) return *e;
    const auto& want = std::get<scope_set>(parsed);
    // Asking for more than the user consented to needs a new interactive sign-in.
    for (const auto& p : want.outlook)
      if (!allowed.contains(p)) return consent_missing(app.client_id, app.display_name);
    grant out = g;
    out.outlook = want.outlook;
    for (const auto& p : want.oidc)
      if (allowed.contains(p) || g.oidc.contains(p)) out.oidc.insert(p);
    return out;
  }

  token_result redeem_code(const app_registration& app, const form_fields& f) {
    const auto* code = get(f, "code");
    if (!code || code->empty()) return missing_parameter("code");
    const auto* redirect = get(f, "redirect_uri");
    if (!redirect || redirect->empty()) return missing_parameter("redirect_uri");
    const auto it = s_.codes.find(digest(*code));
    if (it == s_.codes.end()) return bad_authorization_code({});
    auto& c = it->second;
    if (!iequals(c.g.client_id, app.client_id)) return grant_of_another_client();
    if (c.redeemed) {
      // RFC 6749 section 4.1.2: a code used twice revokes what it gave.
      s_.revoke_family(c.family);
      return code_redeemed();
    }
    if (c.expires <= s_.now()) return code_expired();
    if (*redirect != c.redirect_uri)
      return bad_authorization_code("The redirect_uri differs from the authorization request's.");
    if (!c.challenge.empty()) {
      const auto* verifier = get(f, "code_verifier");
      if (!verifier || verifier->empty()) return missing_parameter("code_verifier");
      const auto expected = c.challenge_method == "S256" ? base64url(sha256(*verifier)) : *verifier;
      if (!same_secret(expected, c.challenge)) return pkce_mismatch();
    }
    auto g = rescope(app, c.g, get(f, "scope"), c.g.outlook);
    if (auto* e = std::get_if<aad_error>(&g)) return *e;
    c.redeemed = true;
    c.family = new_guid();
    spdlog::info("identity: redeemed an authorization code of {} for {}", c.g.username,
                 app.client_id);
    return s_.delegated_response(std::get<grant>(g), c.family, c.nonce);
  }

  token_result refresh(const app_registration& app, const form_fields& f) {
    const auto* token = get(f, "refresh_token");
    if (!token || token->empty()) return missing_parameter("refresh_token");
    const auto it = s_.refresh_tokens.find(digest(*token));
    if (it == s_.refresh_tokens.end()) return invalid_refresh_token();
    auto& r = it->second;
    if (s_.revoked_families.contains(r.family)) return refresh_token_revoked();
    if (!iequals(r.g.client_id, app.client_id)) return grant_of_another_client();
    if (r.used) {
      // Rotation (RFC 9700 section 4.14.2): an old refresh token coming back means two holders;
      // every token of the sign-in is revoked.
      spdlog::warn("identity: a used refresh token of {} came back; its sign-in is revoked",
                   r.g.username);
      const auto family = r.family;
      s_.revoke_family(family);
      return refresh_token_reused();
    }
    if (r.expires <= s_.now()) return refresh_token_expired();
    const auto* app_reg = s_.dir().find_application(r.g.client_id);
    const auto allowed = app_reg ? s_.consented(*app_reg, r.g.user_oid) : std::set<std::string>{};
    auto g = rescope(app, r.g, get(f, "scope"), allowed);
    if (auto* e = std::get_if<aad_error>(&g)) return *e;
    auto next = std::get<grant>(std::move(g));
    next.oidc.insert("offline_access");  // the refresh token stays a refresh token
    r.used = true;
    const auto family = r.family;
    return s_.delegated_response(next, family, {});
  }

  token_result poll_device(const app_registration& app, const form_fields& f) {
    const auto* code = get(f, "device_code");
    if (!code || code->empty()) return missing_parameter("device_code");
    const auto it = s_.devices.find(digest(*code));
    if (it == s_.devices.end()) return bad_verification_code();
    auto& d = it->second;
    if (!iequals(d.client_id, app.client_id)) return bad_verification_code();
    const auto now = s_.now();
    if (d.status == device_status::redeemed) return code_redeemed();
    if (d.expires <= now) return device_code_expired();
    // RFC 8628 section 3.5: polling faster than the interval earns slow_down and 5 more
    // seconds for this and every later poll. Half a second of slack for the network.
    const bool early = now < d.last_poll + d.interval - std::chrono::milliseconds(500);
    d.last_poll = now;
    if (early) {
      d.interval += seconds(5);
      return slow_down(d.interval.count());
    }
    switch (d.status) {
      case device_status::pending:
        return authorization_pending();
      case device_status::declined:
        return device_code_declined();
      case device_status::redeemed:
        return code_redeemed();
      case device_status::approved:
        break;
    }
    d.status = device_status::redeemed;
    spdlog::info("identity: device sign-in of {} redeemed by {}", d.g.username, app.client_id);
    return s_.delegated_response(d.g, new_guid(), {});
  }

  token_result app_only(const app_registration& app, const form_fields& f) {
    if (auto e = check_app_only_scope(value(f, "scope"), s_.dir().tenant.domain)) return *e;
    access_claims c;
    c.issuer = "https://sts.windows.net/" + s_.dir().tenant.id + "/";
    c.audience = std::string(outlook_resource);
    c.tenant_id = s_.dir().tenant.id;
    c.client_id = app.client_id;
    c.object_id = app.object_id;
    // Application permissions take effect only once an administrator has consented.
    if (app.admin_consent) c.roles = app.application_permissions;
    c.issued_at = unix_seconds(s_.now());
    c.not_before = c.issued_at;
    c.expires_at = c.issued_at + s_.o.access_token_lifetime.count();
    auto at = s_.access_token(c);
    if (!at) return custom_error(500, "server_error", 50000, "There was an error issuing a token.");
    json::object r;
    r["token_type"] = "Bearer";
    r["expires_in"] = s_.o.access_token_lifetime.count();
    r["ext_expires_in"] = s_.o.access_token_lifetime.count();
    r["access_token"] = std::move(*at);
    spdlog::info("identity: app-only token for {} ({} roles)", app.client_id, c.roles.size());
    return r;
  }

  state& s_;
  const http_in& in_;
  error_context ctx_;
  std::string path_;
  std::string query_;
  std::string tenant_;
};

}  // namespace

// ---- authority ----------------------------------------------------------------------------

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
  e.access_token_issuer = "https://sts.windows.net/" + s.dir().tenant.id + "/";
  return e;
}

http_out authority::handle(const http_in& request) {
  std::lock_guard lock(state_->mutex);
  state_->purge();
  try {
    return exchange(*state_, request).run();
  } catch (const std::exception& e) {
    // A bug or an exhausted resource; the message names no credential.
    spdlog::error("identity: internal error: {}", e.what());
    return json_out(500, R"({"error":"server_error"})");
  }
}

result<void> authority::approve_device_code(std::string_view user_code, std::string_view username) {
  std::lock_guard lock(state_->mutex);
  auto& s = *state_;
  std::string code;
  for (const char c : user_code)
    if (c != ' ' && c != '-') code += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  const auto it = s.user_codes.find(code);
  if (it == s.user_codes.end())
    return make_failure(errc::invalid_argument, "no device sign-in has the code " + code);
  auto& d = s.devices.at(it->second);
  if (d.expires <= s.now())
    return make_failure(errc::authorization_expired, "the device code " + code + " has expired");
  if (d.status != device_status::pending)
    return make_failure(errc::invalid_argument, "the device code " + code + " was already used");
  const auto* user = s.dir().find_user(username);
  if (!user)
    return make_failure(errc::invalid_argument, "the sandbox has no user " + std::string(username));
  s.record_consent(d.client_id, user->object_id, d.scopes);
  d.status = device_status::approved;
  d.g = {d.client_id, user->username, user->object_id, d.scopes.outlook, d.scopes.oidc};
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
    c.issuer = "https://sts.windows.net/" + s.dir().tenant.id + "/";
    c.audience = std::string(outlook_resource);
    c.tenant_id = s.dir().tenant.id;
    c.client_id = app->client_id;
    c.object_id = app->object_id;
    c.roles = request.roles.empty() ? app->application_permissions : request.roles;
    c.issued_at = unix_seconds(issued);
    c.not_before = c.issued_at;
    c.expires_at = c.issued_at + lifetime.count();
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
    c = s.delegated_claims(g, issued, lifetime);
  }
  auto token = s.access_token(c);
  if (!token) return token.error();
  return secret(std::move(*token));
}

}  // namespace mailoauth::sandbox::detail
