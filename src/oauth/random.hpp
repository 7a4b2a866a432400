// Internal: the unguessable values of the flows (PKCE verifier, state, nonce).
#pragma once

#include <mailoauth/secret.hpp>

#include <string>
#include <string_view>

namespace mailoauth::oauth::detail {

/// base64url without padding of `bytes` random bytes from OpenSSL's CSPRNG.
std::string random_urlsafe(std::size_t bytes);

/// The PKCE S256 challenge of a verifier (RFC 7636 section 4.2).
std::string pkce_challenge(const secret& verifier);

}  // namespace mailoauth::oauth::detail
