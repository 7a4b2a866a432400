// Encryption at rest: AES-256-GCM with a random 96-bit nonce per write (NIST SP 800-38D), the
// account name as additional data so that a file copied to another account's name fails.
#pragma once

#include <mailoauth/result.hpp>
#include <mailoauth/store.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::store::detail {

inline constexpr std::size_t gcm_nonce_size = 12;
inline constexpr std::size_t gcm_tag_size = 16;

/// What goes in an encrypted token file, as raw bytes (base64, sasl's, is the file format's
/// business).
struct sealed_box {
  std::string nonce;
  std::string ciphertext;
  std::string tag;
};

/// Encrypts `plaintext` under a fresh random nonce.
result<sealed_box> seal(const encryption_key& key, std::string_view aad,
                        std::string_view plaintext);

/// Decrypts and authenticates; nullopt for a wrong key, wrong additional data or any modified
/// byte (GCM does not say which). The plaintext holds credentials: the caller wipes it.
std::optional<std::string> unseal(const encryption_key& key, std::string_view aad,
                                  const sealed_box& box);

}  // namespace mailoauth::store::detail
