// Internal: the grants of the identity platform, one file each (RFC 6749 and its extensions),
// and what the token endpoint shares between them: client authentication, narrowing a grant's
// scope, the delegated token response.
#pragma once

#include "sandbox/identity/exchange.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>

namespace mailoauth::sandbox::detail {

/// A token endpoint answer: the response object, or the error.
using token_result = std::variant<boost::json::object, aad_error>;

// ---- token_endpoint.cpp ----------------------------------------------------------------------

/// Client authentication of the token and device endpoints: client_secret_post or
/// client_secret_basic (RFC 6749 section 2.3.1), by what the registration says the client is.
std::variant<const app_registration*, aad_error> authenticate_client(const exchange& x,
                                                                     const form_fields& f);
/// A scope parameter on a grant that already has permissions: what it may narrow them to.
/// Asking for more than `allowed` needs a new interactive sign-in (AADSTS65001).
std::variant<grant, aad_error> rescope(const platform_state& s, const app_registration& app,
                                       const grant& g, const std::string* scope,
                                       const std::set<std::string>& allowed);
/// The token response of the delegated grants: an access token, a refresh token (with
/// offline_access) in `family`, an ID token (with openid) carrying `nonce`.
token_result delegated_tokens(platform_state& s, const grant& g, const std::string& family,
                              const std::string& nonce);

// ---- authorization_code_grant.cpp (RFC 6749 section 4.1, PKCE: RFC 7636) ---------------------

/// The PKCE parameters of an authorization request asking for a code, into `r`.
std::optional<aad_error> check_pkce(const app_registration& app, const form_fields& f,
                                    auth_request& r);
/// A new code for `g`, bound to the request's redirect URI, challenge and nonce.
std::string issue_authorization_code(platform_state& s, const grant& g, const auth_request& r);
token_result redeem_authorization_code(platform_state& s, const app_registration& app,
                                       const form_fields& f);

// ---- implicit_grant.cpp (RFC 6749 section 4.2, OpenID Connect's id_token) --------------------

/// Whether the registration allows the tokens `r` asks for in the front channel.
std::optional<aad_error> check_implicit_enabled(const app_registration& app, const auth_request& r);
/// An ID token needs openid and a nonce; no refresh token travels in a URL.
std::optional<aad_error> check_implicit_scopes(auth_request& r, const std::string& scope);
/// The tokens of the authorization response, added to `out`.
std::optional<aad_error> implicit_tokens(const platform_state& s, const grant& g,
                                         const auth_request& r, fields& out);

// ---- refresh_token_grant.cpp (RFC 6749 section 6, rotation: RFC 9700 section 4.14.2) ---------

token_result refresh_token_grant(platform_state& s, const app_registration& app,
                                 const form_fields& f);

// ---- device_code_grant.cpp (RFC 8628) --------------------------------------------------------

/// A user code as typed (RFC 8628 section 6.1): case is ignored, and so are the dashes and
/// white space a user adds; what is left is the code as the platform issued it.
std::string normalize_user_code(std::string_view typed);
/// The device code whose user code the user typed, or null.
device_record* find_user_code(platform_state& s, std::string_view typed, std::string* key);
/// The user approves the device sign-in (with consent to what the app asked for).
void approve_device(platform_state& s, device_record& d, const directory_user& user);
token_result poll_device_code(platform_state& s, const app_registration& app, const form_fields& f);

// ---- client_credentials_grant.cpp (RFC 6749 section 4.4) -------------------------------------

token_result client_credentials_grant(const platform_state& s, const app_registration& app,
                                      const form_fields& f);

}  // namespace mailoauth::sandbox::detail
