// Accounts, from config.toml: which identity platform, which client, which user, which
// protocols, and how to sign in.
#pragma once

#include <mailoauth/protocol.hpp>
#include <mailoauth/result.hpp>
#include <mailoauth/secret.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mailoauth::config {

enum class provider_kind { microsoft, google, custom };
enum class flow_kind { browser, paste, device, implicit, client_credentials };

std::string_view name(provider_kind p) noexcept;
std::string_view name(flow_kind f) noexcept;
std::optional<flow_kind> parse_flow(std::string_view text) noexcept;

/// Where one protocol's server is.
struct server {
  std::string host;
  std::uint16_t port = 0;
  protocol::transport_security security = protocol::transport_security::implicit_tls;
};

struct account {
  std::string name;
  provider_kind provider = provider_kind::microsoft;
  std::string client_id;
  std::optional<secret> client_secret;
  std::string client_secret_command;
  std::string username;
  std::vector<protocol::mail_protocol> protocols;
  flow_kind flow = flow_kind::browser;

  // microsoft
  std::string tenant = "common";  // common, organizations, consumers, a GUID or a domain
  std::string cloud = "global";   // global, usgov, china
  std::string authority;          // overrides the cloud's login host (sandbox, tests)

  // custom (and overrides for the others)
  std::string issuer;  // OpenID discovery
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string device_authorization_endpoint;
  std::vector<std::string> scopes;

  /// Per-protocol overrides of the provider's hosts and ports; unset fields keep the
  /// provider's values.
  struct server_override {
    std::string host;
    std::uint16_t port = 0;
    std::optional<protocol::transport_security> security;
  };
  std::map<protocol::mail_protocol, server_override> servers;

  std::uint16_t redirect_port = 0;  // 0: a free port
  std::string redirect_uri;         // overrides the provider's loopback redirect
  std::chrono::seconds refresh_margin{300};
  std::string key_command;  // encryption at rest: prints the key material
  std::string cafile;       // extra CA bundle for identity and mail servers (tests, sandbox)
  std::chrono::seconds timeout{30};

  [[nodiscard]] bool uses(protocol::mail_protocol p) const;
  [[nodiscard]] bool app_only() const noexcept { return flow == flow_kind::client_credentials; }
};

struct config_file {
  std::filesystem::path path;
  std::string default_account;
  std::vector<account> accounts;

  /// The named account; with an empty name, the default one or the only one.
  [[nodiscard]] result<const account*> find(const std::string& name) const;
};

/// $MAILOAUTH_CONFIG, else $XDG_CONFIG_HOME/mailoauth/config.toml, else
/// ~/.config/mailoauth/config.toml.
std::filesystem::path default_path();

/// Reads and checks the file. Every error names the file, the line and the key, and says what
/// is allowed there. A missing file is an error that says where to create it.
result<config_file> load(const std::filesystem::path& path);

/// Parses TOML text (`origin` names it in errors).
result<config_file> parse(std::string_view text, const std::filesystem::path& origin);

/// Runs client_secret_command when there is no client_secret; empty when neither is set.
result<std::optional<secret>> client_secret(const account& a);

}  // namespace mailoauth::config
