// Internal: one request to the identity platform, as every endpoint sees it: the state (under
// the authority's lock), the request, its path, query and tenant, the ids its errors carry,
// and the ways an answer goes out (JSON, a page, an error in either).
#pragma once

#include "sandbox/identity/authority_state.hpp"
#include "sandbox/identity/pages.hpp"
#include "sandbox/identity/text.hpp"

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailoauth::sandbox::detail {

/// Fields of an answer that travels through the browser (a redirect or a form_post).
using fields = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view device_grant = "urn:ietf:params:oauth:grant-type:device_code";
inline constexpr std::string_view session_cookie = "mailoauth_sandbox_session";
/// Then AADSTS50053, as Entra ID locks the account.
inline constexpr int max_password_attempts = 10;
inline constexpr auto flow_lifetime = std::chrono::minutes(15);
inline constexpr auto session_lifetime = std::chrono::hours(8);

struct exchange {
  exchange(platform_state& state, const http_in& request);

  platform_state& s;
  const http_in& in;
  error_context ctx;
  std::string path;
  std::string query;
  std::string tenant;  // the first path segment of /{tenant}/... endpoints

  /// The request's parameters: the query of a GET, the form body of anything else (a body of
  /// another content type reads as no parameters). Null when the form is malformed.
  [[nodiscard]] std::optional<form_fields> form() const;
  /// An error answered in Entra ID's JSON shape (the token and device endpoints).
  [[nodiscard]] http_out json_error(const aad_error& e) const;
  /// An error Entra ID shows on a page rather than redirecting.
  [[nodiscard]] http_out error_page_out(const aad_error& e) const;
  /// The user of the browser's session cookie, if it is signed in.
  [[nodiscard]] const directory_user* session_user() const;
};

http_out json_out(unsigned status, std::string body);
http_out page_out(unsigned status, page p);

/// A form field, or null.
const std::string* field(const form_fields& f, std::string_view key);
/// A form field, or empty.
std::string value(const form_fields& f, std::string_view key);

/// The CSP source that lets a page's form end in a redirect to `uri`: its origin, any port for
/// loopback (RFC 8252), or its scheme for a private-use scheme.
std::string csp_source(const std::string& uri);
/// The consent page's lines for these permissions.
std::vector<permission_line> describe(const std::set<std::string>& outlook,
                                      const std::set<std::string>& oidc);

/// A flow context id: the hidden `ctx` of the pages.
std::string new_flow_id();
/// The flow a page's `ctx` names, unless it has expired.
flow_context* find_flow(platform_state& s, const form_fields& f);
/// The display name of the app a flow signs in to.
std::string app_name(const platform_state& s, const flow_context& flow);
aad_error flow_expired();
aad_error temporarily_unavailable();
aad_error token_issuing_failed();

}  // namespace mailoauth::sandbox::detail
