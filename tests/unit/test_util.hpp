// Helpers shared by the unit tests.
#pragma once

#include <string>
#include <string_view>

namespace mailoauth::test {

/// Writes SASL messages as the documentation does: "^A" stands for the byte 0x01. Spares the
/// tests C's "\x01a" trap, where the escape swallows a following hex digit.
inline std::string ctrl_a(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '^' && i + 1 < text.size() && text[i + 1] == 'A') {
      out.push_back('\x01');
      ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

/// A token-like string of the given length, from the characters of a JWT.
inline std::string token_of(std::size_t n) {
  static constexpr std::string_view chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = chars[(i * 7 + i / 3) % chars.size()];
  return out;
}

}  // namespace mailoauth::test
