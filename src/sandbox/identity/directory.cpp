// identity.toml: parsed with toml++ and checked key by key, so that a mistake in a hand-edited
// registration is reported with its line and what is allowed there.
#include "sandbox/identity/directory.hpp"

#include "sandbox/identity/text.hpp"
#include "store/atomic_file.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace mailoauth::sandbox {
namespace {

namespace fs = std::filesystem;
using detail::iequals;

constexpr std::string_view file_name = "identity.toml";

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool is_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t k = 0; k < s.size(); ++k) {
    const char c = s[k];
    if (k == 8 || k == 13 || k == 18 || k == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

/// Reads one table's keys with the file, line and key in every error.
class reader {
 public:
  reader(const fs::path& origin, const toml::table& t, std::string where)
      : origin_(origin), t_(t), where_(std::move(where)) {}

  result<std::string> text(std::string_view key, bool required, std::string fallback = {}) {
    const auto* node = t_.get(key);
    if (!node) {
      if (required) return error(key, "is missing", t_.source());
      return fallback;
    }
    const auto* v = node->as_string();
    if (!v) return error(key, "must be a string", node->source());
    return v->get();
  }

  result<bool> flag(std::string_view key, bool fallback) {
    const auto* node = t_.get(key);
    if (!node) return fallback;
    const auto* v = node->as_boolean();
    if (!v) return error(key, "must be true or false", node->source());
    return v->get();
  }

  result<std::vector<std::string>> list(std::string_view key) {
    std::vector<std::string> out;
    const auto* node = t_.get(key);
    if (!node) return out;
    const auto* arr = node->as_array();
    if (!arr) return error(key, "must be an array of strings", node->source());
    for (const auto& item : *arr) {
      const auto* s = item.as_string();
      if (!s) return error(key, "must be an array of strings", item.source());
      out.push_back(s->get());
    }
    return out;
  }

  failure error(std::string_view key, std::string_view what,
                const toml::source_region& where) const {
    return make_failure(errc::config_invalid, origin_.string() + ":" +
                                                  std::to_string(where.begin.line) + ": " + where_ +
                                                  "." + std::string(key) + " " + std::string(what));
  }
  /// At the key's own line when it is there, else at the table's.
  failure error(std::string_view key, std::string_view what) const {
    const auto* node = t_.get(key);
    return error(key, what, node ? node->source() : t_.source());
  }

  result<void> only(std::initializer_list<std::string_view> keys) {
    for (const auto& [k, v] : t_) {
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end())
        return error(k.str(), "is not a known key here", v.source());
    }
    return {};
  }

 private:
  const fs::path& origin_;
  const toml::table& t_;
  std::string where_;
};

#define MAILOAUTH_TRY(var, expr) \
  auto var = (expr);             \
  if (!var) return var.error()

result<app_registration> parse_application(const fs::path& origin, const toml::table& t,
                                           std::size_t index) {
  reader r(origin, t, "applications[" + std::to_string(index) + "]");
  if (auto ok = r.only({"client_id", "display_name", "object_id", "type", "client_secret",
                        "redirect_uris", "implicit_access_tokens", "implicit_id_tokens",
                        "delegated_permissions", "application_permissions", "admin_consent"});
      !ok)
    return ok.error();
  app_registration a;
  MAILOAUTH_TRY(id, r.text("client_id", true));
  if (!is_guid(*id)) return r.error("client_id", "must be a GUID (8-4-4-4-12 hexadecimal digits)");
  a.client_id = detail::to_lower(*id);
  MAILOAUTH_TRY(name, r.text("display_name", false, "Sandbox app"));
  a.display_name = *name;
  MAILOAUTH_TRY(oid, r.text("object_id", false));
  if (!oid->empty() && !is_guid(*oid)) return r.error("object_id", "must be a GUID");
  a.object_id = oid->empty() ? detail::new_guid() : detail::to_lower(*oid);
  MAILOAUTH_TRY(type, r.text("type", false, "public"));
  if (*type != "public" && *type != "confidential")
    return r.error("type", "must be \"public\" or \"confidential\"");
  a.confidential = *type == "confidential";
  MAILOAUTH_TRY(s, r.text("client_secret", false));
  a.client_secret = secret(std::move(*s));
  if (a.confidential && a.client_secret.empty())
    return r.error("client_secret", "is required for a confidential client");
  if (!a.confidential && !a.client_secret.empty())
    return r.error("client_secret", "is not allowed for a public client");
  MAILOAUTH_TRY(uris, r.list("redirect_uris"));
  for (const auto& u : *uris)
    if (!u.starts_with("http://") && !u.starts_with("https://") && u.find(':') == std::string::npos)
      return r.error("redirect_uris", "holds \"" + u + "\", which is not an absolute URI");
  a.redirect_uris = std::move(*uris);
  MAILOAUTH_TRY(at, r.flag("implicit_access_tokens", false));
  a.implicit_access_tokens = *at;
  MAILOAUTH_TRY(it, r.flag("implicit_id_tokens", false));
  a.implicit_id_tokens = *it;
  MAILOAUTH_TRY(delegated, r.list("delegated_permissions"));
  for (const auto& p : *delegated)
    if (!contains(known_delegated_permissions(), p))
      return r.error(
          "delegated_permissions",
          "holds \"" + p + "\"; known: " + detail::join(known_delegated_permissions(), ", "));
  a.delegated_permissions = std::move(*delegated);
  MAILOAUTH_TRY(app, r.list("application_permissions"));
  for (const auto& p : *app)
    if (!contains(known_application_permissions(), p))
      return r.error(
          "application_permissions",
          "holds \"" + p + "\"; known: " + detail::join(known_application_permissions(), ", "));
  a.application_permissions = std::move(*app);
  MAILOAUTH_TRY(admin, r.flag("admin_consent", false));
  a.admin_consent = *admin;
  return a;
}

result<directory_user> parse_user(const fs::path& origin, const toml::table& t, std::size_t index) {
  reader r(origin, t, "users[" + std::to_string(index) + "]");
  if (auto ok = r.only({"username", "password", "display_name", "object_id"}); !ok)
    return ok.error();
  directory_user u;
  MAILOAUTH_TRY(name, r.text("username", true));
  if (name->find('@') == std::string::npos || name->find_first_of(" \t\r\n") != std::string::npos)
    return r.error("username",
                   "must be a user principal name such as test@contoso.onmicrosoft.com");
  u.username = *name;
  MAILOAUTH_TRY(pw, r.text("password", true));
  if (pw->empty()) return r.error("password", "must not be empty");
  u.password = secret(std::move(*pw));
  MAILOAUTH_TRY(display, r.text("display_name", false, u.username.substr(0, u.username.find('@'))));
  u.display_name = *display;
  MAILOAUTH_TRY(oid, r.text("object_id", false));
  if (!oid->empty() && !is_guid(*oid)) return r.error("object_id", "must be a GUID");
  u.object_id = oid->empty() ? detail::new_guid() : detail::to_lower(*oid);
  return u;
}

std::string toml_quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\u00";
      out += hex[(c >> 4) & 0xF];
      out += hex[c & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string toml_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t k = 0; k < v.size(); ++k) out += (k ? ", " : "") + toml_quoted(v[k]);
  return out + "]";
}

