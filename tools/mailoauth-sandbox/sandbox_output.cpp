#include "sandbox_output.hpp"

#include "output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mailoauth::cli {

void print_endpoints(sandbox::sandbox& sb) {
  const auto id = sb.identity_urls();
  fmt::print("Identity platform (Microsoft identity platform v2.0 endpoint shapes):\n");
  fmt::print("  authority     {}\n", id.authority);
  fmt::print("  discovery     {}\n", id.discovery);
  fmt::print("  authorize     {}\n", id.authorize);
  fmt::print("  token         {}\n", id.token);
  fmt::print("  devicecode    {}\n", id.devicecode);
  fmt::print("  device login  {}\n", id.devicelogin);
  fmt::print("  keys (JWKS)   {}\n", id.jwks);
  fmt::print("Mail servers (XOAUTH2 and OAUTHBEARER with a sandbox token only):\n");
  const auto ports = sb.ports();
  for (const auto& [l, what] :
       {std::pair{sandbox::mail_listener::imaps, "IMAP, implicit TLS"},
        std::pair{sandbox::mail_listener::imap, "IMAP, STARTTLS"},
        std::pair{sandbox::mail_listener::pop3s, "POP3, implicit TLS"},
        std::pair{sandbox::mail_listener::pop3, "POP3, STARTTLS"},
        std::pair{sandbox::mail_listener::smtps, "SMTP, implicit TLS"},
        std::pair{sandbox::mail_listener::smtp, "SMTP, STARTTLS (Office 365's submission)"}}) {
    const auto url = fmt::format("{}://127.0.0.1:{}", sandbox::scheme(l), ports.get(l));
    fmt::print("  {:<28}{}\n", url, what);
  }
  fmt::print("CA certificate: {}\n", sb.keys().ca_file.string());
  fmt::print(
      "  (trust it in mail programs: msmtp tls_trust_file, mbsync CertificateFile, curl "
      "--cacert)\n");
}

const sandbox::app_registration* public_app(const sandbox::directory& dir) {
  for (const auto& app : dir.applications)
    if (!app.confidential) return &app;
  return nullptr;
}

std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += separator;
    out += i;
  }
  return out;
}

void print_directory(sandbox::sandbox& sb, bool with_permissions) {
  const auto& dir = sb.identity().dir();
  const auto file = (sb.options().state_dir / "identity.toml").string();
  fmt::print("Tenant: {} ({}, id {})\n", dir.tenant.domain, dir.tenant.display_name, dir.tenant.id);
  fmt::print("Users (passwords in {}, mode 0600):\n", file);
  for (const auto& u : dir.users)
    fmt::print("  {:<36}{}\n", printable(u.username), printable(u.display_name));
  fmt::print("App registrations (client secrets, if any, in the same file):\n");
  for (const auto& app : dir.applications) {
    fmt::print("  {} ({})\n", printable(app.display_name),
               app.confidential ? "confidential client" : "public client");
    fmt::print("    client id                {}\n", app.client_id);
    if (!app.redirect_uris.empty())
      fmt::print("    redirect URIs            {}\n", printable(joined(app.redirect_uris)));
    if (!app.delegated_permissions.empty())
      fmt::print("    delegated permissions    {}\n", joined(app.delegated_permissions));
    if (!app.application_permissions.empty())
      fmt::print("    application permissions  {}{}\n", joined(app.application_permissions),
                 app.admin_consent ? " (admin consent granted)" : "");
    if (with_permissions) {
      fmt::print("    implicit grant           {}\n",
                 app.implicit_access_tokens ? "access tokens enabled" : "disabled");
    }
  }
}

result<void> write_private_file(const std::filesystem::path& file, std::string_view text) {
  const auto tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const auto failed = [&](const char* what) {
    const auto why = std::string(std::strerror(errno));
    return make_failure(errc::store_failed,
                        std::string("cannot ") + what + " " + file.string() + ": " + why);
  };
  if (fd < 0) return failed("write");
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const auto f = failed("write");
      ::close(fd);
      ::unlink(tmp.c_str());
      return f;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), file.c_str()) != 0) {
    const auto f = failed("write");
    ::unlink(tmp.c_str());
    return f;
  }
  return {};
}

}  // namespace mailoauth::cli
