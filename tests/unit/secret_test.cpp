// The credential holder: never printed (streams, {fmt}), emptied when moved from, wiped to its
// whole capacity, compared in constant time whatever the lengths.
#include <mailoauth/secret.hpp>
#include <mailoauth/secret_format.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>
#include <utility>
#include <vector>

namespace mailoauth {
namespace {

TEST(secret, prints_redacted) {
  const secret s(std::string("ya29.a0AfH6SMBxTOPSECRET"));
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[redacted]");
  std::ostringstream empty;
  empty << secret{};
  EXPECT_EQ(empty.str(), "[redacted]");
}

TEST(secret, formats_redacted_with_fmt) {
  static_assert(fmt::is_formattable<secret>::value);
  const secret s(std::string("ya29.a0AfH6SMBxTOPSECRET"));
  EXPECT_EQ(fmt::format("{}", s), "[redacted]");
  EXPECT_EQ(fmt::format("token={} refresh={}", s, secret{}), "token=[redacted] refresh=[redacted]");
  // The text's format spec applies to "[redacted]", never to the value (its length included).
  EXPECT_EQ(fmt::format("[{:>12}]", s), "[  [redacted]]");
  EXPECT_EQ(fmt::format("[{:*<11}]", s), "[[redacted]*]");
  EXPECT_EQ(fmt::format("{:.3}", s), "[re");
}

TEST(secret, gtest_failure_messages_stay_redacted) {
  // gtest prints values through operator<<: a failing EXPECT_EQ on secrets must not show them.
  EXPECT_EQ(::testing::PrintToString(secret(std::string("TOPSECRET"))), "[redacted]");
}

TEST(secret, reveals_its_value) {
  const secret s(std::string("abc"));
  EXPECT_EQ(s.reveal(), "abc");
  EXPECT_EQ(s.size(), 3u);
  EXPECT_FALSE(s.empty());
  EXPECT_TRUE(secret{}.empty());
}

TEST(secret, moved_from_is_empty) {
  secret a(std::string("a long enough value to leave the small string buffer"));
  secret b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(a.reveal(), "");
  EXPECT_EQ(b.reveal(), "a long enough value to leave the small string buffer");

  secret c(std::string("short"));
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.reveal(), "a long enough value to leave the small string buffer");

  secret d(std::string("x"));
  secret e(std::move(d));
  EXPECT_TRUE(d.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(e.reveal(), "x");
}

TEST(secret, self_move_assignment_keeps_the_value) {
  secret a(std::string("value"));
  secret& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.reveal(), "value");
}

TEST(secret, copies_are_equal_and_independent) {
  const secret a(std::string("value"));
  secret b(a);
  EXPECT_EQ(b.reveal(), "value");
  EXPECT_TRUE(a == b);
  b.clear();
  EXPECT_EQ(a.reveal(), "value");
  secret c;
  c = a;
  EXPECT_TRUE(c == a);
}

TEST(secret, equality) {
  EXPECT_TRUE(secret(std::string("abc")) == secret(std::string("abc")));
  EXPECT_FALSE(secret(std::string("abc")) == secret(std::string("abd")));
  EXPECT_FALSE(secret(std::string("abc")) == secret(std::string("ab")));
  EXPECT_FALSE(secret(std::string("ab")) == secret(std::string("abc")));
  EXPECT_TRUE(secret{} == secret(std::string()));
  EXPECT_FALSE(secret{} == secret(std::string("a")));
  EXPECT_TRUE(secret(std::string("a\0b", 3)) == secret(std::string("a\0b", 3)));
  EXPECT_FALSE(secret(std::string("a\0b", 3)) == secret(std::string("a\0c", 3)));
  // operator!= is synthesised from operator== in C++20.
  EXPECT_TRUE(secret(std::string("x")) != secret(std::string("y")));
}

TEST(secret, equality_for_every_length_relation) {
  // Comparison runs over the longer length, reading a shorter value's terminating NUL past its
  // end: a value must still differ from itself followed by NULs, and a prefix from the whole.
  const auto s = [](std::string_view v) { return secret(std::string(v)); };
  EXPECT_FALSE(s("a") == s(std::string_view("a\0", 2)));
  EXPECT_FALSE(s(std::string_view("a\0", 2)) == s("a"));
  EXPECT_FALSE(s("") == s(std::string_view("\0", 1)));
  EXPECT_FALSE(s(std::string_view("\0\0\0", 3)) == s(std::string_view("\0", 1)));
  EXPECT_TRUE(s(std::string_view("\0\0", 2)) == s(std::string_view("\0\0", 2)));

  const std::string long_value(5000, 'q');
  EXPECT_TRUE(s(long_value) == s(long_value));
  EXPECT_FALSE(s(long_value) == s(long_value.substr(0, 4999)));
  EXPECT_FALSE(s(long_value.substr(0, 1)) == s(long_value));
  EXPECT_FALSE(s(long_value) == s(long_value + "q"));
  for (const std::size_t at :
       {std::size_t{0}, std::size_t{1}, std::size_t{2500}, std::size_t{4999}}) {
    std::string other = long_value;
    other[at] = 'r';
    EXPECT_FALSE(s(long_value) == s(other)) << at;
    EXPECT_FALSE(s(other) == s(long_value)) << at;
  }
  // Differences in the high bit, and every byte value against its neighbour.
  for (int c = 0; c < 255; ++c) {
    const std::string a(1, static_cast<char>(c));
    const std::string b(1, static_cast<char>(c + 1));
    EXPECT_FALSE(s(a) == s(b)) << c;
    EXPECT_TRUE(s(a) == s(a)) << c;
  }
  // The same value, differently stored (one in the string object, one on the heap after being
  // shortened): only the bytes up to the length count.
  std::string shortened(100, 'x');
  shortened.resize(3);
  EXPECT_TRUE(s(shortened) == s("xxx"));
}

TEST(secret, clear_empties) {
  secret s(std::string("value"));
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.reveal(), "");
}

TEST(secret, wipe_empties_a_string) {
  std::string s = "credential";
  wipe(s);
  EXPECT_TRUE(s.empty());
  // The whole capacity: a value that was shortened leaves its tail in the buffer otherwise.
  std::string shortened(200, 'k');
  shortened.resize(5);
  const std::size_t capacity = shortened.capacity();
  wipe(shortened);
  EXPECT_TRUE(shortened.empty());
  ASSERT_EQ(shortened.capacity(), capacity);  // the same buffer, still owned by the string
  const std::string_view buffer(shortened.data(), capacity);
  EXPECT_EQ(buffer.find('k'), std::string_view::npos);
  std::string empty;
  wipe(empty);
  EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace mailoauth