std::string random_password() {
  // Readable enough to type into the sign-in page from the printed file.
  return "Sbx-" + detail::random_token(12);
}

}  // namespace

const std::vector<std::string>& known_delegated_permissions() {
  static const std::vector<std::string> v{"IMAP.AccessAsUser.All",
                                          "POP.AccessAsUser.All",
                                          "SMTP.Send",
                                          "offline_access",
                                          "openid",
                                          "profile",
                                          "email"};
  return v;
}

const std::vector<std::string>& known_application_permissions() {
  static const std::vector<std::string> v{"IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"};
  return v;
}

const app_registration* directory::find_application(std::string_view client_id) const {
  for (const auto& a : applications)
    if (iequals(a.client_id, client_id)) return &a;
  return nullptr;
}

const directory_user* directory::find_user(std::string_view username) const {
  for (const auto& u : users)
    if (iequals(u.username, username)) return &u;
  return nullptr;
}

result<directory> parse_directory(std::string_view toml_text, const fs::path& origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin.string());
  } catch (const toml::parse_error& e) {
    return make_failure(errc::config_invalid, origin.string() + ":" +
                                                  std::to_string(e.source().begin.line) + ": " +
                                                  std::string(e.description()));
  }
  directory dir;
  reader top(origin, root, "identity");
  if (auto ok = top.only({"tenant", "applications", "users"}); !ok) return ok.error();

  const auto* tenant = root.get_as<toml::table>("tenant");
  if (!tenant) return top.error("tenant", "is missing (a [tenant] table with id and domain)");
  reader tr(origin, *tenant, "tenant");
  if (auto ok = tr.only({"id", "domain", "display_name"}); !ok) return ok.error();
  MAILOAUTH_TRY(tid, tr.text("id", true));
  if (!is_guid(*tid)) return tr.error("id", "must be a GUID");
  dir.tenant.id = detail::to_lower(*tid);
  MAILOAUTH_TRY(domain, tr.text("domain", true));
  if (domain->empty() || domain->find_first_of("/ \t") != std::string::npos ||
      domain->find('.') == std::string::npos)
    return tr.error("domain", "must be a domain name such as contoso.onmicrosoft.com");
  dir.tenant.domain = detail::to_lower(*domain);
  MAILOAUTH_TRY(tname, tr.text("display_name", false, "Sandbox tenant"));
  dir.tenant.display_name = *tname;

  if (const auto* apps = root.get("applications")) {
    const auto* arr = apps->as_array();
    if (!arr) return top.error("applications", "must be an array of tables ([[applications]])");
    for (std::size_t k = 0; k < arr->size(); ++k) {
      const auto* t = (*arr)[k].as_table();
      if (!t) return top.error("applications", "must be an array of tables ([[applications]])");
      MAILOAUTH_TRY(a, parse_application(origin, *t, k));
      if (dir.find_application(a->client_id))
        return top.error("applications", "repeats client_id " + a->client_id, t->source());
      dir.applications.push_back(std::move(*a));
    }
  }
  if (const auto* users = root.get("users")) {
    const auto* arr = users->as_array();
    if (!arr) return top.error("users", "must be an array of tables ([[users]])");
    for (std::size_t k = 0; k < arr->size(); ++k) {
      const auto* t = (*arr)[k].as_table();
      if (!t) return top.error("users", "must be an array of tables ([[users]])");
      MAILOAUTH_TRY(u, parse_user(origin, *t, k));
      if (dir.find_user(u->username))
        return top.error("users", "repeats username " + u->username, t->source());
      dir.users.push_back(std::move(*u));
    }
  }
  return dir;
}

