#include "oauth/random.hpp"

#include "oauth/base64url.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace mailoauth::oauth::detail {

std::string random_urlsafe(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("the system's random number generator failed");
  auto out = base64url_encode(raw);
  wipe(raw);
  return out;
}

std::string pkce_challenge(const secret& verifier) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(verifier.reveal().data(), verifier.size(), digest, &n, EVP_sha256(), nullptr);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), n));
}

}  // namespace mailoauth::oauth::detail
