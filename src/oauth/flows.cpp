// The sign-in flows Microsoft's guide lists (authorization code, implicit grant, device code) and
// the ones users need beyond it (pasted redirect, client credentials), plus refresh.
#include <mailoauth/oauth.hpp>

#include "net/http_client.hpp"
#include "net/loopback_listener.hpp"
#include "oauth/random.hpp"
#include "oauth/token_response.hpp"
#include "store/wiping_resource.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <map>
#include <thread>

namespace mailoauth::oauth {
namespace {

using config::flow_kind;
using config::provider_kind;
// A redirect's parameters hold the authorization code or the tokens: wiped on every path.
using params = mailoauth::detail::secret_fields;

std::string join(const std::vector<std::string>& items, char sep = ' ') {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : std::string(1, sep)) + i;
  return out;
}

bool has_scope(const std::vector<std::string>& scopes, std::string_view s) {
  return std::find(scopes.begin(), scopes.end(), s) != scopes.end();
}

net::http_request token_request(const config::account& a, const std::string& url) {
  net::http_request r;
  r.method = "POST";
  r.url = url;
  r.timeout = a.timeout;
  r.cafile = a.cafile;
  return r;
}

// Adds client_secret for confidential clients (client_secret_post, which Microsoft, Google and
// most servers accept).
result<void> add_client_auth(const config::account& a, net::http_request& r) {
  r.form.emplace_back("client_id", a.client_id);
  auto s = config::client_secret(a);
  if (!s) return s.error();
  if (*s) r.form.emplace_back("client_secret", std::move(**s));
  return {};
}

// Query or fragment parameters, decoded ('+' is a space in form encoding).
result<params> decode_params(std::string_view text) {
  params out;
  if (text.empty()) return out;
  try {
    boost::urls::params_view view(text, boost::urls::encoding_opts(true));
    // Moved, not copied: the decoded code or token must not stay behind in `p`.
    for (auto p : view) out.insert_or_assign(std::move(p.key), std::move(p.value));
  } catch (const std::exception&) {
    return make_failure(errc::malformed_response, "the redirect's parameters are malformed");
  }
  return out;
}

// The redirect URI: the configured one (with the listener's port when it names none), else
// the provider's loopback form. Microsoft registers "http://localhost" (any port is accepted
// for loopback, RFC 8252 section 7.3); Google recommends 127.0.0.1; oidc-provider compares the
// path exactly, so custom providers get "http://127.0.0.1:PORT/".
std::string redirect_uri(const config::account& a, std::optional<std::uint16_t> port) {
  std::string base = a.redirect_uri;
  if (base.empty()) {
    switch (a.provider) {
      case provider_kind::microsoft:
        base = "http://localhost";
        break;
      case provider_kind::google:
        base = "http://127.0.0.1";
        break;
      case provider_kind::custom:
        base = "http://127.0.0.1/";
        break;
    }
  }
  if (!port) return base;
  auto u = boost::urls::parse_uri(base);
  if (!u || u->has_port()) return base;
  boost::urls::url with_port(*u);
  with_port.set_port_number(*port);
  return std::string(with_port.buffer());
}

bool names_localhost(const std::string& uri) {
  return uri.starts_with("http://localhost");
}

std::string listener_path(const std::string& uri) {
  auto u = boost::urls::parse_uri(uri);
  if (!u || u->path().empty()) return "/";
  return std::string(u->path());
}

result<params> checked_redirect(params p, const std::string& state, const endpoints& ep,
                                const config::account& a) {
  // RFC 6749 section 10.12: a redirect that does not carry our state is not ours. Error
  // redirects carry it too (section 4.1.2.1), and are checked first: otherwise any local process
  // could end the sign-in through the loopback listener with a forged "access_denied" and a
  // description of its choosing (issue 3's tests). A server that leaves the state out of an
  // error redirect is still believed.
  const auto given = p.find("state");
  const bool is_error = p.contains("error");
  if ((given == p.end() && !is_error) || (given != p.end() && given->second != state))
    return make_failure(
        errc::oauth_rejected,
        "sign-in failed: the redirect carried the wrong state (it did not come from "
        "this sign-in; possible cross-site request forgery); try again");
  if (is_error) {
    // The platform's error in the redirect (RFC 6749 section 4.1.2.1), e.g. access_denied
    // when the user declined consent, with Microsoft's AADSTS code in the description.
    boost::json::object o;
    o["error"] = p["error"];
    o["error_description"] = p["error_description"];
    return detail::to_failure(*detail::parse_error(boost::json::serialize(o)), a, "sign-in");
  }
  // RFC 9207: when the server names itself, it must be the one we asked.
  if (const auto it = p.find("iss"); it != p.end() && !ep.issuer.empty() &&
                                     a.provider == provider_kind::custom && it->second != ep.issuer)
    return make_failure(errc::oauth_rejected, "sign-in failed: the redirect came from issuer " +
                                                  it->second + ", not " + ep.issuer +
                                                  " (RFC 9207 mix-up protection)");
  return p;
}

result<store::token_set> redeem(const config::account& a, const endpoints& ep, net::http_request r,
                                const std::string& doing,
                                const store::token_set* previous = nullptr) {
  spdlog::debug("{}: POST {}", doing, r.url);
  const auto res = net::perform(r);
  if (!res) return res.error();
  if (res->status != 200) return detail::response_failure(*res, a, doing);
  return detail::parse_tokens(*res, a, ep.token, previous);
}

result<store::token_set> authorization_code(const config::account& a, const endpoints& ep,
                                            const login_options& o, interaction& ui) {
  if (ep.authorization.empty())
    return make_failure(errc::config_invalid, "account " + a.name +
                                                  " has no authorization endpoint for flow " +
                                                  std::string(config::name(o.flow)));
  const bool implicit = o.flow == flow_kind::implicit;
  const bool paste = o.flow == flow_kind::paste;
  auto scopes = scopes_for(a);

  std::optional<net::loopback_listener> listener;
  std::optional<std::uint16_t> port;
  const bool localhost = names_localhost(redirect_uri(a, std::nullopt));
  if (!paste) {
    auto l = net::loopback_listener::open(a.redirect_port, localhost);
    if (!l) return l.error();
    listener.emplace(std::move(*l));
    port = listener->port();
  } else if (a.redirect_port) {
    port = a.redirect_port;
  }
  const auto redirect = redirect_uri(a, port);

  const secret verifier(detail::random_urlsafe(32));  // 43 characters (RFC 7636 section 4.1)
  const auto state = detail::random_urlsafe(16);
  boost::urls::url url(ep.authorization);
  auto q = url.params();
  q.append({"client_id", a.client_id});
  std::string response_type = "code";
  if (implicit) {
    // Plain response_type=token where the server has it (Microsoft, when the registration
    // enables the implicit grant); OpenID servers that only offer "id_token token" need openid
    // and a nonce (oidc-provider).
    const auto& types = ep.response_types;
    const bool plain =
        types.empty() || std::find(types.begin(), types.end(), "token") != types.end();
    response_type = plain ? "token" : "id_token token";
    if (!plain && !has_scope(scopes, "openid")) scopes.insert(scopes.begin(), "openid");
    if (!plain) q.append({"nonce", detail::random_urlsafe(16)});
    // No refresh token comes back from the implicit grant; asking for one only confuses.
    scopes.erase(std::remove(scopes.begin(), scopes.end(), "offline_access"), scopes.end());
    ui.notice(
        "the implicit grant is deprecated (Microsoft: \"no longer a suitable authentication "
        "method\") and gives no refresh token: you will have to sign in again when the token "
        "expires; prefer flow = \"browser\" or \"device\"");
  }
  q.append({"response_type", response_type});
  q.append({"redirect_uri", redirect});
  q.append({"scope", join(scopes)});
  q.append({"state", state});
  if (!implicit) {
    q.append({"code_challenge", detail::pkce_challenge(verifier)});
    q.append({"code_challenge_method", "S256"});
  }
  if (!a.username.empty() && a.provider != provider_kind::custom)
    q.append({"login_hint", a.username});
  if (a.provider == provider_kind::google) {
    // Google sends a refresh token only with offline access and the consent prompt.
    q.append({"access_type", "offline"});
    q.append({"prompt", "consent"});
  } else if (a.provider == provider_kind::custom && has_scope(scopes, "offline_access")) {
    // OpenID Connect Core section 11: offline_access needs prompt=consent.
    q.append({"prompt", "consent"});
  }

  ui.open_authorization_url(std::string(url.buffer()), paste);

  params p;
  if (paste) {
    auto pasted = ui.read_redirect_url();
    const store::detail::wipe_on_exit wipe_pasted(pasted);  // it holds the code or the token
    auto u = boost::urls::parse_uri_reference(pasted);
    if (!u)
      return make_failure(errc::invalid_argument,
                          "that is not a URL; paste the whole address the browser ended on");
    auto decoded = decode_params(implicit ? std::string_view(u->encoded_fragment())
                                          : std::string_view(u->encoded_query()));
    if (!decoded) return decoded.error();
    p = std::move(*decoded);
    // Nothing pasted (end of input, a stray Enter) or an address without a sign-in response
    // (the authorization URL itself): say so, instead of the "wrong state" of a forged
    // redirect that the state check below would report (issue 3's tests).
    if (!p.contains("code") && !p.contains("error") && !p.contains("access_token"))
      return make_failure(errc::invalid_argument,
                          pasted.empty()
                              ? "no redirected URL was pasted; run `mailoauth login " + a.name +
                                    " --flow paste` again and paste the whole address the "
                                    "browser ended on"
                              : "that address carries no sign-in response (no code or error); "
                                "paste the whole address the browser ended on after signing in");
  } else {
    auto got = listener->wait(listener_path(redirect), implicit, o.browser_timeout);
    if (!got) return got.error();
    p = std::move(*got);
  }
  auto checked = checked_redirect(std::move(p), state, ep, a);
  if (!checked) return checked.error();
  p = std::move(*checked);

  if (implicit) {
    store::token_set t;
    t.access_token = secret(p["access_token"]);
    if (t.access_token.empty())
      return make_failure(errc::malformed_response, "the implicit grant returned no access_token");
    if (!p["token_type"].empty()) t.token_type = p["token_type"];
    t.scope = p["scope"];
    t.obtained_at = now();
    long long expires_in = 0;
    try {
      expires_in = std::stoll(p["expires_in"]);
    } catch (const std::exception&) {
      expires_in = 3600;  // RFC 6749 section 4.2.2 makes it optional
    }
    t.expires_at = t.obtained_at + expires_in;
    t.refresh_at = detail::refresh_time(t.obtained_at, t.expires_at, {}, a.refresh_margin);
    t.token_endpoint = ep.token;
    t.client_id = a.client_id;
    t.username = a.username;
    return t;
  }

  if (p["code"].empty())
    return make_failure(errc::malformed_response, "the redirect carried no authorization code");
  auto r = token_request(a, ep.token);
  r.form.emplace_back("grant_type", "authorization_code");
  r.form.emplace_back("code", secret(p["code"]));
  r.form.emplace_back("redirect_uri", redirect);
  r.form.emplace_back("code_verifier", verifier);
  if (auto ok = add_client_auth(a, r); !ok) return ok.error();
  return redeem(a, ep, std::move(r), "redeeming the authorization code");
}

result<store::token_set> device_code(const config::account& a, const endpoints& ep,
                                     interaction& ui) {
  if (ep.device_authorization.empty())
    return make_failure(errc::config_invalid,
                        "account " + a.name +
                            "'s provider has no device authorization endpoint; "
                            "use flow = \"browser\" or \"paste\"");
  auto r = token_request(a, ep.device_authorization);
  if (auto ok = add_client_auth(a, r); !ok) return ok.error();
  r.form.emplace_back("scope", join(scopes_for(a)));
  const auto res = net::perform(r);
  if (!res) return res.error();
  if (res->status != 200) return detail::response_failure(*res, a, "starting the device flow");
  boost::system::error_code ec;
  const auto v = detail::parse_secret_json(res->body, ec);  // it holds the device code
  if (ec || !v.is_object())
    return make_failure(errc::malformed_response, "the device endpoint did not answer JSON");
  const auto& o = v.get_object();
  auto str = [&](const char* k) {
    const auto* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->get_string()) : std::string();
  };
  auto num = [&](const char* k, std::int64_t fallback) -> std::int64_t {
    const auto* x = o.if_contains(k);
    if (x && x->is_int64()) return x->get_int64();
    if (x && x->is_string()) {
      try {
        return std::stoll(std::string(x->get_string()));
      } catch (const std::exception&) {
      }
    }
    return fallback;
  };
  secret device(str("device_code"));
  device_code_info info;
  info.user_code = str("user_code");
  info.verification_uri = str("verification_uri");
  if (info.verification_uri.empty()) info.verification_uri = str("verification_url");  // Google
  info.verification_uri_complete = str("verification_uri_complete");
  info.message = str("message");
  info.expires_in = std::chrono::seconds(std::max<std::int64_t>(1, num("expires_in", 900)));
  // RFC 8628 section 3.2: 5 seconds when the server does not say.
  info.interval = std::chrono::seconds(std::max<std::int64_t>(1, num("interval", 5)));
  if (device.empty() || info.user_code.empty() || info.verification_uri.empty())
    return make_failure(errc::malformed_response,
                        "the device endpoint's answer lacks device_code, user_code or "
                        "verification_uri");
  ui.show_device_code(info);

  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + info.expires_in;
  auto interval = info.interval;
  int transient_failures = 0;
  for (;;) {
    // Wait one interval, telling the user how long the code stays valid.
    const auto poll_at = clock::now() + interval;
    while (clock::now() < poll_at) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - clock::now());
      if (left.count() <= 0) {
        ui.device_done();
        return make_failure(errc::authorization_expired,
                            "the code expired before the sign-in finished; run `mailoauth login " +
                                a.name + "` and finish within the time shown");
      }
      ui.device_waiting(left);
      std::this_thread::sleep_for(
          std::min<clock::duration>(std::chrono::seconds(1), poll_at - clock::now()));
    }
    auto poll = token_request(a, ep.token);
    poll.form.emplace_back("grant_type", "urn:ietf:params:oauth:grant-type:device_code");
    poll.form.emplace_back("device_code", device);
    if (auto ok = add_client_auth(a, poll); !ok) return ok.error();
    const auto answer = net::perform(poll);
    if (!answer || answer->status == 429 || answer->status >= 500) {
      // The network or the server hiccupped: keep polling until the code expires, a bit slower.
      if (++transient_failures > 10) {
        ui.device_done();
        return answer ? detail::response_failure(*answer, a, "polling for the sign-in")
                      : answer.error();
      }
      interval += std::chrono::seconds(1);
      continue;
    }
    transient_failures = 0;
    if (answer->status == 200) {
      // Tokens arrived: never poll again (a device code redeemed twice revokes the grant).
      ui.device_done();
      return detail::parse_tokens(*answer, a, ep.token, nullptr);
    }
    const auto e = detail::parse_error(answer->body);
    if (e && e->error == "authorization_pending") continue;
    if (e && e->error == "slow_down") {
      // RFC 8628 section 3.5: add 5 seconds to the interval for this and all later polls.
      interval += std::chrono::seconds(5);
      continue;
    }
    ui.device_done();
    return detail::response_failure(*answer, a, "the device sign-in");
  }
}