result<directory> load_directory(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return make_failure(errc::config_invalid,
                        "cannot read " + file.string() + "; remove it to get a fresh default one");
  std::ostringstream text;
  text << in.rdbuf();
  auto s = text.str();
  auto out = parse_directory(s, file);
  wipe(s);
  return out;
}

std::string directory_to_toml(const directory& dir) {
  std::string out =
      "# The sandbox's identity platform: its tenant, app registrations and users (issue 4).\n"
      "# Edit and restart the sandbox. This file holds passwords and a client secret: keep it\n"
      "# private (mode 0600).\n\n";
  out += "[tenant]\n";
  out += "id = " + toml_quoted(dir.tenant.id) + "  # the tenant GUID: tid of the tokens\n";
  out += "domain = " + toml_quoted(dir.tenant.domain) + "\n";
  out += "display_name = " + toml_quoted(dir.tenant.display_name) + "\n";
  for (const auto& a : dir.applications) {
    out += "\n[[applications]]\n";
    out += "client_id = " + toml_quoted(a.client_id) + "\n";
    out += "display_name = " + toml_quoted(a.display_name) + "\n";
    out += "object_id = " + toml_quoted(a.object_id) +
           "  # service principal: oid of app-only tokens\n";
    out += "type = " + toml_quoted(a.confidential ? "confidential" : "public") +
           "  # public: no secret, PKCE; confidential: client_secret\n";
    if (a.confidential) out += "client_secret = " + toml_quoted(a.client_secret.reveal()) + "\n";
    out += "redirect_uris = " + toml_list(a.redirect_uris) +
           "  # http://localhost and http://127.0.0.1 match any port (RFC 8252)\n";
    out += std::string("implicit_access_tokens = ") +
           (a.implicit_access_tokens ? "true" : "false") + "  # response_type=token\n";
    out += std::string("implicit_id_tokens = ") + (a.implicit_id_tokens ? "true" : "false") +
           "  # response_type=id_token\n";
    out += "delegated_permissions = " + toml_list(a.delegated_permissions) + "\n";
    out += "application_permissions = " + toml_list(a.application_permissions) + "\n";
    out += std::string("admin_consent = ") + (a.admin_consent ? "true" : "false") +
           "  # granted for the whole tenant: no consent page, roles in app-only tokens\n";
  }
  for (const auto& u : dir.users) {
    out += "\n[[users]]\n";
    out += "username = " + toml_quoted(u.username) + "\n";
    out += "password = " + toml_quoted(u.password.reveal()) + "\n";
    out += "display_name = " + toml_quoted(u.display_name) + "\n";
    out += "object_id = " + toml_quoted(u.object_id) + "\n";
  }
  return out;
}

