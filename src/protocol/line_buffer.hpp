// Internal: splits the server's byte stream into lines, with a bound on what it buffers.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::protocol::detail {

class line_buffer {
 public:
  explicit line_buffer(std::size_t max_line) : max_line_(max_line) {}

  /// Appends received bytes. Returns false when the unterminated bytes buffered have grown
  /// past the bound; advisory, as it cannot know of a literal still to skip. next_line()
  /// enforces the bound.
  bool append(std::string_view bytes);

  /// The next complete line without its CRLF (a bare LF also ends a line, as servers send),
  /// or nullopt when none is complete or the next line, without its terminator, is longer than
  /// the bound (see too_long()). The view is valid until the next call.
  std::optional<std::string_view> next_line();

  /// True once a line longer than the bound was seen.
  [[nodiscard]] bool too_long() const noexcept { return too_long_; }

  /// Skips `n` raw bytes (an IMAP literal) before the next line. Returns false when fewer than
  /// n are buffered yet; call again after more data arrives.
  bool skip(std::size_t& n);

  /// True when bytes are buffered beyond the lines already taken.
  [[nodiscard]] bool has_pending() const noexcept { return start_ < data_.size(); }

  /// Drops everything buffered.
  void clear() noexcept;

 private:
  void compact();

  std::string data_;
  std::size_t start_ = 0;       // where the next line (or literal byte) begins
  std::size_t scanned_ = 0;     // data_[start_, scanned_) is known to hold no LF
  std::size_t tail_start_ = 0;  // just after the last LF appended
  std::size_t max_line_;
  bool too_long_ = false;
};

}  // namespace mailoauth::protocol::detail
