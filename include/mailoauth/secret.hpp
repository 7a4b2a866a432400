// A string that holds a credential: never printed, wiped when destroyed.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>

namespace mailoauth {

/// Holds an access token, refresh token, client secret or code. Prints as "[redacted]" (to a
/// stream here; to {fmt} and spdlog with <mailoauth/secret_format.hpp>) and is wiped on
/// destruction; reveal() is called only where the value goes on the wire.
class secret {
 public:
  secret() = default;
  explicit secret(std::string value) noexcept : value_(std::move(value)) {}
  secret(const secret&) = default;
  secret(secret&& other) noexcept;
  secret& operator=(const secret& other);
  secret& operator=(secret&& other) noexcept;
  ~secret();

  /// The credential itself; use only to put it on the wire or in its store.
  [[nodiscard]] std::string_view reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }

  /// Wipes the value and leaves the secret empty.
  void clear() noexcept;

  /// Constant-time comparison: the time depends only on the longer of the two lengths, never on
  /// where the values differ, so a comparison leaks no prefix by its timing.
  friend bool operator==(const secret& a, const secret& b) noexcept;

 private:
  std::string value_;
};

/// Writes "[redacted]", whatever the value.
std::ostream& operator<<(std::ostream& os, const secret& s);

/// Overwrites a string's bytes, its whole capacity, in a way the optimiser keeps, then empties
/// it.
void wipe(std::string& s) noexcept;

}  // namespace mailoauth
