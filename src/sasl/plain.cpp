// PLAIN (RFC 4616): the one SASL mechanism every password-only mail program has, and the one a
// server session must understand to let such programs log in locally.
#include <mailoauth/sasl.hpp>

#include "sasl/kv.hpp"

#include <stdexcept>

namespace mailoauth::sasl {

namespace detail {

void require_valid_fields(std::string_view user, std::string_view token, std::string_view host) {
  if (const auto why = invalid_field(user, host); !why.empty()) throw std::invalid_argument(why);
  if (has_control(token))
    throw std::invalid_argument("the token holds a control character (^A, CR, LF or NUL)");
}

}  // namespace detail

std::optional<plain_credentials> decode_plain(std::string_view raw, std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<plain_credentials> {
    if (why) *why = reason;
    return std::nullopt;
  };
  // message = [authzid] UTF8NUL authcid UTF8NUL passwd, each part free of NUL.
  const auto first = raw.find('\0');
  if (first == std::string_view::npos) return fail("PLAIN response has no NUL separators");
  const auto second = raw.find('\0', first + 1);
  if (second == std::string_view::npos) return fail("PLAIN response has one NUL, not two");
  if (raw.find('\0', second + 1) != std::string_view::npos)
    return fail("PLAIN response has more than two NUL separators");
  plain_credentials out;
  out.authzid.assign(raw.substr(0, first));
  out.authcid.assign(raw.substr(first + 1, second - first - 1));
  if (out.authcid.empty()) return fail("PLAIN response has an empty authentication identity");
  const auto password = raw.substr(second + 1);
  if (password.empty()) return fail("PLAIN response has an empty password");
  out.password = secret(std::string(password));
  return out;
}

secret plain_response(std::string_view authcid, const secret& password, std::string_view authzid) {
  detail::require_valid_fields(authcid, password.reveal(), authzid);
  std::string out;
  out.reserve(authzid.size() + authcid.size() + password.size() + 2);
  out.append(authzid).push_back('\0');
  out.append(authcid).push_back('\0');
  out.append(password.reveal());
  return secret(std::move(out));
}

}  // namespace mailoauth::sasl
