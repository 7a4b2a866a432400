// Base64 as the SASL exchanges need it: standard alphabet, padded, one line, and a strict
// decoder (RFC 4648 sections 3.3, 3.5 and 4).
#include <mailoauth/sasl.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "seed_vectors.hpp"
#include "test_util.hpp"

namespace mailoauth::sasl {
namespace {

using namespace std::string_literals;

using test::token_of;

TEST(base64, rfc4648_test_vectors) {
  // RFC 4648 section 10.
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::string(plain));
  }
}

TEST(base64, every_byte_value_round_trips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 17) {
    const auto part = all.substr(all.size() - n);
    const auto encoded = base64_encode(part);
    EXPECT_EQ(encoded.size(), 4 * ((n + 2) / 3));
    EXPECT_EQ(base64_decode(encoded), part);
  }
}

TEST(base64, uses_the_standard_alphabet) {
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(base64_decode("+/+/"), "\xfb\xff\xbf"s);
  // The URL-safe alphabet (RFC 4648 section 5) is a different encoding.
  EXPECT_EQ(base64_decode("-_-_"), std::nullopt);
}

TEST(base64, decodes_nul_bytes) {
  EXPECT_EQ(base64_decode("AA=="), "\0"s);
  EXPECT_EQ(base64_decode("AAAA"), "\0\0\0"s);
  EXPECT_EQ(base64_encode("\x01"), "AQ==");  // OAUTHBEARER's answer to an error challenge
}

TEST(base64, rejects_characters_outside_the_alphabet) {
  for (const auto bad : {"Zm9v!mFy", "Zm9v*A==", "Zm9v\x80mFy", "Zm9vYm.y", "Zm9v\"mFy"}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(base64_decode("Zm\0v"s), std::nullopt);
}

TEST(base64, rejects_whitespace) {
  for (const auto bad :
       {" Zm9v", "Zm9v ", "Zm 9v", "Zm9v\r\nYmFy", "Zm9v\nYmFy", "Zm9v\tYmFy", "Zm9vYmFy\r\n"}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

TEST(base64, rejects_lengths_that_are_not_a_multiple_of_four) {
  for (const auto bad : {"Z", "Zm", "Zm9", "Zm9vY", "Zm9vYm", "Zg", "Zg="}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

TEST(base64, rejects_bad_padding) {
  for (const auto bad :
       {"====", "Z===", "Zg=a", "Z=g=", "=Zm9", "Zm9v====", "Zg==Zg==", "Zm=vYmFy", "Zm9v=mFy"}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

TEST(base64, rejects_nonzero_pad_bits) {
  // RFC 4648 section 3.5: "Zh==" and "Zm9=" carry bits that no encoder sets. Accepting them
  // would let two different texts decode to the same bytes.
  EXPECT_EQ(base64_decode("Zh=="), std::nullopt);
  EXPECT_EQ(base64_decode("Zm9="), std::nullopt);
  EXPECT_EQ(base64_decode("QR=="), std::nullopt);
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
}

TEST(base64, never_folds_lines) {
  // EVP's streaming encoder breaks lines every 64 characters; the wire form never may.
  const auto encoded = base64_encode(token_of(3000));
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  EXPECT_EQ(encoded.find('\r'), std::string::npos);
  EXPECT_EQ(encoded.size(), 4000u);
}

TEST(base64, rejects_the_seeds_folded_form_and_accepts_it_joined) {
  EXPECT_EQ(base64_decode(test::seed_xoauth2_base64_folded), std::nullopt);
  std::string joined(test::seed_xoauth2_base64_folded);
  joined.erase(joined.find('\n'), 1);
  EXPECT_EQ(joined, test::seed_xoauth2_base64);
  EXPECT_TRUE(base64_decode(joined).has_value());
}

class base64_large : public ::testing::TestWithParam<std::size_t> {};

TEST_P(base64_large, round_trips_tokens_of_any_size) {
  const auto token = token_of(GetParam());
  const auto encoded = base64_encode(token);
  EXPECT_EQ(encoded.size(), 4 * ((token.size() + 2) / 3));
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  const auto decoded = base64_decode(encoded);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, token);
}

// Office 365 tokens are 1.5-3 KB and have been seen above 4 KB; 8 KB and 64 KB are the sizes
// the session must cope with, the others cover every padding length.
INSTANTIATE_TEST_SUITE_P(sizes, base64_large,
                         ::testing::Values(1536, 3000, 4097, 8 * 1024, 8 * 1024 + 1, 64 * 1024,
                                           64 * 1024 + 2, 1024 * 1024));

}  // namespace
}  // namespace mailoauth::sasl
