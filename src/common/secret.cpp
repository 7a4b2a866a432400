#include <mailoauth/secret.hpp>

#include "common/secret_buffer.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <ostream>
#include <utility>

namespace mailoauth {

void wipe(std::string& s) noexcept {
  // The whole capacity: the string may have held a longer value before it was shortened, and
  // resizing within the capacity never reallocates.
  s.resize(s.capacity());
  detail::wipe_bytes(s.data(), s.size());
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
  wipe(value_);
}

bool operator==(const secret& a, const secret& b) noexcept {
  // Every byte up to the longer length is compared, whatever the lengths and wherever the first
  // difference is, so the time taken says no more than the longer length. Past its end a string
  // is read at its terminating NUL (std::string guarantees data()[size()] == '\0'); the length
  // difference itself is folded into the same accumulator, with no branch on it. The reads are
  // volatile, as in CRYPTO_memcmp, so that the optimiser cannot stop at the first difference.
  const std::size_t a_size = a.value_.size();
  const std::size_t b_size = b.value_.size();
  const volatile unsigned char* const x = reinterpret_cast<const unsigned char*>(a.value_.c_str());
  const volatile unsigned char* const y = reinterpret_cast<const unsigned char*>(b.value_.c_str());
  const std::size_t longer = std::max(a_size, b_size);
  std::size_t difference = a_size ^ b_size;
  for (std::size_t k = 0; k < longer; ++k) {
    difference |= static_cast<std::size_t>(x[std::min(k, a_size)] ^ y[std::min(k, b_size)]);
  }
  return difference == 0;
}

std::ostream& operator<<(std::ostream& os, const secret&) {
  return os << "[redacted]";
}

namespace detail {

void wipe_bytes(void* data, std::size_t size) noexcept {
  // OPENSSL_cleanse is written so that the compiler cannot drop it as a dead store.
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

}  // namespace detail
}  // namespace mailoauth
