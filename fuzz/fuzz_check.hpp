// Internal to the fuzzers: a check that stops the run with a message. libFuzzer reports the
// abort as a crash and saves the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#define MAILOAUTH_FUZZ_CHECK(cond, what)                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "fuzz check failed: %s (%s)\n", what, #cond); \
      std::abort();                                                      \
    }                                                                    \
  } while (false)

namespace mailoauth::fuzz {

/// The input after the options, split at the separator into what one read delivers.
inline std::vector<std::string_view> split(std::string_view bytes, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto pos = bytes.find(sep);
    out.push_back(bytes.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    bytes.remove_prefix(pos + 1);
  }
}

inline bool contains(std::string_view hay, std::string_view needle) {
  return !needle.empty() && hay.find(needle) != std::string_view::npos;
}

}  // namespace mailoauth::fuzz
