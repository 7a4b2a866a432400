// Internal: containers for text that may hold a credential and is not a single secret: an HTTP
// body (a token response, an encoded form) and the parameters of a sign-in redirect. Every buffer
// they let go of, when they grow and when they are destroyed, is wiped first (issue 8: secrets
// stay wiped end to end, not only inside secret).
#pragma once

#include <mailoauth/secret.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace mailoauth::detail {

/// Overwrites `size` bytes in a way the optimiser keeps (OPENSSL_cleanse).
void wipe_bytes(void* data, std::size_t size) noexcept;

/// An allocator that wipes every block before it frees it: a container growing past its
/// capacity leaves no copy behind in freed memory.
template <class T>
struct wiping_allocator {
  using value_type = T;
  // Stateless: containers may move buffers between each other, as with std::allocator.
  using is_always_equal = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;

  wiping_allocator() noexcept = default;
  template <class U>
  wiping_allocator(const wiping_allocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    wipe_bytes(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const wiping_allocator&, const wiping_allocator<U>&) noexcept {
    return true;
  }
};

using wiping_string_base = std::basic_string<char, std::char_traits<char>, wiping_allocator<char>>;

/// A string for bytes that may hold a credential (an HTTP body): the allocator wipes every heap
/// buffer it frees, and the destructor wipes the whole capacity first, which covers the
/// in-object buffer of a short string and bytes past a shortened end. It is a std::basic_string
/// in every other respect; it deliberately has no operator<<, so nothing prints it by accident.
class secret_buffer : public wiping_string_base {
 public:
  using wiping_string_base::wiping_string_base;
  secret_buffer() noexcept = default;
  secret_buffer(const secret_buffer&) = default;
  secret_buffer(secret_buffer&&) noexcept = default;
  secret_buffer& operator=(const secret_buffer&) = default;
  secret_buffer& operator=(secret_buffer&&) noexcept = default;
  ~secret_buffer() {
    resize(capacity());  // within the capacity: never reallocates
    wipe_bytes(data(), size());
  }

  [[nodiscard]] std::string_view view() const noexcept { return {data(), size()}; }

  // Comparisons with the other string types (std::basic_string's own need the same allocator).
  friend bool operator==(const secret_buffer& a, const secret_buffer& b) noexcept {
    return a.view() == b.view();
  }
  friend bool operator==(const secret_buffer& a, const char* b) noexcept {
    return a.view() == std::string_view(b);
  }
  friend bool operator==(const secret_buffer& a, const std::string& b) noexcept {
    return a.view() == std::string_view(b);
  }
  friend bool operator==(const secret_buffer& a, std::string_view b) noexcept {
    return a.view() == b;
  }
};

/// Form or query parameters that may hold an authorization code or a token (a sign-in redirect):
/// every value is wiped when the map is destroyed, on whichever path that happens. A std::map in
/// every other respect, so the form parser (common/web_form.hpp) fills it directly.
class secret_fields : public std::map<std::string, std::string> {
 public:
  using base = std::map<std::string, std::string>;
  using base::base;
  secret_fields() = default;
  explicit secret_fields(base&& fields) noexcept : base(std::move(fields)) {}
  secret_fields(const secret_fields&) = default;
  secret_fields(secret_fields&&) noexcept = default;
  secret_fields& operator=(const secret_fields& other) {
    if (this != &other) {
      wipe_values();
      base::operator=(other);
    }
    return *this;
  }
  secret_fields& operator=(secret_fields&& other) noexcept {
    if (this != &other) {
      wipe_values();
      base::operator=(std::move(other));
    }
    return *this;
  }
  ~secret_fields() { wipe_values(); }

  /// Wipes every value (names stay) and empties the map.
  void clear() noexcept {
    wipe_values();
    base::clear();
  }

 private:
  void wipe_values() noexcept {
    for (auto& field : *this) wipe(field.second);
  }
};

}  // namespace mailoauth::detail
