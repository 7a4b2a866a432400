// The token endpoint's answer: parsed through the wiping resource, so that neither the body nor
// the JSON value leaves a token in freed memory, on success and on failure.
#include "oauth/token_response.hpp"

#include "freed_memory.hpp"
#include "store/wiping_resource.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailoauth::oauth::detail {
namespace {

using test::freed_memory_scan;

constexpr std::string_view marker = "MARKER-4ac93b0f";

config::account test_account() {
  config::account a;
  a.name = "work";
  a.client_id = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";
  a.username = "user@example.com";
  return a;
}

// The body is built in place in the response's own (wiping) buffer: a std::string holding the
// tokens would itself be freed unwiped and count as a leak of the test, not of the code.
net::http_response response_with(long status, std::initializer_list<std::string_view> parts) {
  net::http_response r;
  r.status = status;
  r.content_type = "application/json";
  for (const auto part : parts) r.body.append(part);
  return r;
}

TEST(parse_secret_json, allocates_from_the_wiping_resource) {
  boost::system::error_code ec;
  const auto v = parse_secret_json(R"({"access_token":"at","nested":{"k":["v"]}})", ec);
  ASSERT_FALSE(ec);
  ASSERT_TRUE(v.is_object());
  const auto wiping = store::detail::wiping_storage();
  EXPECT_TRUE(v.storage() == wiping);
  EXPECT_TRUE(v.at("access_token").storage() == wiping);
  EXPECT_TRUE(v.at("nested").at("k").at(0).storage() == wiping);
}

TEST(parse_secret_json, refuses_what_is_not_json) {
  boost::system::error_code ec;
  const auto v = parse_secret_json(R"({"access_token":)", ec);
  EXPECT_TRUE(ec);
  EXPECT_TRUE(v.is_null());
}

TEST(parse_tokens, leaves_no_token_in_freed_memory) {
  freed_memory_scan scan(marker);
  {
    // An escape makes the parser build the string in parts, in its temporary storage.
    auto r = response_with(
        200, {R"({"token_type":"Bearer","expires_in":3599,"scope":"IMAP.AccessAsUser.All",)",
              R"("access_token":"eyJ0eXAi.)", marker, R"(.payload-long-enough-for-the-heap",)",
              R"("refresh_token":"M.C5_\/)", marker, R"(-refresh-token-long-enough",)",
              R"("id_token":"eyJ.)", marker, R"(.id-token-long-enough-for-the-heap"})"});
    const auto t = parse_tokens(r, test_account(), "https://login.example/token", nullptr);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_NE(t->access_token.reveal().find(marker), std::string_view::npos);
    EXPECT_EQ(t->refresh_token.reveal().substr(0, 5), "M.C5_");
    EXPECT_EQ(t->refresh_token.reveal()[5], '/');
    EXPECT_EQ(t->scope, "IMAP.AccessAsUser.All");
  }
  EXPECT_EQ(scan.leaks(), 0u);
  EXPECT_GE(scan.blocks(), 5u);
}

TEST(parse_tokens, a_refused_answer_leaves_no_token_in_freed_memory) {
  freed_memory_scan scan(marker);
  {
    // Tokens, but of a type mail servers cannot use: the failure path must wipe too.
    auto r = response_with(200, {R"({"token_type":"MAC","access_token":")", marker,
                                 R"(-an-access-token-long-enough-for-the-heap"})"});
    const auto t = parse_tokens(r, test_account(), "https://login.example/token", nullptr);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().message.find(marker), std::string::npos);
  }
  EXPECT_EQ(scan.leaks(), 0u);
}

TEST(parse_error, reads_an_error_body_from_any_string) {
  const auto r = response_with(
      400,
      {R"({"error":"invalid_grant","error_description":"AADSTS70008: expired.\r\nTrace ID: x",)",
       R"("error_codes":[70008]})"});
  const auto e = parse_error(r.body);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error, "invalid_grant");
  EXPECT_EQ(e->aadsts, "70008");
  EXPECT_EQ(e->description, "AADSTS70008: expired.\nTrace ID: x");
  EXPECT_FALSE(parse_error("not json"));
  EXPECT_FALSE(parse_error(R"({"access_token":"x"})"));
}

}  // namespace
}  // namespace mailoauth::oauth::detail
