// The pages a user goes through in the browser: /devicelogin (enter the device flow's code),
// /login (username and password; a browser session so that the next sign-in skips it) and
// /consent (accept or cancel). Each page carries its flow in a hidden, single-use `ctx`.
#include "sandbox/identity/endpoints.hpp"
#include "sandbox/identity/grants.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace mailoauth::sandbox::detail {
namespace {

http_out device_consent(const exchange& x, const flow_context& flow, const std::string& id) {
  const auto& s = x.s;
  const auto& d = s.devices.at(flow.device_key);
  const auto* user = s.dir().find_user(flow.username);
  spdlog::debug("identity: {} {} -> device consent page", x.in.method, x.path);
  return page_out(200, consent_page(id, app_name(s, flow), s.dir().tenant.display_name,
                                    user ? user->username : flow.username,
                                    describe(d.scopes.outlook, d.scopes.oidc), true));
}

}  // namespace

http_out login_endpoint(exchange& x) {
  auto& s = x.s;
  const auto f = x.form();
  if (!f) return x.error_page_out(malformed_request("The form is malformed."));
  auto* flow = find_flow(s, *f);
  if (!flow) return x.error_page_out(flow_expired());
  const std::string id = value(*f, "ctx");
  if (flow->device && !s.devices.contains(flow->device_key))
    return x.error_page_out(flow_expired());
  const auto login_name = value(*f, "login");
  const auto* user = s.dir().find_user(login_name);
  const auto retry = [&](const std::string& why) {
    spdlog::debug("identity: POST /login -> sign-in page again ({})", why);
    return page_out(
        200, signin_page(id, app_name(s, *flow), s.dir().tenant.display_name, login_name, why,
                         flow->device ? std::string() : csp_source(flow->req.redirect_uri)));
  };
  if (++flow->failed_passwords > max_password_attempts) {
    s.flows.erase(digest(id));
    return x.error_page_out(custom_error(400, "invalid_grant", 50053,
                                         "Your account is locked because you've tried to sign in "
                                         "too many times with an incorrect user ID or password."));
  }
  if (!user) return retry("We couldn't find an account with that username. (AADSTS50034)");
  if (!same_secret(value(*f, "passwd"), user->password.reveal()))
    return retry("Your account or password is incorrect. (AADSTS50126)");
  flow->failed_passwords = 0;
  flow->signed_in = true;
  flow->username = user->username;

  // The browser session, so that the next sign-in in this browser skips the password.
  const auto sid = random_token(32);
  s.sessions[digest(sid)] = {user->username, s.now() + session_lifetime};
  const std::string cookie =
      std::string(session_cookie) + "=" + sid + "; Path=/; Secure; HttpOnly; SameSite=Lax";
  spdlog::info("identity: {} signed in", user->username);
  if (!flow->device) {
    auto moved = std::move(*flow);
    return after_signin(x, moved, id, cookie);
  }
  auto out = device_consent(x, *flow, id);
  out.headers.emplace_back("Set-Cookie", cookie);
  return out;
}

http_out consent_endpoint(exchange& x) {
  auto& s = x.s;
  const auto f = x.form();
  if (!f) return x.error_page_out(malformed_request("The form is malformed."));
  auto* flow = find_flow(s, *f);
  if (!flow || !flow->signed_in) return x.error_page_out(flow_expired());
  const auto key = digest(value(*f, "ctx"));
  const bool accept = value(*f, "decision") == "accept";
  const auto* user = s.dir().find_user(flow->username);
  if (!user) return x.error_page_out(flow_expired());

  if (flow->device) {
    const auto it = s.devices.find(flow->device_key);
    const auto name = app_name(s, *flow);
    if (it == s.devices.end() || it->second.status != device_status::pending ||
        it->second.expires <= s.now()) {
      s.flows.erase(key);
      return x.error_page_out(custom_error(400, "expired_token", 70019,
                                           "Verification code expired. Have the user retry the "
                                           "sign-in."));
    }
    auto& d = it->second;
    if (accept) {
      approve_device(s, d, *user);
      spdlog::info("identity: {} approved a device sign-in for {}", user->username, d.client_id);
    } else {
      d.status = device_status::declined;
      spdlog::info("identity: {} declined a device sign-in for {}", user->username, d.client_id);
    }
    s.flows.erase(key);
    return page_out(200, accept ? device_done_page(name) : device_declined_page(name));
  }

  auto flow_copy = std::move(*flow);
  s.flows.erase(key);
  if (!accept) return redirect_error(x, flow_copy.req, consent_declined());
  s.record_consent(flow_copy.req.client_id, user->object_id, flow_copy.req.scopes);
  return complete_authorization(x, flow_copy);
}

http_out devicelogin_endpoint(exchange& x) {
  auto& s = x.s;
  if (x.in.method == "GET") {
    spdlog::debug("identity: GET /devicelogin -> code page");
    return page_out(200, devicelogin_page({}));
  }
  if (x.in.method != "POST") return x.error_page_out(post_only(x.in.method));
  const auto f = x.form();
  if (!f) return x.error_page_out(malformed_request("The form is malformed."));
  std::string key;
  auto* d = find_user_code(s, value(*f, "otc"), &key);
  const auto again = [&](const std::string& why) {
    spdlog::debug("identity: POST /devicelogin -> code page again");
    return page_out(200, devicelogin_page(why));
  };
  if (!d) return again("That code didn't work. Check the code and try again. (AADSTS70018)");
  if (d->expires <= s.now())
    return again("That code has expired. Go back to the app and get a new one. (AADSTS70019)");
  if (d->status != device_status::pending)
    return again("That code has already been used. Go back to the app and get a new one.");

  flow_context flow;
  flow.device = true;
  flow.device_key = key;
  flow.expires = std::min(d->expires, s.now() + flow_lifetime);
  const auto id = new_flow_id();
  if (const auto* user = x.session_user()) {
    flow.signed_in = true;
    flow.username = user->username;
    auto out = device_consent(x, flow, id);
    s.flows[digest(id)] = std::move(flow);
    return out;
  }
  auto page = signin_page(id, app_name(s, flow), s.dir().tenant.display_name, {}, {});
  s.flows[digest(id)] = std::move(flow);
  spdlog::debug("identity: POST /devicelogin -> sign-in page");
  return page_out(200, std::move(page));
}

}  // namespace mailoauth::sandbox::detail
