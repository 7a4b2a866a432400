// base64url without padding (RFC 4648 section 5), the one codec the flows (PKCE) and the
// sandbox (JWTs, the PKCE check) share: the URL-safe alphabet, no '=', and a strict decoder.
#include "oauth/base64url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailoauth::oauth {
namespace {

using namespace std::string_literals;

TEST(base64url, has_no_padding_and_the_url_alphabet) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff"s);
  EXPECT_EQ(base64url_decode("Zm9vYmE"), "fooba"s);
  EXPECT_EQ(base64url_decode(""), ""s);
}

TEST(base64url, every_byte_value_round_trips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const auto part = all.substr(0, n);
    const auto text = base64url_encode(part);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos) << text;
    EXPECT_EQ(base64url_decode(text), part);
  }
}

TEST(base64url, refuses_padding_and_the_standard_alphabet) {
  EXPECT_EQ(base64url_decode("Zg=="), std::nullopt);
  EXPECT_EQ(base64url_decode("+/8"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9v Yg"), std::nullopt);
  EXPECT_EQ(base64url_decode("Zm9v.Yg"), std::nullopt);
}

TEST(base64url, refuses_what_no_encoding_gives) {
  EXPECT_EQ(base64url_decode("Z"), std::nullopt);      // 6 bits: not a byte
  EXPECT_EQ(base64url_decode("Zm9vY"), std::nullopt);  // likewise after a whole group
  EXPECT_EQ(base64url_decode("Zh"), std::nullopt);     // leftover bits not zero ("Zg" is "f")
  EXPECT_EQ(base64url_decode("Zm9"), std::nullopt);    // likewise ("Zm8" is "fo")
}

}  // namespace
}  // namespace mailoauth::oauth
