// The HTTP client's form: secret values stay secrets until they are encoded, and the encoded
// body leaves no copy of them in freed memory.
#include "net/http_client.hpp"

#include "freed_memory.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailoauth::net {
namespace {

using test::freed_memory_scan;

constexpr std::string_view marker = "MARKER-7d0e55a1";

TEST(form_field, holds_a_secret_as_a_secret) {
  const form_field plain("grant_type", "refresh_token");
  EXPECT_FALSE(plain.holds_secret());
  EXPECT_EQ(plain.wire_value(), "refresh_token");
  const form_field hidden("refresh_token", secret(std::string("M.R3_BAY.value")));
  EXPECT_TRUE(hidden.holds_secret());
  EXPECT_EQ(hidden.wire_value(), "M.R3_BAY.value");
}

TEST(encode_form, encodes_names_and_values_in_order) {
  std::vector<form_field> fields;
  fields.emplace_back("grant_type", "authorization_code");
  fields.emplace_back("code", secret(std::string("a+b/c=d&e%f?g#h")));
  fields.emplace_back("name with space", "Zo\xC3\xAB \xE2\x82\xAC");
  fields.emplace_back("empty", "");
  EXPECT_EQ(encode_form(fields),
            "grant_type=authorization_code&code=a%2Bb%2Fc%3Dd%26e%25f%3Fg%23h"
            "&name+with+space=Zo%C3%AB+%E2%82%AC&empty=");
  EXPECT_EQ(encode_form({}), "");
}

TEST(encode_form, allocates_the_body_once_at_its_size) {
  std::vector<form_field> fields;
  fields.emplace_back("client_secret", secret(std::string(300, '%')));  // 900 bytes encoded
  fields.emplace_back("scope", "a b");
  const auto body = encode_form(fields);
  EXPECT_EQ(body.size(),
            std::string("client_secret=").size() + 900 + std::string("&scope=a+b").size());
  EXPECT_EQ(body.capacity(), body.size());  // reserved exactly: never grown, never copied
}

TEST(encode_form, leaves_no_secret_in_freed_memory) {
  freed_memory_scan scan(marker);
  {
    std::vector<form_field> fields;
    fields.emplace_back("grant_type", "refresh_token");
    std::string value(marker);
    value.append(200, 'r');  // unreserved characters: encoded as they are, marker included
    fields.emplace_back("refresh_token", secret(std::move(value)));
    std::string client(marker);
    client.append(40, '~');
    fields.emplace_back("client_secret", secret(std::move(client)));
    for (int k = 0; k < 3; ++k) {
      const auto body = encode_form(fields);
      ASSERT_NE(body.find(marker), std::string::npos);
    }
  }
  EXPECT_EQ(scan.leaks(), 0u);
  EXPECT_GE(scan.blocks(), 3u);
}

TEST(form_encode, encodes_one_value) {
  EXPECT_EQ(form_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(form_encode(" %&+"), "+%25%26%2B");
  EXPECT_EQ(form_encode(std::string_view("\0\x01\xff", 3)), "%00%01%FF");
}

}  // namespace
}  // namespace mailoauth::net
