// The line splitter: CRLF and bare LF, lines in pieces, the bound on what a server can make the
// client buffer, and IMAP literals skipped raw.
#include "protocol/line_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailoauth::protocol::detail {
namespace {

std::vector<std::string> drain(line_buffer& b) {
  std::vector<std::string> out;
  while (auto l = b.next_line()) out.emplace_back(*l);
  return out;
}

using lines = std::vector<std::string>;

TEST(line_buffer, splits_crlf_lines) {
  line_buffer b(1024);
  EXPECT_TRUE(b.append("* OK ready\r\nC01 OK done\r\n"));
  EXPECT_EQ(drain(b), (lines{"* OK ready", "C01 OK done"}));
  EXPECT_FALSE(b.has_pending());
}

TEST(line_buffer, accepts_bare_lf) {
  line_buffer b(1024);
  b.append("+OK a\nb\r\n\nc\n");
  EXPECT_EQ(drain(b), (lines{"+OK a", "b", "", "c"}));
}

TEST(line_buffer, keeps_a_cr_inside_a_line) {
  line_buffer b(1024);
  b.append("a\rb\r\r\n");
  EXPECT_EQ(drain(b), (lines{"a\rb\r"}));
}

TEST(line_buffer, empty_lines) {
  line_buffer b(1024);
  b.append("\r\n\r\n");
  EXPECT_EQ(drain(b), (lines{"", ""}));
}

TEST(line_buffer, waits_for_the_end_of_a_line) {
  line_buffer b(1024);
  b.append("A01 O");
  EXPECT_EQ(b.next_line(), std::nullopt);
  EXPECT_TRUE(b.has_pending());
  b.append("K AUTHENTICATE");
  EXPECT_EQ(b.next_line(), std::nullopt);
  b.append(" completed.\r");
  EXPECT_EQ(b.next_line(), std::nullopt);
  b.append("\n* BYE");
  EXPECT_EQ(drain(b), (lines{"A01 OK AUTHENTICATE completed."}));
  EXPECT_TRUE(b.has_pending());
  b.append("\r\n");
  EXPECT_EQ(drain(b), (lines{"* BYE"}));
}

TEST(line_buffer, byte_by_byte) {
  const std::string text = "250-smtp.example.com\r\n250-AUTH XOAUTH2\n250 8BITMIME\r\n";
  line_buffer b(64);
  lines got;
  for (const char c : text) {
    EXPECT_TRUE(b.append(std::string_view(&c, 1)));
    for (auto l : drain(b)) got.push_back(l);
  }
  EXPECT_EQ(got, (lines{"250-smtp.example.com", "250-AUTH XOAUTH2", "250 8BITMIME"}));
  EXPECT_FALSE(b.too_long());
}

TEST(line_buffer, a_line_of_exactly_the_bound_is_accepted) {
  const std::string line(16, 'x');
  {
    line_buffer b(16);
    b.append(line + "\r\n");
    EXPECT_EQ(drain(b), (lines{line}));
    EXPECT_FALSE(b.too_long());
  }
  {
    line_buffer b(16);
    b.append(line + "\n");
    EXPECT_EQ(drain(b), (lines{line}));
  }
  {
    // The CR arrives in one read, the LF in the next: still the same 16-byte line.
    line_buffer b(16);
    EXPECT_TRUE(b.append(line + "\r"));
    EXPECT_EQ(b.next_line(), std::nullopt);
    EXPECT_FALSE(b.too_long());
    EXPECT_TRUE(b.append("\n"));
    EXPECT_EQ(drain(b), (lines{line}));
    EXPECT_FALSE(b.too_long());
  }
}

TEST(line_buffer, a_longer_line_in_one_piece_is_reported) {
  for (const auto* end : {"\r\n", "\n"}) {
    line_buffer b(16);
    b.append(std::string(17, 'x') + end + "A01 OK\r\n");
    EXPECT_EQ(b.next_line(), std::nullopt) << "terminated by " << (end[0] == '\r' ? "CRLF" : "LF");
    EXPECT_TRUE(b.too_long());
    // Once reported, the buffer stays stopped: what follows an overlong line is not trusted.
    EXPECT_EQ(b.next_line(), std::nullopt);
  }
}

TEST(line_buffer, an_unterminated_line_is_reported_as_it_grows) {
  line_buffer b(16);
  EXPECT_TRUE(b.append(std::string(10, 'x')));
  EXPECT_EQ(b.next_line(), std::nullopt);
  EXPECT_FALSE(b.too_long());
  EXPECT_FALSE(b.append(std::string(10, 'x')));
  EXPECT_EQ(b.next_line(), std::nullopt);
  EXPECT_TRUE(b.too_long());
  EXPECT_FALSE(b.append("\r\n"));
  EXPECT_EQ(b.next_line(), std::nullopt);
}

TEST(line_buffer, a_hostile_line_is_refused_at_the_bound) {
  // 64 KB is the session's default; a server that never sends LF is stopped there.
  line_buffer b(64 * 1024);
  const std::string chunk(4096, 'A');
  std::size_t sent = 0;
  while (!b.too_long() && sent < 1024 * 1024) {
    b.append(chunk);
    sent += chunk.size();
    EXPECT_EQ(b.next_line(), std::nullopt);
  }
  EXPECT_TRUE(b.too_long());
  EXPECT_LE(sent, 64u * 1024u + chunk.size() + 1);
}

TEST(line_buffer, lines_before_an_overlong_one_are_delivered) {
  line_buffer b(16);
  b.append("+OK\r\n" + std::string(40, 'x'));
  EXPECT_EQ(b.next_line(), "+OK");
  EXPECT_EQ(b.next_line(), std::nullopt);
  EXPECT_TRUE(b.too_long());
}

TEST(line_buffer, lines_longer_than_any_token_line) {
  // 64 KB tokens fit a buffer sized for them.
  const std::string line = "+ " + std::string(64 * 1024, 'e');
  line_buffer b(line.size());
  for (std::size_t i = 0; i < line.size(); i += 1000) b.append(line.substr(i, 1000));
  b.append("\r\n");
  EXPECT_EQ(drain(b), (lines{line}));
}

TEST(line_buffer, a_long_line_arriving_a_byte_at_a_time) {
  // What a slow (or hostile) server does; the line must come out whole, and the buffer must
  // not rescan it on every read.
  const std::string line = "334 " + std::string(64 * 1024 - 4, 'e');
  line_buffer b(line.size());
  for (const char c : line) {
    b.append(std::string_view(&c, 1));
    ASSERT_EQ(b.next_line(), std::nullopt);
  }
  b.append("\r");
  EXPECT_EQ(b.next_line(), std::nullopt);
  b.append("\n250 next\r\n");
  EXPECT_EQ(drain(b), (lines{line, "250 next"}));
  EXPECT_FALSE(b.too_long());
}

TEST(line_buffer, skips_a_literal) {
  line_buffer b(1024);
  b.append("* 1 FETCH (BODY[] {6}\r\nab\r\ncd)\r\nA01 OK\r\n");
  EXPECT_EQ(b.next_line(), "* 1 FETCH (BODY[] {6}");
  std::size_t n = 6;
  EXPECT_TRUE(b.skip(n));
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(drain(b), (lines{")", "A01 OK"}));
}

TEST(line_buffer, skips_a_literal_that_arrives_in_pieces) {
  line_buffer b(1024);
  b.append("* X {10}\r\n0123");
  EXPECT_EQ(b.next_line(), "* X {10}");
  std::size_t n = 10;
  EXPECT_FALSE(b.skip(n));
  EXPECT_EQ(n, 6u);
  EXPECT_FALSE(b.has_pending());
  b.append("45");
  EXPECT_FALSE(b.skip(n));
  EXPECT_EQ(n, 4u);
  b.append("6789 rest\r\n");
  EXPECT_TRUE(b.skip(n));
  EXPECT_EQ(drain(b), (lines{" rest"}));
}

TEST(line_buffer, a_literal_longer_than_the_bound_is_skipped_not_refused) {
  // Literals are raw bytes the session skips (up to 1 MB); they are no line and must not trip
  // the bound, whether they come in one read or several.
  for (const std::size_t piece : {std::size_t{100}, std::size_t{7}}) {
    line_buffer b(16);
    const std::string literal(100, 'L');
    std::string stream = "* X {100}\r\n" + literal + ")\r\nA01 OK\r\n";
    EXPECT_TRUE(b.append(stream.substr(0, 11)));
    EXPECT_EQ(b.next_line(), "* X {100}");
    stream.erase(0, 11);
    std::size_t n = 100;
    lines got;
    for (std::size_t i = 0; i < stream.size(); i += piece) {
      b.append(stream.substr(i, piece));
      if (n > 0 && !b.skip(n)) continue;
      for (auto l : drain(b)) got.push_back(l);
    }
    EXPECT_FALSE(b.too_long()) << "piece " << piece;
    EXPECT_EQ(got, (lines{")", "A01 OK"})) << "piece " << piece;
  }
}

TEST(line_buffer, clear_drops_everything) {
  line_buffer b(1024);
  b.append("220 go ahead\r\n* injected\r\n");
  EXPECT_EQ(b.next_line(), "220 go ahead");
  EXPECT_TRUE(b.has_pending());
  b.clear();
  EXPECT_FALSE(b.has_pending());
  EXPECT_EQ(b.next_line(), std::nullopt);
  b.append("250 after TLS\r\n");
  EXPECT_EQ(drain(b), (lines{"250 after TLS"}));
}

}  // namespace
}  // namespace mailoauth::protocol::detail
