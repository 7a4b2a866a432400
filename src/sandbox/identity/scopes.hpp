// Internal: the scope parameter, as Entra ID reads it for the Outlook resource: full resource
// URLs (as in Microsoft's guide: https://outlook.office365.com/IMAP.AccessAsUser.All), .default,
// and the OpenID scopes.
#pragma once

#include "sandbox/identity/aadsts.hpp"
#include "sandbox/identity/directory.hpp"

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>

namespace mailoauth::sandbox::detail {

/// What a scope parameter asks for.
struct scope_set {
  std::set<std::string> outlook;  // short names on https://outlook.office365.com
  bool outlook_default = false;   // https://outlook.office365.com/.default
  std::set<std::string> oidc;     // openid, profile, email, offline_access

  [[nodiscard]] bool offline() const { return oidc.contains("offline_access"); }
  [[nodiscard]] bool openid() const { return oidc.contains("openid"); }
};

/// Parses a delegated request's scope parameter and checks it against the registration:
/// unknown scopes and scopes the app has not registered are invalid_scope (AADSTS70011), other
/// resources invalid_resource (AADSTS500011). .default becomes the registered permissions.
std::variant<scope_set, aad_error> parse_delegated_scopes(std::string_view scope,
                                                          const app_registration& app,
                                                          std::string_view tenant);

/// The client credentials grant's scope: exactly https://outlook.office365.com/.default.
std::optional<aad_error> check_app_only_scope(std::string_view scope, std::string_view tenant);

/// The scope string of a token response: full URLs of the Outlook permissions, as Entra ID
/// returns them, then the OpenID ones granted.
std::string response_scope(const std::set<std::string>& outlook, const std::set<std::string>& oidc);

}  // namespace mailoauth::sandbox::detail
