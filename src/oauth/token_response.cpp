#include "oauth/token_response.hpp"

#include <mailoauth/oauth.hpp>

#include "store/wiping_resource.hpp"

#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>

namespace mailoauth::oauth::detail {
namespace {

std::string text_of(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  return {};
}

// expires_in and its kin arrive as numbers, or as strings from older endpoints.
std::optional<std::int64_t> seconds_of(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  if (v->is_string()) {
    std::int64_t n = 0;
    const auto s = v->get_string();
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc{} && p == s.data() + s.size()) return n;
  }
  return std::nullopt;
}

// What the user should change, by AADSTS code (the codes users hit most; protocol-facts.md).
std::string aadsts_hint(const std::string& code, const config::account& a) {
  const auto login = "run `mailoauth login " + a.name + "`";
  if (code == "50011")
    return "the redirect URI is not registered for this app: in the app registration's "
           "Authentication page add the platform \"Mobile and desktop applications\" with "
           "redirect URI http://localhost";
  if (code == "65001")
    return "nobody has consented to the app's permissions (IMAP.AccessAsUser.All, "
           "POP.AccessAsUser.All, SMTP.Send): sign in interactively to consent, or ask an "
           "administrator to grant consent under API permissions";
  if (code == "700016")
    return "client_id " + a.client_id + " is not an application in tenant " + a.tenant +
           ": check client_id and tenant (a single-tenant app needs its own tenant, not common)";
  if (code == "50076" || code == "50079")
    return "multi-factor authentication is required: " + login +
           " with an interactive flow (browser or device)";
  if (code == "53003")
    return "blocked by a Conditional Access policy of your organisation: ask your administrator "
           "which conditions (device, location, app) the sign-in must meet";
  if (code == "70011")
    return "a requested scope is invalid: check the account's scopes (Microsoft needs the full "
           "https://outlook.office365.com/... scope strings)";
  if (code == "700025")
    return "the app is a public client and must not send a secret: remove client_secret from "
           "account " +
           a.name;
  if (code == "7000218")
    return "the app requires a client secret: add client_secret to account " + a.name +
           ", or enable \"Allow public client flows\" in the app registration's Authentication "
           "page";
  if (code == "7000012")
    return "the sign-in belongs to another tenant than the one configured: check tenant, then " +
           login;
  if (code == "900144")
    return "the request lacks a required parameter (this is a bug if it persists: report it)";
  if (code == "700082") return "the refresh token expired after a long time unused: " + login;
  if (code == "70043")
    return "the refresh token expired because of your organisation's sign-in frequency policy: " +
           login;
  if (code == "50126") return "the user name or password is wrong: " + login;
  if (code == "90002")
    return "tenant " + a.tenant + " does not exist: set tenant to your tenant's ID or domain";
  if (code == "7000215") return "the client secret is wrong (use the secret's value, not its ID)";
  if (code == "7000222")
    return "the client secret has expired: create a new one in the app registration";
  if (code == "50058" || code == "50173" || code == "54005")
    return "the sign-in is no longer valid: " + login;
  return {};
}

std::string error_hint(const oauth_error& e, const config::account& a) {
  if (auto h = aadsts_hint(e.aadsts, a); !h.empty()) return h;
  const auto login = "run `mailoauth login " + a.name + "`";
  if (e.error == "invalid_grant")
    return "the sign-in is no longer valid (expired, revoked or already used): " + login;
  if (e.error == "invalid_client")
    return "the identity platform does not accept this client: check client_id and "
           "client_secret of account " +
           a.name;
  if (e.error == "unauthorized_client")
    return "this client may not use this flow: allow it in the app registration, or choose "
           "another flow";
  if (e.error == "invalid_scope") return "a requested scope is not allowed for this client";
  if (e.error == "unsupported_grant_type")
    return "the identity platform does not support this flow; choose another";
  if (e.error == "access_denied" || e.error == "authorization_declined")
    return "the sign-in was declined; " + login + " to try again";
  if (e.error == "expired_token" || e.error == "code_expired")
    return "the code expired before the sign-in finished; " + login +
           " and finish within the time "
           "shown";
  if (e.error == "bad_verification_code") return "the code was not recognised; " + login;
  if (e.error == "invalid_request") return "the identity platform rejected the request";
  return {};
}

errc error_code_for(const oauth_error& e) {
  if (e.error == "invalid_grant" || e.aadsts == "700082" || e.aadsts == "70043" ||
      e.aadsts == "7000012" || e.aadsts == "50076" || e.aadsts == "50079")
    return errc::login_required;
  if (e.error == "access_denied" || e.error == "authorization_declined")
    return errc::authorization_declined;
  if (e.error == "expired_token" || e.error == "code_expired") return errc::authorization_expired;
  return errc::oauth_rejected;
}

}  // namespace

boost::json::value parse_secret_json(std::string_view body, boost::system::error_code& ec) {
  // No stack buffer for the parser: its temporary storage (strings split by escapes, the value
  // stack) comes from the wiping resource too.
  boost::json::parser parser(store::detail::wiping_storage());
  parser.reset(store::detail::wiping_storage());
  parser.write(body.data(), body.size(), ec);
  if (ec) return boost::json::value(store::detail::wiping_storage());
  return parser.release();
}

