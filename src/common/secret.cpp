#include <mailoauth/secret.hpp>

#include <openssl/crypto.h>

#include <ostream>
#include <utility>

namespace mailoauth {

void wipe(std::string& s) noexcept {
  // OPENSSL_cleanse is written so that the compiler cannot drop it as a dead store.
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

secret::secret(secret&& other) noexcept : value_(std::move(other.value_)) {
  other.clear();
}

secret& secret::operator=(const secret& other) {
  if (this != &other) {
    clear();
    value_ = other.value_;
  }
  return *this;
}

secret& secret::operator=(secret&& other) noexcept {
  if (this != &other) {
    clear();
    value_ = std::move(other.value_);
    other.clear();
  }
  return *this;
}

secret::~secret() {
  clear();
}

void secret::clear() noexcept {
  // Wipe the whole capacity: a string may have held a longer value before.
  value_.resize(value_.capacity());
  wipe(value_);
}

bool operator==(const secret& a, const secret& b) noexcept {
  if (a.value_.size() != b.value_.size()) return false;
  return CRYPTO_memcmp(a.value_.data(), b.value_.data(), a.value_.size()) == 0;
}

std::ostream& operator<<(std::ostream& os, const secret&) {
  return os << "[redacted]";
}

}  // namespace mailoauth
