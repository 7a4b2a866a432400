// XOAUTH2 as Google and Microsoft define it: base64("user=" U ^A "auth=Bearer " T ^A ^A).
#include <mailoauth/sasl.hpp>

#include "sasl/kv.hpp"

namespace mailoauth::sasl {

secret xoauth2_response(std::string_view user, const secret& token) {
  detail::require_valid_fields(user, token.reveal(), {});
  std::string out;
  out.reserve(user.size() + token.size() + 20);
  out.append("user=").append(user).push_back(detail::kvsep);
  out.append("auth=Bearer ").append(token.reveal()).push_back(detail::kvsep);
  out.push_back(detail::kvsep);
  return secret(std::move(out));
}

std::optional<decoded_response> decode_xoauth2(std::string_view raw, std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<decoded_response> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (raw.size() < 2 || raw.substr(raw.size() - 2) != "\x01\x01")
    return fail("XOAUTH2 response does not end with ^A^A");
  raw.remove_suffix(1);  // keep one ^A so every item below ends with one

  decoded_response out;
  out.mech = mechanism::xoauth2;
  bool have_user = false;
  bool have_auth = false;
  while (!raw.empty()) {
    const auto end = raw.find(detail::kvsep);
    const auto item = raw.substr(0, end);
    raw.remove_prefix(end + 1);
    const auto kv = detail::split_kv(item);
    if (!kv) return fail("XOAUTH2 response holds an item that is not key=value");
    if (kv->key == "user") {
      if (have_user) return fail("XOAUTH2 response names the user twice");
      out.user.assign(kv->value);
      have_user = true;
    } else if (kv->key == "auth") {
      if (have_auth) return fail("XOAUTH2 response holds two auth items");
      const auto token = detail::bearer_token(kv->value);
      if (!token) return fail("XOAUTH2 auth item is not \"Bearer <token>\"");
      out.token = secret(std::string(*token));
      have_auth = true;
    }
    // Other keys are ignored, as servers do.
  }
  if (!have_user || out.user.empty()) return fail("XOAUTH2 response has no user");
  if (!have_auth) return fail("XOAUTH2 response has no auth=Bearer item");
  // What the encoder refuses, the decoder refuses too: no token holds them, and a user name
  // with CR or LF would reach logs and replies of the server that decoded it.
  if (detail::has_control(out.user) || detail::has_control(out.token.reveal()))
    return fail("XOAUTH2 response holds a control character (CR, LF or NUL) in a field");
  return out;
}

}  // namespace mailoauth::sasl
