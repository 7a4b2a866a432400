// The sandbox tenant's directory: the tenant, its app registrations and its users, kept in
// <state>/identity.toml (TOML, like config.toml). Written with sensible defaults on first start.
#pragma once

#include <mailoauth/result.hpp>
#include <mailoauth/secret.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::sandbox {

/// The Exchange Online resource of every permission below (the scope strings of Microsoft's guide).
inline constexpr std::string_view outlook_resource = "https://outlook.office365.com";

/// One app registration, as Entra ID's portal shows it.
struct app_registration {
  std::string client_id;     // application (client) id, a GUID
  std::string display_name;  // shown on the consent page and in the device-code message
  std::string object_id;     // the service principal: the `oid` of app-only tokens
  /// Confidential clients authenticate with `client_secret`; public ones (mail programs on a
  /// user's machine) must not send one and must use PKCE (S256) in the code flow.
  bool confidential = false;
  secret client_secret;
  std::vector<std::string> redirect_uris;
  /// "Access tokens (used for implicit flows)" and "ID tokens" on the Authentication page.
  bool implicit_access_tokens = false;
  bool implicit_id_tokens = false;
  /// Delegated permissions on https://outlook.office365.com by short name
  /// (IMAP.AccessAsUser.All, POP.AccessAsUser.All, SMTP.Send), plus offline_access and the
  /// OpenID ones (openid, profile, email).
  std::vector<std::string> delegated_permissions;
  /// Application permissions (IMAP.AccessAsApp, POP.AccessAsApp, SMTP.SendAsApp).
  std::vector<std::string> application_permissions;
  /// "Grant admin consent for <tenant>": every configured permission is consented for every
  /// user, and the application permissions become the `roles` of app-only tokens.
  bool admin_consent = false;
};

struct directory_user {
  std::string username;  // the UPN, e.g. test@contoso.onmicrosoft.com
  secret password;
  std::string display_name;
  std::string object_id;  // the `oid` of the user's tokens
};

struct tenant_info {
  std::string id;      // the tenant GUID (`tid`)
  std::string domain;  // e.g. contoso.onmicrosoft.com
  std::string display_name;
};

struct directory {
  tenant_info tenant;
  std::vector<app_registration> applications;
  std::vector<directory_user> users;

  /// The registration with this client id (GUIDs compare case-insensitively), or null.
  [[nodiscard]] const app_registration* find_application(std::string_view client_id) const;
  /// The user with this UPN (case-insensitive), or null.
  [[nodiscard]] const directory_user* find_user(std::string_view username) const;
};

/// Delegated permissions known on the Outlook resource, and the application ones.
const std::vector<std::string>& known_delegated_permissions();
const std::vector<std::string>& known_application_permissions();

/// Parses identity.toml text; every error names `origin`, the line and the key.
result<directory> parse_directory(std::string_view toml_text, const std::filesystem::path& origin);
/// Reads and parses a file.
result<directory> load_directory(const std::filesystem::path& file);
/// The file's text for `dir` (with comments that explain each key).
std::string directory_to_toml(const directory& dir);
/// Writes `dir` to `file`, mode 0600 (it holds passwords and a client secret), atomically.
result<void> save_directory(const directory& dir, const std::filesystem::path& file);

/// A fresh directory: tenant contoso.onmicrosoft.com with a new GUID; a public client for mail
/// programs ("mailoauth", redirect http://localhost, device flow, the guide's three delegated
/// permissions and offline_access, user consent); a confidential client for app-only access
/// (a random secret, the three application permissions, admin consent); the guide's user
/// test@contoso.onmicrosoft.com and alex@contoso.onmicrosoft.com, with random passwords.
directory default_directory();

/// <state_dir>/identity.toml, written from default_directory() when it does not exist.
result<directory> load_or_create_directory(const std::filesystem::path& state_dir);

}  // namespace mailoauth::sandbox
