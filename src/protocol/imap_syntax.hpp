// Internal: the parts of IMAP4rev1's grammar (RFC 3501 section 9) that servers read (the server
// session before authentication, the sandbox's mailboxes after it): a command's arguments as
// atoms, strings (quoted or literal) and parenthesised lists, and sequence sets; and the one
// parser of literal announcements, for both sides. Literals arrive inline ("{n}\r\n" then n
// octets) because the session reads them before parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::protocol::detail {

struct imap_value {
  enum class kind { atom, string, list };
  kind k = kind::atom;
  std::string text;  // atom or string content
  std::vector<imap_value> items;

  [[nodiscard]] bool is_atom() const noexcept { return k == kind::atom; }
  [[nodiscard]] bool is_list() const noexcept { return k == kind::list; }
  /// An atom or a string: what RFC 3501 calls "astring".
  [[nodiscard]] bool is_astring() const noexcept { return k != kind::list; }
};

/// Parses the values of a command after its tag. nullopt (with `why`) on a syntax error.
std::optional<std::vector<imap_value>> parse_imap_values(std::string_view text, std::string& why);

/// A sequence set ("1:3,5,7:*"); `*` stands for `largest`.
struct sequence_set {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
  [[nodiscard]] bool contains(std::uint32_t n) const noexcept;
};
std::optional<sequence_set> parse_sequence_set(std::string_view text, std::uint32_t largest);

/// An atom that ends a line with a literal announcement: {n} or {n+} (RFC 7888's LITERAL+).
struct literal_announcement {
  std::size_t size = 0;
  bool non_synchronizing = false;
};
/// The literal announced at the end of a line, if any. A count too large for size_t is still an
/// announcement, reported as the largest size: the octets follow whatever the reader thinks of
/// them, so taking the line as complete would read the literal as commands or responses. The
/// caller refuses it as too large.
std::optional<literal_announcement> trailing_literal(std::string_view line);

}  // namespace mailoauth::protocol::detail
