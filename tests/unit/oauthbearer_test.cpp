// OAUTHBEARER (RFC 7628) client responses and their decoder.
#include <mailoauth/sasl.hpp>

#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace mailoauth::sasl {
namespace {

using test::ctrl_a;

// RFC 7628 section 4.1, "Successful Bearer Token Exchange" (IMAP).
constexpr std::string_view rfc_user = "user@example.com";
constexpr std::string_view rfc_host = "server.example.com";
constexpr std::uint16_t rfc_port = 143;
constexpr std::string_view rfc_token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
// The RFC prints it over four lines; joined:
constexpr std::string_view rfc_base64 =
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZG"
    "OWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";

secret token(std::string_view t) {
  return secret(std::string(t));
}

TEST(oauthbearer, rfc7628_example_raw) {
  const auto raw = oauthbearer_response(rfc_user, token(rfc_token), rfc_host, rfc_port);
  EXPECT_EQ(raw.reveal(), ctrl_a("n,a=user@example.com,^Ahost=server.example.com^Aport=143^A"
                                 "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==^A^A"));
}

TEST(oauthbearer, rfc7628_example_base64) {
  const auto raw = oauthbearer_response(rfc_user, token(rfc_token), rfc_host, rfc_port);
  EXPECT_EQ(base64_encode(raw.reveal()), rfc_base64);
}

TEST(oauthbearer, rfc7628_example_decodes) {
  const auto raw = base64_decode(rfc_base64);
  ASSERT_TRUE(raw.has_value());
  std::string why;
  const auto r = decode_oauthbearer(*raw, &why);
  ASSERT_TRUE(r.has_value()) << why;
  EXPECT_EQ(r->mech, mechanism::oauthbearer);
  EXPECT_EQ(r->user, rfc_user);
  EXPECT_EQ(r->host, rfc_host);
  EXPECT_EQ(r->port, rfc_port);
  EXPECT_EQ(r->token.reveal(), rfc_token);
}

TEST(oauthbearer, host_and_port_are_optional) {
  EXPECT_EQ(oauthbearer_response("u", token("t")).reveal(), ctrl_a("n,a=u,^Aauth=Bearer t^A^A"));
  EXPECT_EQ(oauthbearer_response("u", token("t"), "h").reveal(),
            ctrl_a("n,a=u,^Ahost=h^Aauth=Bearer t^A^A"));
  EXPECT_EQ(oauthbearer_response("u", token("t"), {}, 993).reveal(),
            ctrl_a("n,a=u,^Aport=993^Aauth=Bearer t^A^A"));
  const auto r = decode_oauthbearer(ctrl_a("n,a=u,^Aauth=Bearer t^A^A"));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->host.empty());
  EXPECT_FALSE(r->port.has_value());
}

TEST(oauthbearer, empty_user_leaves_the_authzid_out) {
  // RFC 5801: the authzid is optional; "n,," is a valid GS2 header.
  EXPECT_EQ(oauthbearer_response("", token("t")).reveal(), ctrl_a("n,,^Aauth=Bearer t^A^A"));
  const auto r = decode_oauthbearer(ctrl_a("n,,^Aauth=Bearer t^A^A"));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->user.empty());
}

TEST(oauthbearer, saslname_escapes_comma_and_equals) {
  // RFC 5801 section 4: saslname writes ',' as "=2C" and '=' as "=3D".
  const auto raw = oauthbearer_response("a,b=c@example.com", token("t"));
  EXPECT_EQ(raw.reveal(), ctrl_a("n,a=a=2Cb=3Dc@example.com,^Aauth=Bearer t^A^A"));
  const auto r = decode_oauthbearer(raw.reveal());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->user, "a,b=c@example.com");

  const auto only = oauthbearer_response(",=,", token("t"));
  EXPECT_EQ(only.reveal(), ctrl_a("n,a==2C=3D=2C,^Aauth=Bearer t^A^A"));
  EXPECT_EQ(decode_oauthbearer(only.reveal()).value().user, ",=,");
}

