// The form and HTML helpers that the loopback listener and the sandbox's identity platform share.
#include "common/web_form.hpp"

#include <gtest/gtest.h>

namespace mailoauth::detail {
namespace {

TEST(web_form, decodes_plus_and_percent_escapes) {
  form_fields f;
  EXPECT_FALSE(parse_form("code=a%2Bb+c&state=x%3D1&&=ignored&empty=", f));
  EXPECT_EQ(f.at("code"), "a+b c");
  EXPECT_EQ(f.at("state"), "x=1");
  EXPECT_EQ(f.at("empty"), "");
  EXPECT_EQ(f.size(), 3U);
}

TEST(web_form, broken_escape_and_repeated_name_are_problems) {
  form_fields f;
  const auto broken = parse_form("a=%4", f);
  ASSERT_TRUE(broken);
  EXPECT_FALSE(broken->repeated);
  EXPECT_TRUE(parse_form("a=%zz", f));
  form_fields g;
  const auto repeated = parse_form("state=1&code=2&state=3", g);
  ASSERT_TRUE(repeated);
  EXPECT_TRUE(repeated->repeated);
  EXPECT_EQ(repeated->name, "state");
}

TEST(web_form, html_escape_covers_text_and_attributes) {
  EXPECT_EQ(html_escape(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace mailoauth::detail
