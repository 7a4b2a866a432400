#include "sandbox/identity/scopes.hpp"

#include "sandbox/identity/text.hpp"

#include <algorithm>
#include <array>

namespace mailoauth::sandbox::detail {
namespace {

constexpr std::array<std::string_view, 4> oidc_scopes{"openid", "profile", "email",
                                                      "offline_access"};
constexpr std::array<std::string_view, 3> outlook_delegated{"IMAP.AccessAsUser.All",
                                                            "POP.AccessAsUser.All", "SMTP.Send"};

/// The permission part when `scope` names the Outlook resource; Entra ID also accepts the
/// older host outlook.office.com for it.
std::optional<std::string> outlook_part(std::string_view scope) {
  for (std::string_view prefix :
       {"https://outlook.office365.com/", "https://outlook.office.com/"}) {
    if (scope.size() > prefix.size() && iequals(scope.substr(0, prefix.size()), prefix))
      return std::string(scope.substr(prefix.size()));
  }
  return std::nullopt;
}

bool registered(const app_registration& app, std::string_view name) {
  return std::find(app.delegated_permissions.begin(), app.delegated_permissions.end(), name) !=
         app.delegated_permissions.end();
}

}  // namespace

std::variant<scope_set, aad_error> parse_delegated_scopes(std::string_view scope,
                                                          const app_registration& app,
                                                          std::string_view tenant) {
  scope_set out;
  const auto words = split_spaces(scope);
  if (words.empty()) return missing_parameter("scope");
  for (const auto& w : words) {
    if (const auto oidc = std::find_if(oidc_scopes.begin(), oidc_scopes.end(),
                                       [&](std::string_view s) { return iequals(s, w); });
        oidc != oidc_scopes.end()) {
      out.oidc.emplace(*oidc);
      continue;
    }
    const auto part = outlook_part(w);
    if (!part) {
      // A bare name is a Microsoft Graph permission to Entra ID; Graph is not in the sandbox.
      if (w.find("://") == std::string::npos)
        return invalid_scope(w,
                             "The sandbox issues tokens for https://outlook.office365.com "
                             "only: use the full scope strings, such as "
                             "https://outlook.office365.com/IMAP.AccessAsUser.All.");
      const auto slash = w.find('/', w.find("://") + 3);
      return invalid_resource(w.substr(0, slash), tenant);
    }
    if (iequals(*part, ".default")) {
      out.outlook_default = true;
      continue;
    }
    const auto known = std::find_if(outlook_delegated.begin(), outlook_delegated.end(),
                                    [&](std::string_view s) { return iequals(s, *part); });
    if (known == outlook_delegated.end()) return invalid_scope(w);
    if (!registered(app, *known))
      return invalid_scope(w, "The application " + app.client_id + " (" + app.display_name +
                                  ") has not registered the permission " + std::string(*known) +
                                  " of https://outlook.office365.com.");
    out.outlook.emplace(*known);
  }
  if (out.outlook_default) {
    if (!out.outlook.empty())
      return invalid_scope(scope,
                           "The .default scope can't be combined with resource-specific "
                           "scopes.");
    for (const auto& p : outlook_delegated)
      if (registered(app, p)) out.outlook.emplace(p);
  }
  if (out.outlook.empty())
    return invalid_scope(scope,
                         "The request asks for no permission of "
                         "https://outlook.office365.com, the sandbox's only resource.");
  return out;
}

std::optional<aad_error> check_app_only_scope(std::string_view scope, std::string_view tenant) {
  const auto words = split_spaces(scope);
  if (words.empty()) return missing_parameter("scope");
  if (words.size() > 1) return invalid_scope(scope, "Client credential flows take one scope.");
  const auto& w = words.front();
  const auto part = outlook_part(w);
  if (!part) {
    if (w.find("://") == std::string::npos) return default_scope_required(w);
    const auto slash = w.find('/', w.find("://") + 3);
    return invalid_resource(w.substr(0, slash), tenant);
  }
  if (!iequals(*part, ".default")) return default_scope_required(w);
  return std::nullopt;
}

std::string response_scope(const std::set<std::string>& outlook,
                           const std::set<std::string>& oidc) {
  std::vector<std::string> words;
  for (const auto& s : outlook) words.push_back(std::string(outlook_resource) + "/" + s);
  for (const auto& s : oidc) words.push_back(s);
  return join(words);
}

}  // namespace mailoauth::sandbox::detail
