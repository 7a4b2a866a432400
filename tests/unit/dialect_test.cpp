// The case-insensitive helpers the three dialects share, and capabilities::offers.
#include "protocol/dialect.hpp"

#include <gtest/gtest.h>

namespace mailoauth::protocol::detail {
namespace {

TEST(dialect_helpers, iequals) {
  EXPECT_TRUE(iequals("AUTH=XOAUTH2", "auth=xoauth2"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("AUTH", "AUTH="));
  EXPECT_FALSE(iequals("STARTTLS", "STARTTLZ"));
}

TEST(dialect_helpers, istarts_with) {
  EXPECT_TRUE(istarts_with("* ok hello", "* OK"));
  EXPECT_TRUE(istarts_with("abc", ""));
  EXPECT_FALSE(istarts_with("* O", "* OK"));
}

TEST(dialect_helpers, to_upper_is_ascii_only) {
  EXPECT_EQ(to_upper("xoauth2-\xe9"), "XOAUTH2-\xe9");
}

TEST(dialect_helpers, split_words_on_spaces_and_tabs) {
  EXPECT_EQ(split_words("  SASL  XOAUTH2\tPLAIN "),
            (std::vector<std::string>{"SASL", "XOAUTH2", "PLAIN"}));
  EXPECT_TRUE(split_words("").empty());
  EXPECT_TRUE(split_words(" \t ").empty());
}

TEST(dialect_helpers, offers_is_case_insensitive) {
  capabilities caps;
  caps.mechanisms = {"PLAIN", "XOAUTH2"};
  EXPECT_TRUE(caps.offers("xoauth2"));
  EXPECT_FALSE(caps.offers("OAUTHBEARER"));
}

}  // namespace
}  // namespace mailoauth::protocol::detail
