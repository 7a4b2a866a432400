// Internal: the ^A-separated key=value list that XOAUTH2 and OAUTHBEARER share.
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>

namespace mailoauth::sasl::detail {

inline constexpr char kvsep = '\x01';

/// True when a field holds ^A, CR, LF or NUL, which no field of a response may hold.
inline bool has_control(std::string_view v) noexcept {
  return v.find_first_of(std::string_view("\x01\r\n\0", 4)) != std::string_view::npos;
}

/// Throws std::invalid_argument when a field would break the response or the command line:
/// the encoders' own guard, whatever their callers checked (see sasl::invalid_field()).
void require_valid_fields(std::string_view user, std::string_view token, std::string_view host);

inline bool iequals_prefix(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

/// The token of an "auth" value: "Bearer" SP token. The scheme is case-insensitive (RFC 6750
/// section 2.1; Microsoft's guide's SMTP sample writes "bearer").
inline std::optional<std::string_view> bearer_token(std::string_view auth_value) noexcept {
  if (!iequals_prefix(auth_value, "Bearer ")) return std::nullopt;
  auto token = auth_value.substr(7);
  if (token.empty()) return std::nullopt;
  return token;
}

/// Splits "key=value" at the first '='.
struct kvpair {
  std::string_view key;
  std::string_view value;
};

inline std::optional<kvpair> split_kv(std::string_view item) noexcept {
  const auto eq = item.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  return kvpair{item.substr(0, eq), item.substr(eq + 1)};
}

}  // namespace mailoauth::sasl::detail