result<void> save_directory(const directory& dir, const fs::path& file) {
  const auto parent = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (auto ok = store::detail::ensure_directory(parent); !ok) return ok.error();
  auto text = directory_to_toml(dir);
  auto ok = store::detail::replace_file(parent, file.filename().string(), text);
  wipe(text);
  return ok;
}

directory default_directory() {
  directory dir;
  dir.tenant = {detail::new_guid(), "contoso.onmicrosoft.com", "Contoso (sandbox)"};

  app_registration mail;
  mail.client_id = detail::new_guid();
  mail.display_name = "mailoauth";
  mail.object_id = detail::new_guid();
  mail.redirect_uris = {"http://localhost",
                        "https://login.microsoftonline.com/common/oauth2/nativeclient"};
  mail.delegated_permissions = {"IMAP.AccessAsUser.All",
                                "POP.AccessAsUser.All",
                                "SMTP.Send",
                                "offline_access",
                                "openid",
                                "profile",
                                "email"};
  dir.applications.push_back(std::move(mail));

  app_registration daemon;
  daemon.client_id = detail::new_guid();
  daemon.display_name = "mailoauth app-only";
  daemon.object_id = detail::new_guid();
  daemon.confidential = true;
  daemon.client_secret = secret("sbx~" + detail::random_token(30));
  daemon.application_permissions = known_application_permissions();
  daemon.admin_consent = true;
  dir.applications.push_back(std::move(daemon));

  dir.users.push_back(
      {"test@contoso.onmicrosoft.com", secret(random_password()), "Test User", detail::new_guid()});
  dir.users.push_back({"alex@contoso.onmicrosoft.com", secret(random_password()), "Alex Wilber",
                       detail::new_guid()});
  return dir;
}

result<directory> load_or_create_directory(const fs::path& state_dir) {
  const auto file = state_dir / file_name;
  std::error_code ec;
  if (fs::exists(file, ec)) return load_directory(file);
  auto dir = default_directory();
  if (auto ok = save_directory(dir, file); !ok) return ok.error();
  return dir;
}

}  // namespace mailoauth::sandbox
