#include "protocol/line_buffer.hpp"

#include <mailoauth/secret.hpp>

#include <algorithm>

namespace mailoauth::protocol::detail {
namespace {

// Overwrites the bytes between s.size() and old_size, which erase() left behind past the end.
void wipe_tail(std::string& s, std::size_t old_size) {
  const auto size = s.size();
  if (old_size <= size) return;
  s.resize(old_size, '\0');
  s.resize(size);
}

}  // namespace

line_buffer::~line_buffer() {
  wipe(data_);
}

bool line_buffer::append(std::string_view bytes) {
  compact();
  const auto old_size = data_.size();
  if (old_size + bytes.size() > data_.capacity()) {
    // Grow by hand: std::string would free the old storage without wiping it.
    std::string bigger;
    bigger.reserve(std::max(2 * data_.capacity(), old_size + bytes.size()));
    bigger.append(data_);
    wipe(data_);
    data_ = std::move(bigger);
  }
  data_.append(bytes);
  if (const auto lf = bytes.rfind('\n'); lf != std::string_view::npos)
    tail_start_ = old_size + lf + 1;
  // Advisory only: the bound is enforced in next_line(), after the session has skipped any
  // IMAP literal. Checking (and latching too_long_) here counted literal bytes, which the
  // session accepts up to 1 MB, as one long line.
  return !too_long_ && data_.size() - std::max(tail_start_, start_) <= max_line_ + 1;
}

std::optional<std::string_view> line_buffer::next_line() {
  if (too_long_) return std::nullopt;
  // Bytes already searched hold no LF: a server that sends a long line a byte at a time must
  // not make every read rescan all of it.
  const auto lf = data_.find('\n', std::max(start_, scanned_));
  if (lf == std::string::npos) {
    scanned_ = data_.size();
    // An unterminated line may end in the CR of its CRLF, hence the + 1: a line of exactly
    // max_line_ bytes must not be refused because its LF arrives in a later read.
    if (data_.size() - start_ > max_line_ + 1) too_long_ = true;
    return std::nullopt;
  }
  std::string_view line(data_.data() + start_, lf - start_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // The bound is on the line without its terminator, whether CRLF or a bare LF.
  if (line.size() > max_line_) {
    too_long_ = true;
    return std::nullopt;
  }
  start_ = lf + 1;
  return line;
}

std::optional<std::string_view> line_buffer::take(std::size_t n) {
  if (data_.size() - start_ < n) return std::nullopt;
  std::string_view out(data_.data() + start_, n);
  start_ += n;
  scanned_ = std::max(scanned_, start_);
  return out;
}

std::string line_buffer::take_pending() {
  std::string out(data_, start_);
  clear();
  return out;
}

bool line_buffer::skip(std::size_t& n) {
  const auto available = data_.size() - start_;
  const auto taken = std::min(available, n);
  start_ += taken;
  n -= taken;
  return n == 0;
}

void line_buffer::clear() noexcept {
  std::fill(data_.begin(), data_.end(), '\0');
  data_.clear();
  start_ = 0;
  scanned_ = 0;
  tail_start_ = 0;
}

void line_buffer::compact() {
  if (start_ == 0) return;
  const auto old_size = data_.size();
  data_.erase(0, start_);
  wipe_tail(data_, old_size);
  scanned_ -= std::min(scanned_, start_);
  tail_start_ -= std::min(tail_start_, start_);
  start_ = 0;
}

}  // namespace mailoauth::protocol::detail
