// XOAUTH2 client responses and their decoder, against the seed's samples.
#include <mailoauth/sasl.hpp>

#include <gtest/gtest.h>

#include <string>

#include "seed_vectors.hpp"
#include "test_util.hpp"

namespace mailoauth::sasl {
namespace {

using test::ctrl_a;

std::string encode(std::string_view user, std::string_view token) {
  return base64_encode(xoauth2_response(user, secret(std::string(token))).reveal());
}

// Decodes base64 and then the XOAUTH2 response, failing the test when either step fails.
decoded_response decode(std::string_view b64) {
  const auto raw = base64_decode(b64);
  EXPECT_TRUE(raw.has_value()) << "not base64";
  std::string why;
  auto r = decode_xoauth2(raw.value_or(""), &why);
  EXPECT_TRUE(r.has_value()) << why;
  return r.value_or(decoded_response{});
}

TEST(xoauth2, raw_response_is_the_documented_format) {
  const auto raw = xoauth2_response(test::seed_user, secret(std::string(test::seed_token)));
  EXPECT_EQ(raw.reveal(), ctrl_a("user=test@contoso.onmicrosoft.com^Aauth=Bearer "
                                 "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA^A^A"));
}

TEST(xoauth2, seed_vector_byte_for_byte_on_one_line) {
  const auto encoded = encode(test::seed_user, test::seed_token);
  EXPECT_EQ(encoded,
            "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFv"
            "N0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==");
  EXPECT_EQ(encoded, test::seed_xoauth2_base64);
  EXPECT_EQ(encoded.find_first_of("\r\n "), std::string::npos);
}

TEST(xoauth2, seed_vector_decodes_back) {
  const auto r = decode(test::seed_xoauth2_base64);
  EXPECT_EQ(r.mech, mechanism::xoauth2);
  EXPECT_EQ(r.user, test::seed_user);
  EXPECT_EQ(r.token.reveal(), test::seed_token);
  EXPECT_TRUE(r.host.empty());
  EXPECT_FALSE(r.port.has_value());
}

TEST(xoauth2, seed_imap_sample_decodes_and_reencodes_identically) {
  const auto r = decode(test::seed_imap_response);
  EXPECT_EQ(r.user, "someuser@example.com");
  EXPECT_EQ(r.token.reveal(), "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
  EXPECT_EQ(encode(r.user, r.token.reveal()), test::seed_imap_response);
}

TEST(xoauth2, seed_pop_samples_are_the_imap_response_folded) {
  // The seed folds the POP samples "for readability"; on the wire they are one line, the same
  // as the IMAP one. Folded, they are not base64 at all.
  for (const auto folded : {test::seed_pop_success_folded, test::seed_pop_failure_folded}) {
    EXPECT_EQ(base64_decode(folded), std::nullopt);
    std::string joined;
    for (const char c : folded)
      if (c != '\n') joined.push_back(c);
    EXPECT_EQ(joined, test::seed_imap_response);
  }
}

TEST(xoauth2, seed_smtp_samples_decode_with_lower_case_bearer) {
  // The seed's SMTP samples write "auth=bearer": the scheme is case-insensitive (RFC 6750
  // section 2.1 via RFC 7235), so they decode; our encoder writes "Bearer", so re-encoding the
  // fields gives another (equally valid) text, while the bytes themselves round-trip.
  const std::pair<std::string_view, std::string_view> samples[] = {
      {test::seed_smtp_success_response, "jonjon@bellred.org"},
      {test::seed_smtp_failure_response, "jonjon@bellred.com"},
  };
  for (const auto& [b64, user] : samples) {
    const auto raw = base64_decode(b64);
    ASSERT_TRUE(raw.has_value());
    EXPECT_NE(raw->find("\x01"
                        "auth=bearer "),
              std::string::npos);
    EXPECT_EQ(base64_encode(*raw), b64);

    const auto r = decode(b64);
    EXPECT_EQ(r.user, user);
    EXPECT_EQ(r.token.size(), 1659u);
    EXPECT_TRUE(r.token.reveal().starts_with("eyJ0eXAiOiJKV1QiLCJub25jZSI6"));
    EXPECT_TRUE(r.token.reveal().ends_with("R77g"));

    std::string ours(xoauth2_response(r.user, r.token).reveal());
    EXPECT_NE(base64_encode(ours), b64);
    ours.replace(ours.find("Bearer"), 6, "bearer");
    EXPECT_EQ(base64_encode(ours), b64);
  }
}

TEST(xoauth2, round_trips_long_tokens) {
  for (const std::size_t n : {1u, 4096u, 8u * 1024u, 64u * 1024u}) {
    const auto token = test::token_of(n);
    const auto encoded = encode("user@example.com", token);
    EXPECT_EQ(encoded.find('\n'), std::string::npos);
    const auto r = decode(encoded);
    EXPECT_EQ(r.user, "user@example.com");
    EXPECT_EQ(r.token.reveal(), token);
  }
}

TEST(xoauth2, decoder_accepts_any_case_of_bearer_and_ignores_unknown_keys) {
  auto r = decode_xoauth2(ctrl_a("user=u^Aauth=BEARER t^A^A"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->token.reveal(), "t");
  r = decode_xoauth2(ctrl_a("auth=Bearer t^Auser=u^Avendor=x^A^A"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->user, "u");
  EXPECT_EQ(r->token.reveal(), "t");
}

TEST(xoauth2, decoder_keeps_equals_signs_in_values) {
  const auto r = decode_xoauth2(ctrl_a("user=a=b@example.com^Aauth=Bearer abc==^A^A"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->user, "a=b@example.com");
  EXPECT_EQ(r->token.reveal(), "abc==");
}

TEST(xoauth2, decoder_rejects_malformed_responses) {
  const std::string_view bad[] = {
      "",
      "^A",
      "^A^A",
      "user=u^Aauth=Bearer t",              // no ^A^A
      "user=u^Aauth=Bearer t^A",            // only one ^A at the end
      "user=u^Aauth=Bearer t^A^Ajunk",      // data after the end
      "user=u^Aauth=Bearer t^A^Ax^A^A",     // a second message after the end
      "user=u^A^Aauth=Bearer t^A^A",        // an empty item
      "auth=Bearer t^A^A",                  // no user
      "user=^Aauth=Bearer t^A^A",           // empty user
      "user=u^A^A",                         // no auth
      "user=u^Aauth=Basic dTpw^A^A",        // not a bearer token
      "user=u^Aauth=Bearer ^A^A",           // empty token
      "user=u^Aauth=Bearert^A^A",           // no space after the scheme
      "user=u^Auser=v^Aauth=Bearer t^A^A",  // two users
      "user=u^Aauth=Bearer t^Aauth=Bearer s^A^A",
      "user=u^Anokeyvalue^Aauth=Bearer t^A^A",
      "user=u^A=x^Aauth=Bearer t^A^A",  // empty key
      "n,a=u,^Aauth=Bearer t^A^A",      // an OAUTHBEARER response
  };
  for (const auto text : bad) {
    std::string why;
    EXPECT_EQ(decode_xoauth2(ctrl_a(text), &why), std::nullopt) << text;
    EXPECT_FALSE(why.empty()) << text;
  }
}

TEST(xoauth2, decoder_errors_never_hold_the_token) {
  const std::string token = "ya29.TOPSECRETTOKENVALUE";
  for (const auto& text : {"user=u^Aauth=Bearer " + token + "^A",
                           "user=u^Aauth=Bearer " + token + "^Aauth=Bearer " + token + "^A^A",
                           "auth=Bearer " + token + "^A^A"}) {
    std::string why;
    EXPECT_EQ(decode_xoauth2(ctrl_a(text), &why), std::nullopt);
    EXPECT_EQ(why.find("TOPSECRET"), std::string::npos) << why;
  }
}

TEST(xoauth2, decode_response_dispatches_on_the_mechanism) {
  const auto raw = ctrl_a("user=u^Aauth=Bearer t^A^A");
  EXPECT_TRUE(decode_response(mechanism::xoauth2, raw).has_value());
  std::string why;
  EXPECT_FALSE(decode_response(mechanism::oauthbearer, raw, &why).has_value());
  EXPECT_NE(why.find("OAUTHBEARER"), std::string::npos);
}

}  // namespace
}  // namespace mailoauth::sasl
