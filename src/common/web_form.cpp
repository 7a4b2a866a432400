#include "common/web_form.hpp"

#include <mailoauth/secret.hpp>

namespace mailoauth::detail {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '+') {
      out += ' ';
    } else if (s[k] == '%') {
      const int hi = k + 2 < s.size() ? hex_value(s[k + 1]) : -1;
      const int lo = k + 2 < s.size() ? hex_value(s[k + 2]) : -1;
      if (hi < 0 || lo < 0) {
        wipe(out);  // what came before may be part of a code or a token (issue 8)
        return std::nullopt;
      }
      out += static_cast<char>(hi * 16 + lo);
      k += 2;
    } else {
      out += s[k];
    }
  }
  return out;
}

std::optional<form_problem> parse_form(std::string_view s, form_fields& out) {
  while (!s.empty()) {
    const auto amp = s.find('&');
    const auto pair = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view() : s.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value =
        form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    // A value that is not kept is wiped: it may be a code or a token (issue 8).
    const auto drop_value = [&value] {
      if (value) wipe(*value);
    };
    if (!name || !value) {
      drop_value();
      return form_problem{};
    }
    if (name->empty()) {
      drop_value();
      continue;
    }
    if (out.contains(*name)) {
      drop_value();
      return form_problem{true, std::move(*name)};
    }
    out.emplace(std::move(*name), std::move(*value));
  }
  return std::nullopt;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace mailoauth::detail
