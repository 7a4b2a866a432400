#include <mailoauth/sasl.hpp>

#include <algorithm>
#include <cctype>

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
  return m == mechanism::xoauth2 ? "XOAUTH2" : "OAUTHBEARER";
}

std::optional<mechanism> parse_mechanism(std::string_view text) noexcept {
  if (iequals(text, "XOAUTH2")) return mechanism::xoauth2;
  if (iequals(text, "OAUTHBEARER")) return mechanism::oauthbearer;
  return std::nullopt;
}

secret client_response(mechanism m, std::string_view user, const secret& token,
                       std::string_view host, std::optional<std::uint16_t> port) {
  return m == mechanism::xoauth2 ? xoauth2_response(user, token)
                                 : oauthbearer_response(user, token, host, port);
}

std::optional<decoded_response> decode_response(mechanism m, std::string_view raw,
                                                std::string* why) {
  return m == mechanism::xoauth2 ? decode_xoauth2(raw, why) : decode_oauthbearer(raw, why);
}

}  // namespace mailoauth::sasl
