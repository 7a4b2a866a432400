// What each provider needs: endpoints, scopes and mail servers (shared/notes/protocol-facts.md,
// and the table of scope strings in Microsoft's guide).
#include <mailoauth/oauth.hpp>

#include "net/http_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mailoauth::oauth {
namespace {

using config::provider_kind;
using protocol::mail_protocol;
using protocol::transport_security;

struct cloud_info {
  std::string_view login;     // identity platform host
  std::string_view resource;  // Exchange Online resource of the scopes
  std::string_view mail;      // IMAP/POP host
  std::string_view smtp;      // SMTP submission host
};

cloud_info cloud(const config::account& a) {
  if (a.cloud == "usgov")
    return {"https://login.microsoftonline.us", "https://outlook.office365.us",
            "outlook.office365.us", "smtp.office365.us"};
  if (a.cloud == "china")
    return {"https://login.partner.microsoftonline.cn", "https://partner.outlook.cn",
            "partner.outlook.cn", "smtp.partner.outlook.cn"};
  return {"https://login.microsoftonline.com", "https://outlook.office365.com",
          "outlook.office365.com",
          // Outlook.com (consumer) accounts submit through smtp-mail.outlook.com.
          a.tenant == "consumers" ? "smtp-mail.outlook.com" : "smtp.office365.com"};
}

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::vector<std::string> scopes_for(const config::account& a) {
  if (!a.scopes.empty() && a.provider == provider_kind::custom) return a.scopes;
  std::vector<std::string> out;
  switch (a.provider) {
    case provider_kind::microsoft: {
      const auto resource = a.authority.empty() ? std::string(cloud(a).resource)
                                                : std::string("https://outlook.office365.com");
      if (a.app_only()) {
        // App-only access asks for the resource's application permissions as a whole.
        out.push_back(resource + "/.default");
        break;
      }
      if (a.uses(mail_protocol::imap)) out.push_back(resource + "/IMAP.AccessAsUser.All");
      if (a.uses(mail_protocol::pop3)) out.push_back(resource + "/POP.AccessAsUser.All");
      if (a.uses(mail_protocol::smtp)) out.push_back(resource + "/SMTP.Send");
      out.push_back("offline_access");  // without it no refresh token comes back
      break;
    }
    case provider_kind::google:
      out.push_back("https://mail.google.com/");
      break;
    case provider_kind::custom:
      break;
  }
  // Extra scopes configured on a known provider (e.g. openid, profile) are appended.
  if (a.provider != provider_kind::custom)
    for (const auto& s : a.scopes)
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return out;
}

result<config::server> server_for(const config::account& a, mail_protocol p) {
  config::server s;
  switch (a.provider) {
    case provider_kind::microsoft: {
      const auto c = cloud(a);
      if (p == mail_protocol::imap)
        s = {std::string(c.mail), 993, transport_security::implicit_tls};
      if (p == mail_protocol::pop3)
        s = {std::string(c.mail), 995, transport_security::implicit_tls};
      if (p == mail_protocol::smtp) s = {std::string(c.smtp), 587, transport_security::starttls};
      break;
    }
    case provider_kind::google:
      if (p == mail_protocol::imap) s = {"imap.gmail.com", 993, transport_security::implicit_tls};
      if (p == mail_protocol::pop3) s = {"pop.gmail.com", 995, transport_security::implicit_tls};
      if (p == mail_protocol::smtp) s = {"smtp.gmail.com", 465, transport_security::implicit_tls};
      break;
    case provider_kind::custom:
      break;
  }
  if (const auto it = a.servers.find(p); it != a.servers.end()) {
    const auto& o = it->second;
    if (!o.host.empty()) s.host = o.host;
    const bool security_changed = o.security && *o.security != s.security;
    if (o.security) s.security = *o.security;
    if (o.port != 0) {
      s.port = o.port;
    } else if (s.port == 0 || security_changed) {
      // A security mode without a port: the protocol's standard port for that mode.
      const bool tls = s.security == transport_security::implicit_tls;
      s.port = p == mail_protocol::imap   ? (tls ? 993 : 143)
               : p == mail_protocol::pop3 ? (tls ? 995 : 110)
                                          : (tls ? 465 : 587);
    }
  }
  if (s.host.empty())
    return make_failure(errc::config_invalid, "account " + a.name + " has no " +
                                                  std::string(protocol::name(p)) +
                                                  " server: add [accounts." + a.name + "." +
                                                  (p == mail_protocol::imap   ? "imap"
                                                   : p == mail_protocol::pop3 ? "pop3"
                                                                              : "smtp") +
                                                  "] with host and port");
  return s;
}

result<endpoints> resolve_endpoints(const config::account& a) {
  endpoints e;
  switch (a.provider) {
    case provider_kind::microsoft: {
      // v2.0 endpoints: {authority}/{tenant}/oauth2/v2.0/{authorize,token,devicecode}.
      const auto base =
          trim_slash(a.authority.empty() ? std::string(cloud(a).login) : a.authority) + "/" +
          a.tenant;
      e.authorization = base + "/oauth2/v2.0/authorize";
      e.token = base + "/oauth2/v2.0/token";
      e.device_authorization = base + "/oauth2/v2.0/devicecode";
      e.issuer = base + "/v2.0";
      break;
    }
    case provider_kind::google:
      e.authorization = "https://accounts.google.com/o/oauth2/v2/auth";
      e.token = "https://oauth2.googleapis.com/token";
      e.device_authorization = "https://oauth2.googleapis.com/device/code";
      e.issuer = "https://accounts.google.com";
      break;
    case provider_kind::custom:
      if (!a.issuer.empty()) {
        // OpenID Connect Discovery 1.0 section 4.
        net::http_request req;
        req.method = "GET";
        req.url = trim_slash(a.issuer) + "/.well-known/openid-configuration";
        req.timeout = a.timeout;
        req.cafile = a.cafile;
        auto res = net::perform(req);
        if (!res) return res.error();
        if (res->status != 200)
          return make_failure(errc::http_failed,
                              "OpenID discovery at " + req.url + " answered HTTP " +
                                  std::to_string(res->status) + "; check issuer in the config");
        boost::system::error_code ec;
        const auto doc = boost::json::parse(res->body, ec);
        if (ec || !doc.is_object())
          return make_failure(errc::malformed_response,
                              "OpenID discovery at " + req.url + " did not return a JSON object");
        const auto& o = doc.get_object();
        auto get = [&](const char* key) -> std::string {
          const auto* v = o.if_contains(key);
          return v && v->is_string() ? std::string(v->get_string()) : std::string();
        };
        e.issuer = get("issuer");
        e.authorization = get("authorization_endpoint");
        e.token = get("token_endpoint");
        e.device_authorization = get("device_authorization_endpoint");
        if (const auto* types = o.if_contains("response_types_supported");
            types && types->is_array())
          for (const auto& t : types->get_array())
            if (t.is_string()) e.response_types.emplace_back(t.get_string());
        // RFC 8414 section 3.3: the document must be about the issuer we asked.
        if (trim_slash(e.issuer) != trim_slash(a.issuer))
          return make_failure(errc::malformed_response, "OpenID discovery at " + req.url +
                                                            " names another issuer (" + e.issuer +
                                                            "); check issuer in the config");
      }
      break;
  }
  // Explicit endpoints override computed or discovered ones.
  if (!a.authorization_endpoint.empty()) e.authorization = a.authorization_endpoint;
  if (!a.token_endpoint.empty()) e.token = a.token_endpoint;
  if (!a.device_authorization_endpoint.empty())
    e.device_authorization = a.device_authorization_endpoint;
  for (const auto* url : {&e.authorization, &e.token, &e.device_authorization})
    if (!url->empty() && !net::url_allowed(*url))
      return make_failure(
          errc::config_invalid,
          "endpoint " + *url + " is not https:// (http:// is allowed only on loopback)");
  if (e.token.empty())
    return make_failure(errc::config_invalid, "account " + a.name + " has no token endpoint");
  return e;
}

}  // namespace mailoauth::oauth
