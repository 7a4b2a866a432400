#include "output.hpp"

#include <fmt/core.h>

#include <cstdio>

namespace mailoauth::cli {

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int exit_code(const std::error_code& ec) noexcept {
  const auto kind = classify(ec);
  return kind == failure_kind::none ? 0 : static_cast<int>(kind);
}

int fail(int code, std::string_view message) {
  fmt::print(stderr, "mailoauth: error: {}\n", message);
  return code;
}

}  // namespace mailoauth::cli