result<store::token_set> client_credentials(const config::account& a, const endpoints& ep) {
  auto r = token_request(a, ep.token);
  r.form.emplace_back("grant_type", "client_credentials");
  if (auto ok = add_client_auth(a, r); !ok) return ok.error();
  r.form.emplace_back("scope", join(scopes_for(a)));
  return redeem(a, ep, std::move(r), "app-only sign-in (client credentials)");
}

}  // namespace

result<store::token_set> login(const config::account& a, const login_options& o, interaction& ui) {
  auto ep = resolve_endpoints(a);
  if (!ep) return ep.error();
  if (o.flow == flow_kind::device && a.provider == provider_kind::google)
    return make_failure(errc::config_invalid,
                        "Google does not allow Gmail's scope in the device flow (it answers "
                        "invalid_scope); use --flow browser, or --flow paste without a browser");
  switch (o.flow) {
    case flow_kind::browser:
    case flow_kind::paste:
    case flow_kind::implicit:
      return authorization_code(a, *ep, o, ui);
    case flow_kind::device:
      return device_code(a, *ep, ui);
    case flow_kind::client_credentials:
      return client_credentials(a, *ep);
  }
  return make_failure(errc::invalid_argument, "unknown flow");
}

result<store::token_set> refresh(const config::account& a, const store::token_set& current) {
  if (current.refresh_token.empty())
    return make_failure(
        errc::login_required,
        "account " + a.name + " has no refresh token: run `mailoauth login " + a.name + "`");
  endpoints ep;
  ep.token = current.token_endpoint;
  if (ep.token.empty()) {
    auto resolved = resolve_endpoints(a);
    if (!resolved) return resolved.error();
    ep = std::move(*resolved);
  }
  // Back off on 429, 5xx and network errors, honouring Retry-After, a few times: a token helper
  // must answer within seconds, and the stored tokens stay as they are whatever happens.
  constexpr int attempts = 3;
  std::chrono::seconds delay(1);
  for (int attempt = 1;; ++attempt) {
    auto r = token_request(a, ep.token);
    r.form.emplace_back("grant_type", "refresh_token");
    r.form.emplace_back("refresh_token", current.refresh_token);
    if (auto ok = add_client_auth(a, r); !ok) return ok.error();
    // Microsoft wants the scopes again; other servers accept them (RFC 6749 section 6).
    if (a.provider == provider_kind::microsoft) r.form.emplace_back("scope", join(scopes_for(a)));
    const auto res = net::perform(r);
    const bool transient = !res || res->status == 429 || res->status >= 500;
    if (!transient) {
      if (res->status != 200) return detail::response_failure(*res, a, "refreshing the token");
      return detail::parse_tokens(*res, a, ep.token, &current);
    }
    if (attempt == attempts)
      return res ? detail::response_failure(*res, a, "refreshing the token") : res.error();
    auto wait = delay;
    if (res && res->retry_after)
      wait = std::chrono::seconds(std::clamp<long>(*res->retry_after, 0, 30));
    spdlog::warn("refreshing the token of {} failed ({}); retrying in {} s", a.name,
                 res ? "HTTP " + std::to_string(res->status) : res.error().message, wait.count());
    std::this_thread::sleep_for(wait);
    delay *= 2;
  }
}

}  // namespace mailoauth::oauth
