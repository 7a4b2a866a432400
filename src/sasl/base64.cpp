#include <mailoauth/sasl.hpp>

#include <openssl/evp.h>

#include <cstdint>
#include <limits>

namespace mailoauth::sasl {
namespace {

bool is_base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// The 6-bit value of an alphabet character (checked by is_base64_char first).
unsigned sextet(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return static_cast<unsigned>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a') + 26;
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0') + 52;
  return c == '+' ? 62 : 63;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max() / 4 * 3)) return {};
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock skips whitespace and does not check padding, so validate first: the
  // alphabet, a length that is a multiple of four, and at most two '=' at the very end.
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return std::nullopt;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) return std::nullopt;
      ++padding;
    } else if (padding > 0 || !is_base64_char(c)) {
      return std::nullopt;
    }
  }
  if (text.empty()) return std::string{};
  // RFC 4648 section 3.5: the bits that padding leaves over must be zero. Decoders may accept
  // others, but then two texts decode to the same bytes ("QQ==" and "QR=="), and a strict
  // decoder should accept only what base64_encode produces.
  if (padding > 0) {
    const unsigned last = sextet(text[text.size() - padding - 1]);
    if ((last & (padding == 2 ? 0x0fu : 0x03u)) != 0) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes that padding stands for; drop them.
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace mailoauth::sasl
