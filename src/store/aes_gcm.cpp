#include "store/aes_gcm.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>

namespace mailoauth::store {
namespace {

// Fixed HKDF salt and info (RFC 5869 section 3): they bind the derived key to this use, so the
// same key_command output used elsewhere yields an unrelated key. Changing either makes every
// encrypted token file undecryptable: a known-answer test pins them.
constexpr std::string_view hkdf_salt = "mailoauth token store";
constexpr std::string_view hkdf_info = "mailoauth aes-256-gcm key v1";
constexpr std::size_t key_size = 32;
constexpr std::size_t min_material = 16;

struct kdf_ctx_free {
  void operator()(EVP_KDF_CTX* p) const noexcept { EVP_KDF_CTX_free(p); }
};

}  // namespace

result<encryption_key> encryption_key::from_material(const secret& material) {
  if (material.size() < min_material) {
    return make_failure(errc::store_failed,
                        "the key_command output is too short (" + std::to_string(material.size()) +
                            " bytes; at least " + std::to_string(min_material) +
                            " needed): use a random secret, e.g. `openssl rand -base64 32`");
  }
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  std::unique_ptr<EVP_KDF_CTX, kdf_ctx_free> ctx(kdf ? EVP_KDF_CTX_new(kdf) : nullptr);
  EVP_KDF_free(kdf);
  std::string out(key_size, '\0');
  bool ok = false;
  if (ctx) {
    auto key_bytes = material.reveal();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(key_bytes.data()),
                                          key_bytes.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(hkdf_salt.data()),
                                          hkdf_salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(hkdf_info.data()),
                                          hkdf_info.size()),
        OSSL_PARAM_construct_end(),
    };
    ok = EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                        params) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    secret wiped(std::move(out));
    return make_failure(errc::store_failed,
                        "cannot derive the encryption key (OpenSSL's HKDF is unavailable)");
  }
  encryption_key key;
  key.key_ = secret(std::move(out));
  return key;
}

namespace detail {
namespace {

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

const unsigned char* bytes(std::string_view s) noexcept {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) noexcept {
  return reinterpret_cast<unsigned char*>(s.data());
}

// EVP lengths are int: token files are far below INT_MAX, but a caller could pass anything.
bool fits_int(std::size_t n) noexcept {
  return n <= static_cast<std::size_t>(INT_MAX / 2);
}

// A default-constructed encryption_key is empty: EVP would read 32 bytes past its end.
bool usable(const encryption_key& key) noexcept {
  return key.bytes().size() == key_size;
}

}  // namespace

result<sealed_box> seal(const encryption_key& key, std::string_view aad,
                        std::string_view plaintext) {
  auto fail = [] {
    ERR_clear_error();
    return make_failure(errc::store_failed, "cannot encrypt the tokens (OpenSSL failed)");
  };
  if (!usable(key) || !fits_int(plaintext.size()) || !fits_int(aad.size())) return fail();
  sealed_box box;
  box.nonce.resize(gcm_nonce_size);
  box.tag.resize(gcm_tag_size);
  box.ciphertext.resize(plaintext.size());
  if (RAND_bytes(bytes(box.nonce), static_cast<int>(gcm_nonce_size)) != 1) return fail();
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(gcm_nonce_size),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key.bytes().reveal()),
                         bytes(box.nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes(box.ciphertext), &len, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(box.ciphertext) + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_tag_size),
                          box.tag.data()) != 1) {
    return fail();
  }
  box.ciphertext.resize(static_cast<std::size_t>(len + final_len));
  return box;
}

std::optional<std::string> unseal(const encryption_key& key, std::string_view aad,
                                  const sealed_box& box) {
  if (!usable(key) || box.nonce.size() != gcm_nonce_size || box.tag.size() != gcm_tag_size ||
      !fits_int(box.ciphertext.size()) || !fits_int(aad.size())) {
    return std::nullopt;
  }
  // GCM is a stream mode: the plaintext is exactly as long as the ciphertext, so this buffer
  // never reallocates and leaves no stray copy behind.
  std::string plain(box.ciphertext.size(), '\0');
  std::string tag = box.tag;  // EVP_CTRL_GCM_SET_TAG wants a mutable pointer
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(gcm_nonce_size),
                          nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key.bytes().reveal()),
                         bytes(box.nonce)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), bytes(plain), &len, bytes(box.ciphertext),
                        static_cast<int>(box.ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(gcm_tag_size),
                          tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + len, &final_len) == 1;
  if (!ok) {
    // Unauthenticated plaintext must never be used, not even partly: wipe it.
    secret discard(std::move(plain));
    ERR_clear_error();
    return std::nullopt;
  }
  return plain;
}

}  // namespace detail
}  // namespace mailoauth::store
