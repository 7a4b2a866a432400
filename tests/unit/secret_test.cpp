// The credential holder: never printed, emptied when moved from, compared in constant time.
#include <mailoauth/secret.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <utility>

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
  std::string empty;
  wipe(empty);
  EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace mailoauth
