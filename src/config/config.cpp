// config.toml: parsed with toml++, checked key by key so that every mistake is reported with
// its file, line and key, and what is allowed there.
#include <mailoauth/config.hpp>

#include "config/command.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

namespace mailoauth::config {

std::string_view name(provider_kind p) noexcept {
  switch (p) {
    case provider_kind::microsoft:
      return "microsoft";
    case provider_kind::google:
      return "google";
    case provider_kind::custom:
      return "custom";
  }
  return "?";
}

std::string_view name(flow_kind f) noexcept {
  switch (f) {
    case flow_kind::browser:
      return "browser";
    case flow_kind::paste:
      return "paste";
    case flow_kind::device:
      return "device";
    case flow_kind::implicit:
      return "implicit";
    case flow_kind::client_credentials:
      return "client-credentials";
  }
  return "?";
}

std::optional<flow_kind> parse_flow(std::string_view text) noexcept {
  for (auto f : {flow_kind::browser, flow_kind::paste, flow_kind::device, flow_kind::implicit,
                 flow_kind::client_credentials})
    if (text == name(f)) return f;
  return std::nullopt;
}

bool account::uses(protocol::mail_protocol p) const {
  return std::find(protocols.begin(), protocols.end(), p) != protocols.end();
}

namespace {

using protocol::mail_protocol;

// ":1234" (a port after a host); false for anything else.
bool is_port_suffix(std::string_view s) {
  if (s.size() < 2 || s.size() > 6 || s.front() != ':') return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// True for "http://HOST[:PORT][/...]" whose HOST is a loopback address: 127.0.0.0/8, [::1] or
// exactly localhost. The host is parsed, not prefix-matched: "http://127.0.0.1.evil.example/"
// and "http://localhost@evil.example/" start like loopback URLs but name remote hosts, which
// would receive the authorization code or the tokens in the clear (issue 3's tests).
bool is_loopback_http(std::string_view v) {
  constexpr std::string_view scheme = "http://";
  if (!v.starts_with(scheme)) return false;
  v.remove_prefix(scheme.size());
  std::string_view host = v.substr(0, v.find_first_of("/?#"));
  if (host.find('@') != std::string_view::npos) return false;  // userinfo: the host follows
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    const auto rest = host.substr(close + 1);
    return host.substr(0, close + 1) == "[::1]" && (rest.empty() || is_port_suffix(rest));
  }
  if (const auto colon = host.find(':'); colon != std::string_view::npos) {
    if (!is_port_suffix(host.substr(colon))) return false;
    host = host.substr(0, colon);
  }
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost") return true;
  // Dotted-quad IPv4 in 127.0.0.0/8.
  std::vector<std::string_view> parts;
  for (std::size_t at = 0;;) {
    const auto dot = host.find('.', at);
    parts.push_back(host.substr(at, dot == std::string_view::npos ? dot : dot - at));
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  return parts.size() == 4 && parts[0] == "127" &&
         std::all_of(parts.begin(), parts.end(), [](std::string_view part) {
           return !part.empty() && part.size() <= 3 &&
                  std::all_of(part.begin(), part.end(),
                              [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
                  std::stoi(std::string(part)) <= 255;
         });
}

// Thrown inside the parser only, turned into a failure at its boundary.
struct config_error {
  std::string message;
};

class checker {
 public:
  explicit checker(std::filesystem::path origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const toml::source_region& where, const std::string& key,
                         const std::string& what) const {
    std::ostringstream out;
    out << origin_.string();
    if (where.begin.line > 0) out << ":" << where.begin.line;
    out << ": ";
    if (!key.empty()) out << key << ": ";
    out << what;
    throw config_error{out.str()};
  }

  void only_keys(const toml::table& t, const std::string& prefix,
                 std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(k.source(), prefix + std::string(k.str()), "unknown key; allowed here: " + list);
    }
  }

  std::string text(const toml::table& t, std::string_view key, const std::string& prefix,
                   bool required = false) const {
    const auto* node = t.get(key);
    if (!node) {
      if (required) fail(t.source(), prefix + std::string(key), "missing (it is required)");
      return {};
    }
    const auto* s = node->as_string();
    if (!s) fail(node->source(), prefix + std::string(key), "must be a string (in quotes)");
    if (s->get().empty()) fail(node->source(), prefix + std::string(key), "must not be empty");
    return s->get();
  }

  std::int64_t integer(const toml::table& t, std::string_view key, const std::string& prefix,
                       std::int64_t low, std::int64_t high, std::int64_t fallback) const {
    const auto* node = t.get(key);
    if (!node) return fallback;
    const auto* i = node->as_integer();
    if (!i || i->get() < low || i->get() > high)
      fail(node->source(), prefix + std::string(key),
           "must be a whole number from " + std::to_string(low) + " to " + std::to_string(high));
    return i->get();
  }

  std::vector<std::string> strings(const toml::table& t, std::string_view key,
                                   const std::string& prefix) const {
    std::vector<std::string> out;
    const auto* node = t.get(key);
    if (!node) return out;
    const auto* arr = node->as_array();
    if (!arr) fail(node->source(), prefix + std::string(key), "must be a list of strings");
    for (auto&& item : *arr) {
      const auto* s = item.as_string();
      if (!s || s->get().empty())
        fail(item.source(), prefix + std::string(key), "must be a list of non-empty strings");
      out.push_back(s->get());
    }
    return out;
  }

  void http_url(const toml::table& t, std::string_view key, const std::string& prefix,
                const std::string& value) const {
    if (value.empty()) return;
    // http:// only on loopback: a token endpoint elsewhere must be protected by TLS.
    const bool https = value.starts_with("https://");
    if (!https && !is_loopback_http(value))
      fail(t.get(key)->source(), prefix + std::string(key),
           "must be an https:// URL (http:// is allowed only for 127.0.0.1, [::1] or localhost)");
  }

  account::server_override parse_server(const toml::table& t, const std::string& prefix) const {
    only_keys(t, prefix, {"host", "port", "security"});
    account::server_override s;
    s.host = text(t, "host", prefix);
    s.port = static_cast<std::uint16_t>(integer(t, "port", prefix, 1, 65535, 0));
    const auto sec = text(t, "security", prefix);
    if (sec == "implicit" || sec == "tls") {
      s.security = protocol::transport_security::implicit_tls;
    } else if (sec == "starttls") {
      s.security = protocol::transport_security::starttls;
    } else if (!sec.empty()) {
      fail(t.get("security")->source(), prefix + "security",
           "must be \"implicit\" (TLS from the start) or \"starttls\"");
    }
    return s;
  }

  account parse_account(const std::string& account_name, const toml::table& t) const {
    const auto prefix = "accounts." + account_name + ".";
    only_keys(t, prefix, {"provider",       "client_id",
                          "client_secret",  "client_secret_command",
                          "username",       "protocols",
                          "flow",           "tenant",
                          "cloud",          "authority",
                          "issuer",         "authorization_endpoint",
                          "token_endpoint", "device_authorization_endpoint",
                          "scopes",         "redirect_port",
                          "redirect_uri",   "refresh_margin",
                          "key_command",    "cafile",
                          "timeout",        "imap",
                          "pop3",           "smtp"});
    account a;
    a.name = account_name;
    const auto provider = text(t, "provider", prefix, true);
    if (provider == "microsoft") {
      a.provider = provider_kind::microsoft;
    } else if (provider == "google") {
      a.provider = provider_kind::google;
    } else if (provider == "custom") {
      a.provider = provider_kind::custom;
    } else {
      fail(t.get("provider")->source(), prefix + "provider",
           "\"" + provider + "\" is not a provider; use \"microsoft\", \"google\" or \"custom\"");
    }
    a.client_id = text(t, "client_id", prefix, true);
    if (auto s = text(t, "client_secret", prefix); !s.empty())
      a.client_secret = secret(std::move(s));
    a.client_secret_command = text(t, "client_secret_command", prefix);
    if (a.client_secret && !a.client_secret_command.empty())
      fail(t.get("client_secret_command")->source(), prefix + "client_secret_command",
           "give client_secret or client_secret_command, not both");
    a.username = text(t, "username", prefix, true);

    const auto protocols = strings(t, "protocols", prefix);
    for (const auto& p : protocols) {
      if (p == "imap") {
        a.protocols.push_back(mail_protocol::imap);
      } else if (p == "pop3" || p == "pop") {
        a.protocols.push_back(mail_protocol::pop3);
      } else if (p == "smtp") {
        a.protocols.push_back(mail_protocol::smtp);
      } else {
        fail(t.get("protocols")->source(), prefix + "protocols",
             "\"" + p + "\" is not a protocol; use \"imap\", \"pop3\" or \"smtp\"");
      }
    }
    if (protocols.empty())
      a.protocols = {mail_protocol::imap, mail_protocol::pop3, mail_protocol::smtp};

    if (auto f = text(t, "flow", prefix); !f.empty()) {
      const auto flow = parse_flow(f);
      if (!flow)
        fail(t.get("flow")->source(), prefix + "flow",
             "\"" + f +
                 "\" is not a flow; use browser, paste, device, implicit or "
                 "client-credentials");
      a.flow = *flow;
    }

    if (auto v = text(t, "tenant", prefix); !v.empty()) a.tenant = v;
    if (auto v = text(t, "cloud", prefix); !v.empty()) {
      if (v != "global" && v != "usgov" && v != "china")
        fail(t.get("cloud")->source(), prefix + "cloud",
             "\"" + v + "\" is not a cloud; use \"global\", \"usgov\" or \"china\"");
      a.cloud = v;
    }
    a.authority = text(t, "authority", prefix);
    a.issuer = text(t, "issuer", prefix);
    a.authorization_endpoint = text(t, "authorization_endpoint", prefix);
    a.token_endpoint = text(t, "token_endpoint", prefix);
    a.device_authorization_endpoint = text(t, "device_authorization_endpoint", prefix);
    for (auto key : {"authority", "issuer", "authorization_endpoint", "token_endpoint",
                     "device_authorization_endpoint"})
      http_url(t, key, prefix, text(t, key, prefix));
    a.scopes = strings(t, "scopes", prefix);
    a.redirect_port = static_cast<std::uint16_t>(integer(t, "redirect_port", prefix, 0, 65535, 0));
    a.redirect_uri = text(t, "redirect_uri", prefix);
    if (!a.redirect_uri.empty() && !is_loopback_http(a.redirect_uri))
      fail(t.get("redirect_uri")->source(), prefix + "redirect_uri",
           "must be a loopback URL (http://127.0.0.1, http://[::1] or http://localhost, RFC 8252)");
    a.refresh_margin = std::chrono::seconds(integer(t, "refresh_margin", prefix, 0, 86400, 300));
    a.key_command = text(t, "key_command", prefix);
    a.cafile = text(t, "cafile", prefix);
    a.timeout = std::chrono::seconds(integer(t, "timeout", prefix, 1, 3600, 30));

    for (auto [key, p] :
         {std::pair{"imap", mail_protocol::imap}, std::pair{"pop3", mail_protocol::pop3},
          std::pair{"smtp", mail_protocol::smtp}}) {
      const auto* node = t.get(key);
      if (!node) continue;
      const auto* sub = node->as_table();
      if (!sub) fail(node->source(), prefix + key, "must be a table: [" + prefix + key + "]");
      a.servers[p] = parse_server(*sub, prefix + key + ".");
    }

    // Rules that involve several keys.
    if (a.provider == provider_kind::google && a.flow == flow_kind::device)
      fail(t.get("flow")->source(), prefix + "flow",
           "Google does not allow Gmail's scope in the device flow (it answers invalid_scope); "
           "use flow = \"browser\", or \"paste\" on a machine without a browser");
    if (a.app_only() && !a.client_secret && a.client_secret_command.empty())
      fail(t.source(), prefix + "client_secret",
           "flow = \"client-credentials\" (app-only access) needs client_secret or "
           "client_secret_command");
    if (a.provider == provider_kind::microsoft && a.app_only() &&
        (a.tenant == "common" || a.tenant == "organizations" || a.tenant == "consumers"))
      fail(t.get("tenant") ? t.get("tenant")->source() : t.source(), prefix + "tenant",
           "app-only access needs your tenant's ID or domain, not \"" + a.tenant + "\"");
    if (a.provider == provider_kind::custom) {
      if (a.issuer.empty() && a.token_endpoint.empty())
        fail(t.source(), prefix + "issuer",
             "a custom provider needs issuer (for OpenID discovery) or token_endpoint");
      if (a.scopes.empty())
        fail(t.source(), prefix + "scopes", "a custom provider needs the scopes to request");
      for (auto p : a.protocols)
        if (!a.servers.contains(p) || a.servers.at(p).host.empty())
          fail(t.source(),
               prefix + std::string(p == mail_protocol::imap   ? "imap"
                                    : p == mail_protocol::pop3 ? "pop3"
                                                               : "smtp"),
               "a custom provider needs the server: add host (and port, security) in this table");
    }
    return a;
  }

  config_file parse_file(const toml::table& root) const {
    only_keys(root, "", {"default", "accounts"});
    config_file out;
    out.path = origin_;
    out.default_account = text(root, "default", "");
    const auto* accounts_node = root.get("accounts");
    if (accounts_node) {
      const auto* accounts = accounts_node->as_table();
      if (!accounts) fail(accounts_node->source(), "accounts", "must be a table of accounts");
      for (auto&& [k, v] : *accounts) {
        const std::string account_name(k.str());
        // The name becomes a file name in the token store.
        const bool ok = !account_name.empty() && account_name.front() != '.' &&
                        std::all_of(account_name.begin(), account_name.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                 c == '_' || c == '-' || c == '@' || c == '+';
                        });
        if (!ok)
          fail(k.source(), "accounts." + account_name,
               "account names may use letters, digits and . _ - @ + (not starting with .)");
        const auto* t = v.as_table();
        if (!t) fail(v.source(), "accounts." + account_name, "must be a table");
        out.accounts.push_back(parse_account(account_name, *t));
      }
    }
    if (!out.default_account.empty() &&
        std::none_of(out.accounts.begin(), out.accounts.end(),
                     [&](const account& a) { return a.name == out.default_account; }))
      fail(root.get("default")->source(), "default",
           "names no account (\"" + out.default_account + "\")");
    return out;
  }

 private:
  std::filesystem::path origin_;
};

}  // namespace

result<const account*> config_file::find(const std::string& wanted) const {
  auto names = [&] {
    std::string list;
    for (const auto& a : accounts) list += (list.empty() ? "" : ", ") + a.name;
    return list.empty() ? std::string("none") : list;
  };
  std::string target = wanted.empty() ? default_account : wanted;
  if (target.empty()) {
    if (accounts.size() == 1) return &accounts.front();
    return make_failure(
        errc::unknown_account,
        accounts.empty() ? "no accounts in " + path.string() + "; add one (see docs/providers/)"
                         : "several accounts in " + path.string() +
                               ": name one, or set default = \"...\" (accounts: " + names() + ")");
  }
  for (const auto& a : accounts)
    if (a.name == target) return &a;
  return make_failure(errc::unknown_account, "no account \"" + target + "\" in " + path.string() +
                                                 " (accounts: " + names() + ")");
}

std::filesystem::path default_path() {
  if (const char* env = std::getenv("MAILOAUTH_CONFIG"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "mailoauth" / "config.toml";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : ".") / ".config" / "mailoauth" / "config.toml";
}

result<config_file> parse(std::string_view text, const std::filesystem::path& origin) {
  try {
    const auto root = toml::parse(text, origin.string());
    return checker(origin).parse_file(root);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << origin.string() << ":" << e.source().begin.line << ": " << e.description();
    return make_failure(errc::config_invalid, out.str());
  } catch (const config_error& e) {
    return make_failure(errc::config_invalid, e.message);
  }
}

result<config_file> load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_failure(errc::config_invalid,
                        "cannot read " + path.string() +
                            ": create it with an account (see docs/providers/), or point "
                            "--config or MAILOAUTH_CONFIG at your file");
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse(buf.str(), path);
}

result<std::optional<secret>> client_secret(const account& a) {
  if (a.client_secret) return std::optional<secret>(*a.client_secret);
  if (a.client_secret_command.empty()) return std::optional<secret>();
  auto s =
      run_secret_command(a.client_secret_command, "client_secret_command of account " + a.name);
  if (!s) return s.error();
  return std::optional<secret>(std::move(*s));
}

}  // namespace mailoauth::config
