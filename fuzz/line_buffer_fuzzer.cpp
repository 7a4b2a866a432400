// The line splitter under every reply parser, against a plain model of what it must do: the
// input is a program of appends, line reads, literal skips and clears, run on both.
#include "protocol/line_buffer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

namespace {

// The specification, written for clarity rather than speed.
class model {
 public:
  explicit model(std::size_t max_line) : max_(max_line) {}

  bool append(std::string_view bytes) {
    buf_.append(bytes);
    const auto lf = buf_.rfind('\n');
    const auto tail = lf == std::string::npos ? std::size_t{0} : lf + 1;
    return !too_long_ && buf_.size() - std::max(tail, pos_) <= max_ + 1;
  }

  std::optional<std::string> next_line() {
    if (too_long_) return std::nullopt;
    const auto lf = buf_.find('\n', pos_);
    if (lf == std::string::npos) {
      if (buf_.size() - pos_ > max_ + 1) too_long_ = true;
      return std::nullopt;
    }
    auto line = buf_.substr(pos_, lf - pos_);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > max_) {
      too_long_ = true;
      return std::nullopt;
    }
    pos_ = lf + 1;
    return line;
  }

  bool skip(std::size_t& n) {
    const auto taken = std::min(n, buf_.size() - pos_);
    pos_ += taken;
    n -= taken;
    return n == 0;
  }

  void clear() {
    buf_.clear();
    pos_ = 0;
  }

  bool has_pending() const { return pos_ < buf_.size(); }
  bool too_long() const { return too_long_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t max_;
  bool too_long_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t max_line = data[0] % 64;
  mailoauth::protocol::detail::line_buffer real(max_line);
  model spec(max_line);

  std::size_t i = 1;
  auto next_byte = [&]() -> std::size_t { return i < size ? data[i++] : 0; };
  while (i < size) {
    const auto op = next_byte();
    switch (op % 8) {
      case 0:
      case 1:
      case 2: {
        // Append the next 0-31 input bytes; LF, CR and other bytes all come from the input.
        const auto n = std::min(op / 8, size - i);
        const std::string_view bytes(reinterpret_cast<const char*>(data + i), n);
        i += n;
        const bool a = real.append(bytes);
        const bool b = spec.append(bytes);
        MAILOAUTH_FUZZ_CHECK(a == b, "append disagrees");
        break;
      }
      case 3:
      case 4:
      case 5: {
        const auto a = real.next_line();
        const auto b = spec.next_line();
        MAILOAUTH_FUZZ_CHECK(a.has_value() == b.has_value(), "next_line disagrees");
        if (a) MAILOAUTH_FUZZ_CHECK(*a == *b, "next_line returned another line");
        break;
      }
      case 6: {
        std::size_t n1 = next_byte();
        std::size_t n2 = n1;
        MAILOAUTH_FUZZ_CHECK(real.skip(n1) == spec.skip(n2), "skip disagrees");
        MAILOAUTH_FUZZ_CHECK(n1 == n2, "skip left another count");
        break;
      }
      default:
        if (op & 0x80) {
          real.clear();
          spec.clear();
        }
        break;
    }
    MAILOAUTH_FUZZ_CHECK(real.has_pending() == spec.has_pending(), "has_pending disagrees");
    MAILOAUTH_FUZZ_CHECK(real.too_long() == spec.too_long(), "too_long disagrees");
  }
  return 0;
}
