// The device authorization grant (RFC 8628): /devicecode hands out a device code and a user
// code, the user enters the code at /devicelogin (signin_pages.cpp) or the sandbox approves it
// on the user's behalf (authority::approve_device_code), and the app polls /token, no faster
// than the interval.
#include "sandbox/identity/endpoints.hpp"
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

namespace mailoauth::sandbox::detail {

http_out devicecode_endpoint(exchange& x) {
  auto& s = x.s;
  if (x.in.method != "POST") return x.json_error(post_only(x.in.method));
  const auto f = x.form();
  if (!f) return x.json_error(malformed_request("The request body is malformed."));
  auto client = authenticate_client(x, *f);
  if (auto* e = std::get_if<aad_error>(&client)) return x.json_error(*e);
  const auto& app = *std::get<const app_registration*>(client);
  auto scopes = parse_delegated_scopes(value(*f, "scope"), app, s.dir().tenant.domain);
  if (auto* e = std::get_if<aad_error>(&scopes)) return x.json_error(*e);
  if (s.full()) return x.json_error(temporarily_unavailable());

  const auto device_code = "DAQABAAEAAAD" + random_token(96);
  std::string user_code;
  do user_code = random_user_code(9);
  while (s.user_codes.contains(user_code));
  device_record d;
  d.client_id = app.client_id;
  d.user_code = user_code;
  d.scopes = std::get<scope_set>(std::move(scopes));
  d.expires = s.now() + s.o.device_code_lifetime;
  d.interval = s.o.device_poll_interval;
  d.last_poll = s.now();
  const auto key = digest(device_code);
  s.devices[key] = std::move(d);
  s.user_codes[user_code] = key;

  const auto uri = s.origin + "/devicelogin";
  boost::json::object r;
  r["user_code"] = user_code;
  r["device_code"] = device_code;
  r["verification_uri"] = uri;
  r["expires_in"] = s.o.device_code_lifetime.count();
  r["interval"] = s.o.device_poll_interval.count();
  r["message"] = "To sign in, use a web browser to open the page " + uri + " and enter the code " +
                 user_code + " to authenticate.";
  spdlog::debug("identity: POST {} -> 200 device code for {}", x.path, app.client_id);
  return json_out(200, boost::json::serialize(r));
}

std::string normalize_user_code(std::string_view typed) {
  std::string out;
  for (const char c : typed) {
    // The separators a user types or pastes: dashes, spaces, tabs, a line break.
    if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
      continue;
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

device_record* find_user_code(platform_state& s, std::string_view typed, std::string* key) {
  const auto code = normalize_user_code(typed);
  if (code.empty()) return nullptr;
  const auto it = s.user_codes.find(code);
  if (it == s.user_codes.end()) return nullptr;
  if (key) *key = it->second;
  return &s.devices.at(it->second);
}

void approve_device(platform_state& s, device_record& d, const directory_user& user) {
  s.record_consent(d.client_id, user.object_id, d.scopes);
  d.status = device_status::approved;
  d.g = {d.client_id, user.username, user.object_id, d.scopes.outlook, d.scopes.oidc};
}

token_result poll_device_code(platform_state& s, const app_registration& app,
                              const form_fields& f) {
  const auto* code = field(f, "device_code");
  if (!code || code->empty()) return missing_parameter("device_code");
  const auto it = s.devices.find(digest(*code));
  if (it == s.devices.end()) return bad_verification_code();
  auto& d = it->second;
  if (!iequals(d.client_id, app.client_id)) return bad_verification_code();
  const auto now = s.now();
  if (d.status == device_status::redeemed) return code_redeemed();
  if (d.expires <= now) return device_code_expired();
  // RFC 8628 section 3.5: polling faster than the interval earns slow_down and 5 more
  // seconds for this and every later poll. Half a second of slack for the network.
  const bool early = now < d.last_poll + d.interval - std::chrono::milliseconds(500);
  d.last_poll = now;
  if (early) {
    d.interval += std::chrono::seconds(5);
    return slow_down(d.interval.count());
  }
  switch (d.status) {
    case device_status::pending:
      return authorization_pending();
    case device_status::declined:
      return device_code_declined();
    case device_status::redeemed:
      return code_redeemed();
    case device_status::approved:
      break;
  }
  d.status = device_status::redeemed;
  spdlog::info("identity: device sign-in of {} redeemed by {}", d.g.username, app.client_id);
  return delegated_tokens(s, d.g, new_guid(), {});
}

}  // namespace mailoauth::sandbox::detail
