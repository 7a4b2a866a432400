#include "sandbox/identity/aadsts.hpp"

#include "sandbox/identity/text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>

namespace mailoauth::sandbox::detail {
namespace {

// A message quotes request text (a client_id, a scope, a method), which may be any bytes; the
// message goes into JSON, which must be UTF-8 (RFC 8259 section 8.1), and into pages. Each
// byte that does not start a well-formed sequence (RFC 3629 section 4) becomes U+FFFD.
std::string valid_utf8(std::string message) {
  const std::string_view s = message;
  std::size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  if (i == s.size()) return message;
  std::string out(s.substr(0, i));
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t more = 0;
    std::uint32_t cp = 0;
    std::uint32_t least = 0;
    if (b < 0x80) {
      out += s[i++];
      continue;
    }
    if ((b & 0xE0) == 0xC0) {
      more = 1;
      cp = b & 0x1Fu;
      least = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      more = 2;
      cp = b & 0x0Fu;
      least = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      more = 3;
      cp = b & 0x07u;
      least = 0x10000;
    }
    bool ok = more > 0 && i + more < s.size();
    for (std::size_t k = 1; ok && k <= more; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
    if (ok && cp >= least && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)) {
      out += s.substr(i, more + 1);
      i += more + 1;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

aad_error make(unsigned status, std::string error, int code, std::string message,
               std::string suberror = {}) {
  return {status, std::move(error), code, valid_utf8(std::move(message)), std::move(suberror)};
}

std::string q(std::string_view s) {
  return "'" + std::string(s) + "'";
}

}  // namespace

std::string error_description(const aad_error& e, const error_context& c) {
  return "AADSTS" + std::to_string(e.code) + ": " + e.message + "\r\nTrace ID: " + c.trace_id +
         "\r\nCorrelation ID: " + c.correlation_id + "\r\nTimestamp: " + timestamp(c.now);
}

std::string error_json(const aad_error& e, const error_context& c) {
  boost::json::object o;
  o["error"] = e.error;
  o["error_description"] = error_description(e, c);
  o["error_codes"] = boost::json::array{e.code};
  o["timestamp"] = timestamp(c.now);
  o["trace_id"] = c.trace_id;
  o["correlation_id"] = c.correlation_id;
  o["error_uri"] = "https://login.microsoftonline.com/error?code=" + std::to_string(e.code);
  if (!e.suberror.empty()) o["suberror"] = e.suberror;
  return boost::json::serialize(o);
}

aad_error custom_error(unsigned status, std::string error, int code, std::string message) {
  return make(status, std::move(error), code, std::move(message));
}

aad_error missing_parameter(std::string_view name) {
  return make(400, "invalid_request", 900144,
              "The request body must contain the following parameter: " + q(name) + ".");
}

aad_error malformed_request(std::string_view why) {
  return make(400, "invalid_request", 9002313,
              "Invalid request. Request is malformed or invalid. " + std::string(why));
}

aad_error post_only(std::string_view method) {
  return make(
      405, "invalid_request", 900561,
      "The endpoint only accepts POST requests. Received a " + std::string(method) + " request.");
}

aad_error unknown_tenant(std::string_view tenant) {
  return make(400, "invalid_tenant", 90002,
              "Tenant " + q(tenant) +
                  " not found. Check to make sure you have the correct tenant ID and are signing "
                  "into the correct cloud. Check with your subscription administrator, this may "
                  "happen if there are no active subscriptions for the tenant.");
}

aad_error unknown_client(std::string_view client_id, std::string_view tenant) {
  return make(400, "unauthorized_client", 700016,
              "Application with identifier " + q(client_id) + " was not found in the directory " +
                  q(tenant) +
                  ". This can happen if the application has not been installed by the "
                  "administrator of the tenant or consented to by any user in the tenant. You "
                  "may have sent your authentication request to the wrong tenant.");
}

aad_error consumers_refused(std::string_view client_id, std::string_view app_name) {
  return make(400, "invalid_request", 9002346,
              "Application " + q(client_id) + "(" + std::string(app_name) +
                  ") is configured for use by Azure Active Directory users only. Please do not "
                  "use the /consumers endpoint to serve this request.");
}

aad_error redirect_mismatch(std::string_view redirect_uri, std::string_view client_id) {
  return make(400, "invalid_request", 50011,
              "The redirect URI " + q(redirect_uri) +
                  " specified in the request does not match the redirect URIs configured for "
                  "the application " +
                  q(client_id) +
                  ". Make sure the redirect URI sent in the request matches one added to your "
                  "application in the Azure portal. Navigate to "
                  "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.");
}

aad_error no_redirect_registered(std::string_view client_id) {
  return make(400, "invalid_request", 500113,
              "No reply address is registered for the application " + q(client_id) + ".");
}

aad_error consent_missing(std::string_view client_id, std::string_view app_name) {
  return make(400, "invalid_grant", 65001,
              "The user or administrator has not consented to use the application with ID " +
                  q(client_id) + " named " + q(app_name) +
                  ". Send an interactive authorization request for this user and resource.",
              "consent_required");
}

aad_error consent_declined() {
  return make(400, "access_denied", 65004, "User declined to consent to access the app.");
}

aad_error public_client_sent_secret() {
  return make(401, "invalid_client", 700025,
              "Client is public so neither 'client_assertion' nor 'client_secret' should be "
              "presented.");
}

aad_error secret_required() {
  return make(401, "invalid_client", 7000218,
              "The request body must contain the following parameter: 'client_assertion' or "
              "'client_secret'.");
}

aad_error invalid_secret(std::string_view client_id) {
  return make(401, "invalid_client", 7000215,
              "Invalid client secret provided. Ensure the secret being sent in the request is "
              "the client secret value, not the client secret ID, for a secret added to app " +
                  q(client_id) + ".");
}

aad_error implicit_access_tokens_disabled() {
  return make(400, "unsupported_response_type", 700051,
              "response_type 'token' is not enabled for the application.");
}

aad_error implicit_id_tokens_disabled() {
  return make(400, "unsupported_response_type", 700054,
              "response_type 'id_token' is not enabled for the application.");
}

aad_error unsupported_response_type(std::string_view type) {
  return make(400, "unsupported_response_type", 70005,
              "response_type " + q(type) + " is not supported.");
}

aad_error unsupported_response_mode(std::string_view mode) {
  return make(400, "invalid_request", 70007,
              "The application returned an unsupported value of 'response_mode' (" +
                  std::string(mode) + ") when requesting a token.");
}

aad_error invalid_scope(std::string_view scope, std::string_view why) {
  std::string m = "The provided value for the input parameter 'scope' is not valid. The scope " +
                  std::string(scope) + " is not valid.";
  if (!why.empty()) m += " " + std::string(why);
  return make(400, "invalid_scope", 70011, std::move(m));
}

aad_error default_scope_required(std::string_view scope) {
  return make(400, "invalid_scope", 1002012,
              "The provided value for scope " + std::string(scope) +
                  " is not valid. Client credential flows must have a scope value with /.default "
                  "suffixed to the resource identifier (application ID URI).");
}

aad_error invalid_resource(std::string_view resource, std::string_view tenant) {
  return make(400, "invalid_resource", 500011,
              "The resource principal named " + std::string(resource) +
                  " was not found in the tenant named " + std::string(tenant) +
                  ". This can happen if the application has not been installed by the "
                  "administrator of the tenant or consented to by any user in the tenant. You "
                  "might have sent your authentication request to the wrong tenant.");
}

aad_error pkce_required(std::string_view why) {
  return make(400, "invalid_request", 9002325,
              "Proof Key for Code Exchange is required for public clients. " + std::string(why));
}

aad_error pkce_mismatch() {
  return make(400, "invalid_grant", 501481,
              "The Code_Verifier does not match the code_challenge supplied in the "
              "authorization request.");
}

aad_error bad_authorization_code(std::string_view why) {
  std::string m = "The provided value for the 'code' parameter is not valid.";
  if (!why.empty()) m += " " + std::string(why);
  return make(400, "invalid_grant", 70000, std::move(m));
}

aad_error code_redeemed() {
  return make(400, "invalid_grant", 54005,
              "OAuth2 Authorization code was already redeemed, please retry with a new valid "
              "code or use an existing refresh token.");
}

aad_error code_expired() {
  return make(400, "invalid_grant", 70008,
              "The provided authorization code or refresh token has expired due to inactivity. "
              "Send a new interactive authorization request for this user and resource.");
}

aad_error unsupported_grant_type(std::string_view grant) {
  return make(400, "unsupported_grant_type", 70003,
              "The app requested an unsupported grant type " + q(grant) + ".");
}

aad_error authorization_pending() {
  return make(400, "authorization_pending", 70016,
              "The provided request has not yet been authorized by the user. The user must "
              "input their code.");
}

aad_error slow_down(std::int64_t interval) {
  // RFC 8628 section 3.5; Entra ID documents the error but gives it no code of its own, so
  // it shares authorization_pending's.
  return make(400, "slow_down", 70016,
              "The client is polling too often. Poll at most every " + std::to_string(interval) +
                  " seconds.");
}

aad_error device_code_expired() {
  return make(400, "expired_token", 70020,
              "The provided value for the input parameter 'device_code' is not valid. This "
              "device code has expired.");
}

aad_error device_code_declined() {
  return make(400, "authorization_declined", 70000,
              "The user has declined the authorization request.");
}

aad_error bad_verification_code() {
  return make(400, "bad_verification_code", 70018,
              "The provided value for the input parameter 'device_code' is not valid.");
}

aad_error invalid_refresh_token() {
  return make(400, "invalid_grant", 9002313,
              "Invalid request. Request is malformed or invalid. The refresh token is not "
              "valid.");
}

aad_error refresh_token_reused() {
  return make(400, "invalid_grant", 70000,
              "The provided refresh token has already been used. Each refresh returns a new "
              "refresh token that replaces the old one; the reuse of an old one revokes every "
              "token of the sign-in.",
              "bad_token");
}

aad_error refresh_token_revoked() {
  return make(400, "invalid_grant", 50173,
              "The provided grant has expired due to it being revoked, a fresh auth token is "
              "needed. The user might have changed or reset their password.",
              "bad_token");
}

aad_error refresh_token_expired() {
  return make(400, "invalid_grant", 700082, "The refresh token has expired due to inactivity.",
              "bad_token");
}

aad_error grant_of_another_client() {
  return make(400, "invalid_grant", 70000,
              "The provided grant was issued to another client application.");
}

aad_error login_required() {
  return make(400, "login_required", 50058,
              "A silent sign-in request was sent but no user is signed in.");
}

}  // namespace mailoauth::sandbox::detail
