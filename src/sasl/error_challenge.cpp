// The JSON a server sends, as a SASL challenge, when it refuses a token. Google documents
// {"status":"401","schemes":"bearer","scope":"https://mail.google.com/"} for XOAUTH2;
// RFC 7628 section 3.2.2 defines "status", "scope" and "openid-configuration".
#include <mailoauth/sasl.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mailoauth::sasl {
namespace {

// Servers send numbers or strings for "status"; keep either as text.
std::string member_text(const boost::json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (!v) return {};
  if (const auto* s = v->if_string()) return std::string(*s);
  if (const auto* i = v->if_int64()) return std::to_string(*i);
  if (const auto* u = v->if_uint64()) return std::to_string(*u);
  return {};
}

}  // namespace

std::optional<error_challenge> decode_error_challenge(std::string_view base64_payload) {
  auto json = base64_decode(base64_payload);
  if (!json) return std::nullopt;
  boost::system::error_code ec;
  // Bounded depth: a hostile server must not exhaust the stack with nesting.
  boost::json::parse_options opts;
  opts.max_depth = 8;
  const auto value = boost::json::parse(*json, ec, {}, opts);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& obj = value.get_object();
  error_challenge out;
  out.status = member_text(obj, "status");
  out.schemes = member_text(obj, "schemes");
  out.scope = member_text(obj, "scope");
  out.openid_configuration = member_text(obj, "openid-configuration");
  out.json = std::move(*json);
  return out;
}

std::string explain(const error_challenge& c) {
  const auto& s = c.status;
  std::string scope_hint =
      c.scope.empty() ? std::string("the scope the server requires") : "the scope " + c.scope;
  if (s == "401" || s == "invalid_token")
    return "the token is invalid, expired or revoked: get a new one (refresh or sign in again)";
  if (s == "400" || s == "invalid_request")
    return "the server could not use the token (wrong user, malformed token, or missing " +
           scope_hint + "); check the user name and the scopes the token was issued for";
  if (s == "403" || s == "insufficient_scope")
    return "the token lacks " + scope_hint + ": request it when signing in";
  if (s.empty()) return "the server refused the token without giving a status";
  return "the server refused the token with status " + s;
}

}  // namespace mailoauth::sasl
