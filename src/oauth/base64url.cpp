#include "oauth/base64url.hpp"

#include <mailoauth/sasl.hpp>

namespace mailoauth::oauth {

std::string base64url_encode(std::string_view bytes) {
  auto text = sasl::base64_encode(bytes);
  for (auto& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  // One character short of a group carries fewer than 8 bits: no byte string encodes to it.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard(text);
  for (auto& c : standard) {
    // The standard alphabet's and padding are refused, not translated: RFC 7515 section 2
    // allows neither in a JWT, and accepting them would give one value two texts.
    if (c == '+' || c == '/' || c == '=') return std::nullopt;
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  standard.append((4 - standard.size() % 4) % 4, '=');
  // sasl's decoder checks the rest: the alphabet and zero bits left over by the padding.
  return sasl::base64_decode(standard);
}

}  // namespace mailoauth::oauth
