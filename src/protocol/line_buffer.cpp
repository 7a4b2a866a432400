#include "protocol/line_buffer.hpp"

#include <algorithm>

namespace mailoauth::protocol::detail {

bool line_buffer::append(std::string_view bytes) {
  compact();
  data_.append(bytes);
  // Only the unterminated tail counts against the bound; complete lines are taken one by one.
  const auto last_lf = data_.rfind('\n');
  const auto tail_start = last_lf == std::string::npos ? start_ : last_lf + 1;
  if (data_.size() - tail_start > max_line_) too_long_ = true;
  return !too_long_;
}

std::optional<std::string_view> line_buffer::next_line() {
  const auto lf = data_.find('\n', start_);
  if (lf == std::string::npos || too_long_) return std::nullopt;
  if (lf - start_ > max_line_ + 1) {
    too_long_ = true;
    return std::nullopt;
  }
  std::string_view line(data_.data() + start_, lf - start_);
  start_ = lf + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool line_buffer::skip(std::size_t& n) {
  const auto available = data_.size() - start_;
  const auto taken = std::min(available, n);
  start_ += taken;
  n -= taken;
  return n == 0;
}

void line_buffer::clear() noexcept {
  data_.clear();
  start_ = 0;
}

void line_buffer::compact() {
  if (start_ == 0) return;
  data_.erase(0, start_);
  start_ = 0;
}

}  // namespace mailoauth::protocol::detail
