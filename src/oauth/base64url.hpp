// Internal: base64url without padding (RFC 4648 section 5), as PKCE (RFC 7636 appendix A) and
// JWTs (RFC 7515 section 2) use it. The one codec of it, for the flows and the sandbox alike,
// built on sasl's base64.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::oauth {

/// `bytes` in the URL-safe alphabet, with no '=' padding.
std::string base64url_encode(std::string_view bytes);

/// Its inverse: nullopt for '+', '/', '=' or any other character outside the alphabet, for a
/// length no encoding has, and for leftover bits that are not zero (only what base64url_encode
/// produces is accepted, so that one text stands for one value).
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace mailoauth::oauth