TEST(oauthbearer, decoder_accepts_the_y_flag_and_other_keys) {
  // "y": the client supports channel binding but thinks the server does not; other keys
  // (RFC 7628 section 3.1 allows extensions) are skipped.
  const auto r = decode_oauthbearer(ctrl_a("y,a=u,^Amthd=POST^Aauth=bearer t^A^A"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->user, "u");
  EXPECT_EQ(r->token.reveal(), "t");
}

TEST(oauthbearer, decoder_reads_ports) {
  for (const auto& [text, port] : {std::pair<const char*, std::uint16_t>{"0", 0},
                                   {"25", 25},
                                   {"65535", 65535},
                                   {"00587", 587}}) {
    const auto r =
        decode_oauthbearer(ctrl_a(std::string("n,,^Aport=") + text + "^Aauth=Bearer t^A^A"));
    ASSERT_TRUE(r.has_value()) << text;
    EXPECT_EQ(r->port, port);
  }
}

TEST(oauthbearer, decoder_rejects_malformed_responses) {
  const std::string_view bad[] = {
      "",
      "^A",                                 // the answer to an error challenge
      "auth=Bearer t^A^A",                  // no GS2 header
      "^Aauth=Bearer t^A^A",                // no GS2 header
      "user=u^Aauth=Bearer t^A^A",          // an XOAUTH2 response
      "p=tls-unique,,^Aauth=Bearer t^A^A",  // channel binding
      "p=tls-server-end-point,a=u,^Aauth=Bearer t^A^A",
      "x,,^Aauth=Bearer t^A^A",                 // unknown channel-binding flag
      "n,a=u^Aauth=Bearer t^A^A",               // GS2 header not terminated
      "n,u,^Aauth=Bearer t^A^A",                // authzid without a=
      "n,a=a=2Xb,^Aauth=Bearer t^A^A",          // bad escape
      "n,a=a=2cb,^Aauth=Bearer t^A^A",          // escapes are upper-case
      "n,a=ab=,^Aauth=Bearer t^A^A",            // truncated escape
      "n,,auth=Bearer t^A^A",                   // no ^A after the GS2 header
      "n,,^A^A",                                // no auth
      "n,,^Ahost=h^Aport=143^A^A",              // no auth
      "n,,^Aauth=Bearer t",                     // no end
      "n,,^Aauth=Bearer t^A",                   // one ^A at the end
      "n,,^Aauth=Bearer t^A^Ajunk",             // data after the end
      "n,,^Aauth=Bearer t^A^Ahost=h^A",         // items after the end
      "n,,^Aauth=Bearer t^Aauth=Bearer s^A^A",  // two auth items
      "n,,^Aauth=Basic dTpw^A^A",               // not a bearer token
      "n,,^Aauth=Bearer ^A^A",                  // empty token
      "n,,^Anokeyvalue^Aauth=Bearer t^A^A",     // not key=value
      "n,,^Ah0st=h^Aauth=Bearer t^A^A",         // keys are alphabetic
      "n,,^A=h^Aauth=Bearer t^A^A",             // empty key
      "n,,^Aport=^Aauth=Bearer t^A^A",          // empty port
      "n,,^Aport=abc^Aauth=Bearer t^A^A",       // bad port
      "n,,^Aport=65536^Aauth=Bearer t^A^A",     // port out of range
      "n,,^Aport=-1^Aauth=Bearer t^A^A",        // negative port
      "n,,^Aport=+143^Aauth=Bearer t^A^A",      // sign
      "n,,^Aport=143 ^Aauth=Bearer t^A^A",      // trailing space
      "n,,^Aport=1.5^Aauth=Bearer t^A^A",
  };
  for (const auto text : bad) {
    std::string why;
    EXPECT_EQ(decode_oauthbearer(ctrl_a(text), &why), std::nullopt) << text;
    EXPECT_FALSE(why.empty()) << text;
  }
}

TEST(oauthbearer, decoder_explains_channel_binding_and_ports) {
  std::string why;
  EXPECT_FALSE(decode_oauthbearer(ctrl_a("p=tls-unique,,^Aauth=Bearer t^A^A"), &why));
  EXPECT_NE(why.find("channel binding"), std::string::npos) << why;
  EXPECT_FALSE(decode_oauthbearer(ctrl_a("n,,^Aport=99999^Aauth=Bearer t^A^A"), &why));
  EXPECT_NE(why.find("port"), std::string::npos) << why;
  EXPECT_FALSE(decode_oauthbearer(ctrl_a("n,,^Ahost=h^A^A"), &why));
  EXPECT_NE(why.find("auth"), std::string::npos) << why;
  EXPECT_FALSE(decode_oauthbearer(ctrl_a("n,,^Aauth=Bearer t^A^Ajunk"), &why));
  EXPECT_FALSE(why.empty());
}

TEST(oauthbearer, decoder_errors_never_hold_the_token) {
  for (const auto text : {"n,,^Aauth=Bearer TOPSECRET^A", "n,,^Aauth=Bearer TOPSECRET^A^Ax",
                          "n,,^Aauth=Bearer TOPSECRET^Aauth=Bearer TOPSECRET^A^A"}) {
    std::string why;
    EXPECT_EQ(decode_oauthbearer(ctrl_a(text), &why), std::nullopt);
    EXPECT_EQ(why.find("TOPSECRET"), std::string::npos) << why;
  }
}

TEST(oauthbearer, round_trips_long_tokens) {
  for (const std::size_t n : {8u * 1024u, 64u * 1024u}) {
    const auto t = test::token_of(n);
    const auto encoded = base64_encode(
        oauthbearer_response("user@example.com", token(t), "imap.example.com", 993).reveal());
    EXPECT_EQ(encoded.find('\n'), std::string::npos);
    const auto raw = base64_decode(encoded);
    ASSERT_TRUE(raw.has_value());
    const auto r = decode_response(mechanism::oauthbearer, *raw);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->token.reveal(), t);
    EXPECT_EQ(r->host, "imap.example.com");
    EXPECT_EQ(r->port, 993);
  }
}

TEST(oauthbearer, failure_answer_is_a_single_ctrl_a) {
  // RFC 7628 section 3.2.3: the client answers an error challenge with one ^A.
  EXPECT_EQ(base64_encode("\x01"), "AQ==");
  EXPECT_EQ(base64_decode("AQ=="), "\x01");
}

}  // namespace
}  // namespace mailoauth::sasl
