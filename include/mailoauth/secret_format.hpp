// {fmt} (and so spdlog) formatting for secret: "[redacted]", whatever the value.
//
// Apart from <mailoauth/secret.hpp> so that the secret type does not pull {fmt} into every user
// of the public API (the token helper's translation units and programs built without {fmt}).
// Forgetting this header is safe: {fmt} 9 and later then refuse to format a secret at compile
// time, rather than print it.
#pragma once

#include <mailoauth/secret.hpp>

#include <fmt/format.h>

#include <string_view>

/// Formats a secret as "[redacted]"; width, fill and alignment apply to that text.
template <>
struct fmt::formatter<mailoauth::secret> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const mailoauth::secret&, FormatContext& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(std::string_view("[redacted]"), ctx);
  }
};
