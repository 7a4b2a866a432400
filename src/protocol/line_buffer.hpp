// Internal: splits a peer's byte stream into lines, with a bound on what it buffers. The bytes
// may hold credentials (a client's AUTH line, a LOGIN literal), so none is left unwiped in memory
// it gives back: not when it compacts, grows, clears or is destroyed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::protocol::detail {

class line_buffer {
 public:
  explicit line_buffer(std::size_t max_line) : max_line_(max_line) {}
  ~line_buffer();
  line_buffer(const line_buffer&) = delete;
  line_buffer& operator=(const line_buffer&) = delete;

  /// Changes the bound for the lines still to come (a server's limit after authentication).
  void set_max_line(std::size_t max_line) noexcept { max_line_ = max_line; }

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

  /// Exactly `n` raw bytes (an IMAP literal a server reads), or nullopt until that many are
  /// buffered. The view is valid until the next call.
  std::optional<std::string_view> take(std::size_t n);

  /// Everything buffered beyond the lines already taken, removed from the buffer: what a client
  /// pipelined behind the command that ends a session's part (handed over to a relay).
  std::string take_pending();

  /// How many bytes are buffered beyond the lines already taken.
  [[nodiscard]] std::size_t pending() const noexcept { return data_.size() - start_; }

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