std::optional<oauth_error> parse_error(std::string_view body) {
  boost::system::error_code ec;
  const auto v = parse_secret_json(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  oauth_error e;
  e.error = text_of(o, "error");
  if (e.error.empty()) return std::nullopt;
  e.description = text_of(o, "error_description");
  // Microsoft ends the description's lines with CRLF ("...\r\nTrace ID: ..."); --verbose prints
  // it line by line, where a CR would show as an escape (issue 3's tests): plain LF instead.
  e.description.erase(std::remove(e.description.begin(), e.description.end(), '\r'),
                      e.description.end());
  e.correlation_id = text_of(o, "correlation_id");
  e.trace_id = text_of(o, "trace_id");
  e.timestamp = text_of(o, "timestamp");
  if (const auto* codes = o.if_contains("error_codes"); codes && codes->is_array()) {
    const auto& arr = codes->get_array();
    if (!arr.empty() && (arr[0].is_int64() || arr[0].is_uint64()))
      e.aadsts = arr[0].is_int64() ? std::to_string(arr[0].get_int64())
                                   : std::to_string(arr[0].get_uint64());
  }
  if (e.aadsts.empty()) {
    // "AADSTS50011: The redirect URI ..." in the description.
    const auto pos = e.description.find("AADSTS");
    if (pos != std::string::npos) {
      auto end = pos + 6;
      while (end < e.description.size() &&
             std::isdigit(static_cast<unsigned char>(e.description[end])))
        ++end;
      e.aadsts = e.description.substr(pos + 6, end - pos - 6);
    }
  }
  return e;
}

failure to_failure(const oauth_error& e, const config::account& a, std::string_view doing) {
  std::string message(doing);
  message += " failed: ";
  message += e.error;
  if (!e.aadsts.empty()) message += " (AADSTS" + e.aadsts + ")";
  if (auto hint = error_hint(e, a); !hint.empty()) message += ": " + hint;
  std::string detail;
  // The description is the platform's own words; it never contains our secrets, but it is long
  // and multi-line, so only --verbose shows it.
  if (!e.description.empty()) detail += "error_description: " + e.description;
  if (!e.correlation_id.empty()) detail += "\ncorrelation_id: " + e.correlation_id;
  if (!e.trace_id.empty()) detail += "\ntrace_id: " + e.trace_id;
  if (!e.timestamp.empty()) detail += "\ntimestamp: " + e.timestamp;
  return make_failure(error_code_for(e), std::move(message), std::move(detail));
}

failure response_failure(const net::http_response& r, const config::account& a,
                         std::string_view doing) {
  const auto status = std::to_string(r.status);
  if (auto e = parse_error(r.body)) {
    if (r.status != 429 && r.status < 500) return to_failure(*e, a, doing);
    // Throttling and outages often come with an OAuth body (Microsoft: 503/429 with
    // temporarily_unavailable). They are still transient: errc::http_failed (exit 5, and
    // fresh_tokens keeps serving a cached token that has not expired), not a refusal.
    auto f = to_failure(*e, a, doing);
    auto transient =
        make_failure(errc::http_failed,
                     std::string(doing) + " failed: the identity platform answered HTTP " + status +
                         " (" + e->error + "); try again later",
                     std::move(f.detail));
    transient.retry_after = r.retry_after.value_or(0);
    return transient;
  }
  if (r.status == 429 || r.status >= 500) {
    auto transient = make_failure(errc::http_failed, std::string(doing) +
                                                         " failed: the identity platform "
                                                         "answered HTTP " +
                                                         status + "; try again later");
    transient.retry_after = r.retry_after.value_or(0);
    return transient;
  }
  return make_failure(errc::malformed_response,
                      std::string(doing) + " failed: HTTP " + status +
                          " without an OAuth error body; check the endpoints of account " + a.name);
}

std::int64_t refresh_time(std::int64_t obtained, std::int64_t expires_at,
                          std::optional<std::int64_t> refresh_in, std::chrono::seconds margin) {
  if (refresh_in && *refresh_in > 0) return obtained + *refresh_in;
  if (expires_at == 0) return 0;
  const auto lifetime = expires_at - obtained;
  const auto early = std::min<std::int64_t>(margin.count(), lifetime / 2);
  return expires_at - early;
}

result<store::token_set> parse_tokens(const net::http_response& r, const config::account& a,
                                      const std::string& token_endpoint,
                                      const store::token_set* previous) {
  boost::system::error_code ec;
  const auto v = parse_secret_json(r.body, ec);
  if (ec || !v.is_object())
    return make_failure(errc::malformed_response, "the token endpoint answered HTTP " +
                                                      std::to_string(r.status) +
                                                      " with something that is not JSON");
  const auto& o = v.get_object();
  store::token_set t;
  t.access_token = secret(text_of(o, "access_token"));
  if (t.access_token.empty())
    return make_failure(errc::malformed_response, "the token response has no access_token");
  if (auto type = text_of(o, "token_type"); !type.empty()) t.token_type = type;
  // RFC 6749 section 5.1: the type is case-insensitive; only Bearer works for SASL.
  std::string lower = t.token_type;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower != "bearer")
    return make_failure(errc::malformed_response, "the token endpoint issued a \"" + t.token_type +
                                                      "\" token; mail servers need a Bearer token");
  t.refresh_token = secret(text_of(o, "refresh_token"));
  if (t.refresh_token.empty() && previous) t.refresh_token = previous->refresh_token;
  t.id_token = secret(text_of(o, "id_token"));
  if (t.id_token.empty() && previous) t.id_token = previous->id_token;
  t.scope = text_of(o, "scope");
  t.obtained_at = now();
  const auto expires_in = seconds_of(o, "expires_in");
  t.expires_at = expires_in ? t.obtained_at + *expires_in : 0;
  t.refresh_at =
      refresh_time(t.obtained_at, t.expires_at, seconds_of(o, "refresh_in"), a.refresh_margin);
  t.token_endpoint = token_endpoint;
  t.client_id = a.client_id;
  t.username = a.username;
  return t;
}

}  // namespace mailoauth::oauth::detail
