#include "sandbox/identity/exchange.hpp"

#include <spdlog/spdlog.h>

namespace mailoauth::sandbox::detail {
namespace {

std::optional<std::string> header_cookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    auto part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name)
      return std::string(part.substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace

exchange::exchange(platform_state& state, const http_in& request)
    : s(state), in(request), ctx(state.context(request)) {
  const auto q = in.target.find('?');
  path = in.target.substr(0, q);
  query = q == std::string::npos ? std::string() : in.target.substr(q + 1);
}

std::optional<form_fields> exchange::form() const {
  if (in.method == "GET") return parse_form(query);
  const auto type = to_lower(in.content_type);
  if (!type.empty() && !type.starts_with("application/x-www-form-urlencoded"))
    return form_fields{};  // nothing readable: reported as the first missing parameter
  return parse_form(in.body);
}

http_out exchange::json_error(const aad_error& e) const {
  spdlog::debug("identity: {} {} -> {} AADSTS{}", in.method, path, e.error, e.code);
  auto out = json_out(e.http_status, error_json(e, ctx));
  if (e.http_status == 401) out.headers.emplace_back("WWW-Authenticate", "Basic");
  return out;
}

http_out exchange::error_page_out(const aad_error& e) const {
  spdlog::debug("identity: {} {} -> error page AADSTS{}", in.method, path, e.code);
  return page_out(400, error_page(e, ctx));
}

const directory_user* exchange::session_user() const {
  const auto cookie = header_cookie(in.cookie, session_cookie);
  if (!cookie) return nullptr;
  const auto it = s.sessions.find(digest(*cookie));
  if (it == s.sessions.end() || it->second.expires <= s.now()) return nullptr;
  return s.dir().find_user(it->second.username);
}

http_out json_out(unsigned status, std::string body) {
  http_out o;
  o.status = status;
  o.content_type = "application/json; charset=utf-8";
  o.body = std::move(body);
  o.headers.emplace_back("Cache-Control", "no-store, no-cache");
  o.headers.emplace_back("Pragma", "no-cache");
  return o;
}

http_out page_out(unsigned status, page p) {
  http_out o;
  o.status = status;
  o.content_type = "text/html; charset=utf-8";
  o.body = std::move(p.html);
  o.headers.emplace_back("Cache-Control", "no-store, no-cache");
  o.headers.emplace_back("Content-Security-Policy", std::move(p.content_security_policy));
  o.headers.emplace_back("X-Frame-Options", "DENY");
  return o;
}

const std::string* field(const form_fields& f, std::string_view key) {
  const auto it = f.find(std::string(key));
  return it == f.end() ? nullptr : &it->second;
}

std::string value(const form_fields& f, std::string_view key) {
  const auto* v = field(f, key);
  return v ? *v : std::string();
}

std::string csp_source(const std::string& uri) {
  const auto colon = uri.find("://");
  if (colon == std::string::npos) {
    const auto c = uri.find(':');
    return c == std::string::npos ? std::string() : uri.substr(0, c + 1);
  }
  const auto end = uri.find_first_of("/?#", colon + 3);
  auto origin = uri.substr(0, end);
  if (origin.find_first_of(" ;,'\"") != std::string::npos) return {};
  const auto host_start = colon + 3;
  const auto port = origin.rfind(':');
  if (port != std::string::npos && port > host_start && origin.find(']', port) == std::string::npos)
    origin.resize(port);
  return origin + ":*";
}

std::vector<permission_line> describe(const std::set<std::string>& outlook,
                                      const std::set<std::string>& oidc) {
  std::vector<permission_line> out;
  for (const auto& s : oidc) out.push_back({s, permission_description(s)});
  for (const auto& s : outlook) out.push_back({s, permission_description(s)});
  return out;
}

std::string new_flow_id() {
  return random_token(32);
}

flow_context* find_flow(platform_state& s, const form_fields& f) {
  const auto* id = field(f, "ctx");
  if (!id) return nullptr;
  const auto it = s.flows.find(digest(*id));
  if (it == s.flows.end() || it->second.expires <= s.now()) return nullptr;
  return &it->second;
}

std::string app_name(const platform_state& s, const flow_context& flow) {
  const std::string client =
      flow.device ? s.devices.at(flow.device_key).client_id : flow.req.client_id;
  const auto* app = s.dir().find_application(client);
  return app ? app->display_name : client;
}

aad_error flow_expired() {
  return custom_error(400, "invalid_request", 50089,
                      "Flow token expired - Authentication Failed. Have the user try signing-in "
                      "again with username -password.");
}

aad_error temporarily_unavailable() {
  return custom_error(503, "temporarily_unavailable", 50087,
                      "The service is temporarily unavailable.");
}

aad_error token_issuing_failed() {
  return custom_error(500, "server_error", 50000, "There was an error issuing a token.");
}

}  // namespace mailoauth::sandbox::detail
