#include "sandbox/sandbox.hpp"

#include <cstdlib>
#include <sstream>

namespace mailoauth::sandbox {
namespace {

// TOML basic strings: quotes and backslashes escaped (paths may hold either).
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::filesystem::path default_state_dir() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/')
    return std::filesystem::path(state) / "mailoauth" / "sandbox";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : ".") / ".local" / "state" / "mailoauth" /
         "sandbox";
}

sandbox::sandbox(sandbox_options options) : options_(std::move(options)) {}

sandbox::~sandbox() {
  stop();
}

result<void> sandbox::start(boost::asio::io_context& io) {
  auto keys = load_or_create_pki(options_.state_dir);
  if (!keys) return keys.error();
  keys_ = std::move(*keys);
  auto dir = load_or_create_directory(options_.state_dir);
  if (!dir) return dir.error();

  identity_options id;
  id.dir = *dir;
  id.keys = *keys_;
  id.access_token_lifetime = options_.access_token_lifetime;
  id.device_poll_interval = options_.device_poll_interval;
  identity_ = std::make_unique<identity_server>(std::move(id));
  auto port = identity_->start(io, options_.port_base);
  if (!port) {
    identity_.reset();
    return port.error();
  }

  auto mail = make_mail_server_options(*keys_, options_.state_dir);
  mail.domains = {dir->tenant.domain};
  mail.strict = options_.strict;
  mail.openid_configuration = identity_->endpoints().discovery;
  mail.on_transcript = options_.on_transcript;
  if (options_.port_base != 0) {
    const auto base = options_.port_base;
    std::uint16_t offset = 1;
    for (const auto l : {mail_listener::imaps, mail_listener::imap, mail_listener::pop3s,
                         mail_listener::pop3, mail_listener::smtps, mail_listener::smtp})
      mail.ports.set(l, static_cast<std::uint16_t>(base + offset++));
  }
  mail_ = std::make_unique<mail_servers>(std::move(mail));
  if (auto ok = mail_->start(io); !ok) {
    identity_->stop();
    return ok.error();
  }
  return {};
}

void sandbox::stop() {
  if (mail_) mail_->stop();
  if (identity_) identity_->stop();
}

const pki& sandbox::keys() const {
  return *keys_;
}
identity_endpoints sandbox::identity_urls() const {
  return identity_->endpoints();
}
mail_ports sandbox::ports() const {
  return mail_->ports();
}
identity_server& sandbox::identity() {
  return *identity_;
}
mail_servers& sandbox::mail() {
  return *mail_;
}

std::string sandbox::config_account(const std::string& name) const {
  const auto& dir = identity_->dir();
  std::string client_id;
  for (const auto& app : dir.applications) {
    if (!app.confidential) {
      client_id = app.client_id;
      break;
    }
  }
  const std::string user = dir.users.empty() ? std::string() : dir.users.front().username;
  const auto p = mail_->ports();
  std::ostringstream out;
  out << "[accounts." << name << "]\n"
      << "provider = \"microsoft\"\n"
      << "authority = " << quoted(identity_->endpoints().authority) << "\n"
      << "tenant = " << quoted(dir.tenant.domain) << "\n"
      << "client_id = " << quoted(client_id) << "\n"
      << "username = " << quoted(user) << "\n"
      << "flow = \"device\"\n"
      << "cafile = " << quoted(keys_->ca_file.string()) << "\n\n"
      << "[accounts." << name << ".imap]\nhost = \"127.0.0.1\"\nport = " << p.imaps
      << "\nsecurity = \"implicit\"\n\n"
      << "[accounts." << name << ".pop3]\nhost = \"127.0.0.1\"\nport = " << p.pop3s
      << "\nsecurity = \"implicit\"\n\n"
      << "[accounts." << name << ".smtp]\nhost = \"127.0.0.1\"\nport = " << p.smtp
      << "\nsecurity = \"starttls\"\n";
  return out.str();
}

}  // namespace mailoauth::sandbox
