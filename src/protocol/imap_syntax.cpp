#include "protocol/imap_syntax.hpp"

#include <algorithm>
#include <charconv>

namespace mailoauth::protocol::detail {
namespace {

class parser {
 public:
  explicit parser(std::string_view s) : s_(s) {}

  bool values(std::vector<imap_value>& out, bool in_list, std::string& why, int depth) {
    if (depth > 16) return fail(why, "lists nested too deeply");
    for (;;) {
      while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
      if (pos_ >= s_.size()) {
        if (in_list) return fail(why, "unterminated list");
        return true;
      }
      const char c = s_[pos_];
      if (c == ')') {
        if (!in_list) return fail(why, "unexpected )");
        ++pos_;
        return true;
      }
      imap_value v;
      if (c == '(') {
        ++pos_;
        v.k = imap_value::kind::list;
        if (!values(v.items, true, why, depth + 1)) return false;
      } else if (c == '"') {
        if (!quoted(v, why)) return false;
      } else if (c == '{') {
        if (!literal(v, why)) return false;
      } else {
        if (!atom(v, why)) return false;
      }
      out.push_back(std::move(v));
    }
  }

 private:
  static bool fail(std::string& why, const char* what) {
    why = what;
    return false;
  }

  bool quoted(imap_value& v, std::string& why) {
    v.k = imap_value::kind::string;
    ++pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (pos_ >= s_.size()) break;
        v.text.push_back(s_[pos_++]);
      } else if (c == '\r' || c == '\n') {
        return fail(why, "line break in a quoted string");
      } else {
        v.text.push_back(c);
      }
    }
    return fail(why, "unterminated quoted string");
  }

  bool literal(imap_value& v, std::string& why) {
    v.k = imap_value::kind::string;
    const auto close = s_.find('}', pos_);
    if (close == std::string_view::npos) return fail(why, "bad literal");
    auto digits = s_.substr(pos_ + 1, close - pos_ - 1);
    if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
    std::size_t n = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc{} || p != digits.data() + digits.size() || digits.empty())
      return fail(why, "bad literal size");
    pos_ = close + 1;
    if (s_.substr(pos_, 2) != "\r\n") return fail(why, "literal not followed by CRLF");
    pos_ += 2;
    if (s_.size() - pos_ < n) return fail(why, "literal shorter than announced");
    v.text.assign(s_.substr(pos_, n));
    pos_ += n;
    return true;
  }

  bool atom(imap_value& v, std::string& why) {
    v.k = imap_value::kind::atom;
    int brackets = 0;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (brackets == 0 && (c == ' ' || c == '(' || c == ')')) break;
      if (c == '\r' || c == '\n' || c == '"' || c == '{') {
        if (brackets == 0 || c == '\r' || c == '\n') break;
      }
      if (c == '[') ++brackets;
      if (c == ']') {
        if (brackets == 0) return fail(why, "unbalanced ]");
        --brackets;
      }
      v.text.push_back(c);
      ++pos_;
    }
    if (brackets != 0) return fail(why, "unbalanced [");
    if (v.text.empty()) return fail(why, "unexpected character");
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

std::optional<std::uint32_t> seq_number(std::string_view s, std::uint32_t largest) {
  if (s == "*") return largest;
  std::uint32_t n = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty() || n == 0) return std::nullopt;
  return n;
}

}  // namespace

std::optional<std::vector<imap_value>> parse_imap_values(std::string_view text, std::string& why) {
  std::vector<imap_value> out;
  parser p(text);
  if (!p.values(out, false, why, 0)) return std::nullopt;
  return out;
}

bool sequence_set::contains(std::uint32_t n) const noexcept {
  return std::any_of(ranges.begin(), ranges.end(),
                     [n](const auto& r) { return n >= r.first && n <= r.second; });
}

std::optional<sequence_set> parse_sequence_set(std::string_view text, std::uint32_t largest) {
  sequence_set set;
  if (text.empty()) return std::nullopt;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return std::nullopt;
    const auto colon = item.find(':');
    const auto a = seq_number(item.substr(0, colon), largest);
    const auto b =
        colon == std::string_view::npos ? a : seq_number(item.substr(colon + 1), largest);
    if (!a || !b) return std::nullopt;
    set.ranges.emplace_back(std::min(*a, *b), std::max(*a, *b));
  }
  return set;
}

std::optional<literal_announcement> trailing_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  auto digits = line.substr(open + 1, line.size() - open - 2);
  literal_announcement a;
  if (!digits.empty() && digits.back() == '+') {
    a.non_synchronizing = true;
    digits.remove_suffix(1);
  }
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), a.size);
  if (ec == std::errc::result_out_of_range && p == digits.data() + digits.size()) {
    a.size = static_cast<std::size_t>(-1);
    return a;
  }
  if (ec != std::errc{} || p != digits.data() + digits.size() || digits.empty())
    return std::nullopt;
  return a;
}

}  // namespace mailoauth::protocol::detail
