// Watches the heap for credentials left behind: while a freed_memory_scan is alive, every block
// given back to operator delete is searched for a marker before it is freed. Code that wipes what
// it held frees zeros; code that forgets frees the marker, and the scan counts it.
#pragma once

#include <cstddef>
#include <string_view>

namespace mailoauth::test {

/// Counts freed blocks that still contain `marker`, from construction to destruction. One at a
/// time; the marker must be a string literal (it is not copied to the heap).
class freed_memory_scan {
 public:
  explicit freed_memory_scan(std::string_view marker) noexcept;
  freed_memory_scan(const freed_memory_scan&) = delete;
  freed_memory_scan& operator=(const freed_memory_scan&) = delete;
  ~freed_memory_scan();

  /// Blocks freed so far that held the marker.
  [[nodiscard]] std::size_t leaks() const noexcept;
  /// Blocks freed so far, whatever they held (a scan that saw nothing proves nothing).
  [[nodiscard]] std::size_t blocks() const noexcept;
};

}  // namespace mailoauth::test
