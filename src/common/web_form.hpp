// Internal: the little web text both HTTP servers of mailoauth need — the loopback listener that
// receives the sign-in redirect (src/net) and the sandbox's identity platform (src/sandbox).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::detail {

/// Parsed application/x-www-form-urlencoded fields (a query string or a form body).
using form_fields = std::map<std::string, std::string>;

/// Why a form did not parse.
struct form_problem {
  /// True: `name` was given twice (RFC 6749 section 3.1 forbids repeating a parameter, and a
  /// repeated `code` or `state` must not be resolved by guessing). False: a broken %-escape.
  bool repeated = false;
  std::string name;
};

/// Decodes one form or query component: '+' is a space, %XX an octet. Null for a broken escape.
std::optional<std::string> form_decode(std::string_view s);

/// Parses "a=1&b=2" into `out`; empty pairs and empty names are skipped. On a broken escape or
/// a repeated name returns what went wrong, and `out` holds what came before it.
std::optional<form_problem> parse_form(std::string_view s, form_fields& out);

/// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view s);

}  // namespace mailoauth::detail
