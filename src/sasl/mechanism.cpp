#include <mailoauth/sasl.hpp>

#include "sasl/kv.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace mailoauth::sasl {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

std::string_view name(mechanism m) noexcept {
  switch (m) {
    case mechanism::xoauth2:
      return "XOAUTH2";
    case mechanism::oauthbearer:
      return "OAUTHBEARER";
    case mechanism::plain:
      return "PLAIN";
    case mechanism::login:
      return "LOGIN";
  }
  return "?";
}

std::optional<mechanism> parse_mechanism(std::string_view text) noexcept {
  for (const auto m :
       {mechanism::xoauth2, mechanism::oauthbearer, mechanism::plain, mechanism::login})
    if (iequals(text, name(m))) return m;
  return std::nullopt;
}

std::string invalid_field(std::string_view user, std::string_view host) {
  const auto bad = detail::has_control;
  if (bad(user)) return "the user name holds a control character (^A, CR, LF or NUL)";
  if (bad(host)) return "the host name holds a control character (^A, CR, LF or NUL)";
  return {};
}

secret client_response(mechanism m, std::string_view user, const secret& token,
                       std::string_view host, std::optional<std::uint16_t> port) {
  switch (m) {
    case mechanism::xoauth2:
      return xoauth2_response(user, token);
    case mechanism::oauthbearer:
      return oauthbearer_response(user, token, host, port);
    case mechanism::plain:
    case mechanism::login:
      break;
  }
  throw std::invalid_argument("a client response needs an OAuth mechanism");
}

std::optional<decoded_response> decode_response(mechanism m, std::string_view raw,
                                                std::string* why) {
  if (m == mechanism::xoauth2) return decode_xoauth2(raw, why);
  if (m == mechanism::oauthbearer) return decode_oauthbearer(raw, why);
  if (why) *why = "not an OAuth mechanism";
  return std::nullopt;
}

}  // namespace mailoauth::sasl
