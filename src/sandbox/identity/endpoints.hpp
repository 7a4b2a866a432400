// Internal: the identity platform's endpoints, one function each, and what the authorization
// endpoint shares with the sign-in pages (the flow after sign-in, the answer to the app).
//
//   authorize_endpoint.cpp   /{tenant}/oauth2/v2.0/authorize
//   token_endpoint.cpp       /{tenant}/oauth2/v2.0/token (the grants: *_grant.cpp)
//   device_code_grant.cpp    /{tenant}/oauth2/v2.0/devicecode
//   discovery.cpp            /{tenant}/v2.0/.well-known/openid-configuration, .../keys
//   signin_pages.cpp         /login, /consent, /devicelogin
#pragma once

#include "sandbox/identity/exchange.hpp"

#include <optional>
#include <string>

namespace mailoauth::sandbox::detail {

http_out authorize_endpoint(exchange& x);
http_out token_endpoint(exchange& x);
http_out devicecode_endpoint(exchange& x);
http_out discovery_endpoint(exchange& x);
http_out keys_endpoint(exchange& x);
http_out login_endpoint(exchange& x);
http_out consent_endpoint(exchange& x);
http_out devicelogin_endpoint(exchange& x);

/// The user has signed in to an authorization request: the consent page, or straight to the
/// app. `set_cookie`: the new browser session, if the sign-in made one.
http_out after_signin(exchange& x, flow_context& flow, const std::string& id,
                      std::optional<std::string> set_cookie);
/// Issues what the authorization request asked for (a code, tokens) through the browser.
http_out complete_authorization(exchange& x, const flow_context& flow);
/// An error sent to the app through the browser, per response_mode.
http_out redirect_error(exchange& x, const auth_request& r, const aad_error& e);

}  // namespace mailoauth::sandbox::detail
