#include "sandbox/mail/token_check.hpp"

#include "sandbox/core/jwt.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace mailoauth::sandbox::detail {
namespace {

// Exchange Online's resource, by URL and by its well-known application id (both appear as
// `aud` in real tokens).
constexpr std::string_view exchange_audience = "https://outlook.office365.com";
constexpr std::string_view exchange_app_id = "00000002-0000-0ff1-ce00-000000000000";

struct protocol_rights {
  std::string_view delegated;
  std::string_view app_only;
};

protocol_rights rights(mail_protocol p) {
  switch (p) {
    case mail_protocol::imap:
      return {"IMAP.AccessAsUser.All", "IMAP.AccessAsApp"};
    case mail_protocol::pop3:
      return {"POP.AccessAsUser.All", "POP.AccessAsApp"};
    case mail_protocol::smtp:
      return {"SMTP.Send", "SMTP.SendAsApp"};
  }
  return {};
}

// `scp` holds short names; accept the full scope string too, as some issuers write it.
bool holds(const std::vector<std::string>& granted, std::string_view wanted) {
  return std::any_of(granted.begin(), granted.end(), [&](const std::string& g) {
    if (g == wanted) return true;
    return g.size() == exchange_audience.size() + 1 + wanted.size() &&
           g.starts_with(exchange_audience) && g[exchange_audience.size()] == '/' &&
           g.ends_with(wanted);
  });
}

token_verdict refuse(std::string status, std::string reason) {
  token_verdict v;
  v.status = std::move(status);
  v.reason = std::move(reason);
  return v;
}

}  // namespace

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool hosted_address(std::string_view address, const std::vector<std::string>& domains) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  const auto domain = lower(address.substr(at + 1));
  return std::any_of(domains.begin(), domains.end(),
                     [&](const std::string& d) { return lower(d) == domain; });
}

std::string protocol_scope(mail_protocol protocol) {
  return std::string(exchange_audience) + "/" + std::string(rights(protocol).delegated);
}

token_verdict check_token(const sasl::decoded_response& response, mail_protocol protocol,
                          const token_policy& policy) {
  const auto token = response.token.reveal();
  // A compact JWS is three base64url parts; anything else is not a token Exchange could use.
  if (std::count(token.begin(), token.end(), '.') != 2)
    return refuse("400", "the bearer token is not a JWT");
  auto claims = verify_access_token(token, *policy.public_pem, policy.now, policy.leeway);
  if (!claims) return refuse("401", claims.error().message);
  if (claims->audience != exchange_audience && claims->audience != exchange_app_id)
    return refuse("401", "the token's audience is " + claims->audience +
                             ", not https://outlook.office365.com");

  const auto want = rights(protocol);
  const bool app_only = claims->username.empty();
  token_verdict v;
  if (app_only) {
    if (!holds(claims->roles, want.app_only))
      return refuse("403", "the app-only token lacks the role " + std::string(want.app_only));
    if (response.user.empty()) return refuse("400", "an app-only token needs a SASL user");
    v.mailbox = lower(response.user);
  } else {
    if (!holds(claims->scopes, want.delegated))
      return refuse("403", "the token lacks the scope " + std::string(want.delegated));
    // OAUTHBEARER may leave the authzid out: the token's user is meant then.
    const auto user = response.user.empty() ? claims->username : response.user;
    if (lower(user) != lower(claims->username))
      return refuse("400",
                    "the SASL user " + user + " is not the token's user " + claims->username);
    v.mailbox = lower(user);
  }
  if (!hosted_address(v.mailbox, *policy.domains))
    return refuse("400", "no mailbox " + v.mailbox + " in the sandbox's domains");
  v.ok = true;
  v.reason = app_only ? "app-only" : "delegated";
  return v;
}

std::string error_challenge_json(sasl::mechanism mech, const token_verdict& verdict,
                                 mail_protocol protocol, const std::string& openid_configuration) {
  boost::json::object o;
  if (mech == sasl::mechanism::xoauth2) {
    o["status"] = verdict.status;
    o["schemes"] = "Bearer";
    o["scope"] = protocol_scope(protocol);
  } else {
    // RFC 7628 section 3.2.2: the status is an OAuth error code (RFC 6750 section 3.1).
    o["status"] = verdict.status == "403" ? "insufficient_scope" : "invalid_token";
    o["scope"] = protocol_scope(protocol);
    if (!openid_configuration.empty()) o["openid-configuration"] = openid_configuration;
  }
  return boost::json::serialize(o);
}

}  // namespace mailoauth::sandbox::detail
