// The JSON error challenge that servers send when they refuse a token.
#include <mailoauth/sasl.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "seed_vectors.hpp"

namespace mailoauth::sasl {
namespace {

std::optional<error_challenge> decode_json(std::string_view json) {
  return decode_error_challenge(base64_encode(json));
}

TEST(error_challenge, seed_pop_failure_challenge) {
  const auto c = decode_error_challenge(test::seed_pop_challenge);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, "400");
  EXPECT_EQ(c->schemes, "Bearer");
  EXPECT_EQ(c->scope, "https://mail.google.com/");
  EXPECT_TRUE(c->openid_configuration.empty());
  EXPECT_EQ(c->json, R"({"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"})");
}

TEST(error_challenge, google_401) {
  const auto c =
      decode_json(R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, "401");
  EXPECT_EQ(c->schemes, "bearer");
  EXPECT_NE(explain(*c).find("expired"), std::string::npos);
}

TEST(error_challenge, rfc7628_failure) {
  // RFC 7628 section 4.3 ("Failed Exchange"), base64 as the RFC prints it, joined.
  const auto c = decode_error_challenge(
      "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRp"
      "b24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, "invalid_token");
  EXPECT_EQ(c->scope, "example_scope");
  EXPECT_EQ(c->openid_configuration, "https://example.com/.well-known/openid-configuration");
  EXPECT_TRUE(c->schemes.empty());
  EXPECT_NE(explain(*c).find("invalid"), std::string::npos);
}

TEST(error_challenge, numeric_status_is_kept_as_text) {
  EXPECT_EQ(decode_json(R"({"status":401})").value().status, "401");
  EXPECT_EQ(decode_json(R"({"status":18446744073709551615})").value().status,
            "18446744073709551615");
  EXPECT_EQ(decode_json(R"({"status":-1})").value().status, "-1");
}

TEST(error_challenge, missing_or_odd_members_are_empty) {
  const auto c = decode_json(R"({"status":true,"scope":["a"],"schemes":null,"extra":{"x":1}})");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->status.empty());
  EXPECT_TRUE(c->scope.empty());
  EXPECT_TRUE(c->schemes.empty());
  EXPECT_TRUE(decode_json("{}").has_value());
}

TEST(error_challenge, rejects_what_is_not_base64_of_a_json_object) {
  EXPECT_EQ(decode_error_challenge("not base64!"), std::nullopt);
  EXPECT_EQ(decode_error_challenge(""), std::nullopt);  // the empty continuation
  EXPECT_EQ(decode_error_challenge("eyJzdGF0dXMiOiI0MDAifQ"), std::nullopt);  // unpadded
  EXPECT_EQ(decode_json("status=401"), std::nullopt);
  EXPECT_EQ(decode_json(R"(["status","401"])"), std::nullopt);
  EXPECT_EQ(decode_json(R"("401")"), std::nullopt);
  EXPECT_EQ(decode_json("401"), std::nullopt);
  EXPECT_EQ(decode_json(R"({"status":"401")"), std::nullopt);
  EXPECT_EQ(decode_json(R"({"status":"401"} trailing)"), std::nullopt);
}

TEST(error_challenge, bounds_nesting) {
  // A hostile server must not be able to exhaust the stack with nesting.
  std::string deep = R"({"status":"401","x":)";
  for (int i = 0; i < 10000; ++i) deep += "[";
  EXPECT_EQ(decode_json(deep), std::nullopt);
  EXPECT_TRUE(decode_json(R"({"status":"401","x":[[[1]]]})").has_value());
}

TEST(error_challenge, explanations) {
  std::set<std::string> seen;
  for (const auto status :
       {"401", "invalid_token", "400", "invalid_request", "403", "insufficient_scope", "", "500"}) {
    error_challenge c;
    c.status = status;
    const auto text = explain(c);
    EXPECT_FALSE(text.empty()) << status;
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 5u);  // 401 and invalid_token agree, and so on

  error_challenge scoped;
  scoped.status = "insufficient_scope";
  scoped.scope = "https://outlook.office365.com/IMAP.AccessAsUser.All";
  EXPECT_NE(explain(scoped).find(scoped.scope), std::string::npos);

  error_challenge other;
  other.status = "teapot";
  EXPECT_NE(explain(other).find("teapot"), std::string::npos);
}

}  // namespace
}  // namespace mailoauth::sasl
