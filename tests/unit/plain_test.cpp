// PLAIN (RFC 4616) and the field checks every encoder applies.
#include <mailoauth/sasl.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

namespace mailoauth::sasl {
namespace {

using namespace std::string_literals;

TEST(plain, decodes_authcid_and_password) {
  const auto c = decode_plain("\0alice\0p@ss word"s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->authzid, "");
  EXPECT_EQ(c->authcid, "alice");
  EXPECT_EQ(c->password.reveal(), "p@ss word");
}

TEST(plain, keeps_an_authorization_identity) {
  const auto c = decode_plain("shared@contoso.com\0alice\0pw"s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->authzid, "shared@contoso.com");
  EXPECT_EQ(c->authcid, "alice");
}

TEST(plain, refuses_malformed_messages_without_naming_the_password) {
  for (const auto& bad : {"alice"s, "\0alice"s, "\0\0pw"s, "\0alice\0"s, "a\0b\0c\0d"s}) {
    std::string why;
    EXPECT_FALSE(decode_plain(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(why.find("pw"), std::string::npos);
  }
}

TEST(plain, round_trips) {
  const auto raw = plain_response("bob", secret("hunter2"), "shared@contoso.com");
  EXPECT_EQ(raw.reveal(), "shared@contoso.com\0bob\0hunter2"s);
  const auto c = decode_plain(raw.reveal());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->password.reveal(), "hunter2");
}

TEST(mechanism, names_and_parses_all_four) {
  for (const auto m :
       {mechanism::xoauth2, mechanism::oauthbearer, mechanism::plain, mechanism::login}) {
    EXPECT_EQ(parse_mechanism(name(m)), m);
  }
  EXPECT_EQ(parse_mechanism("login"), mechanism::login);
  EXPECT_TRUE(is_bearer(mechanism::oauthbearer));
  EXPECT_FALSE(is_bearer(mechanism::plain));
}

TEST(fields, control_characters_are_refused_by_the_encoders) {
  // ^A would end an XOAUTH2 item and let the user name add one of its own ("auth=...").
  EXPECT_FALSE(invalid_field("a\x01"
                             "auth=Bearer x")
                   .empty());
  EXPECT_FALSE(invalid_field("alice\r\nA02 LOGOUT").empty());
  EXPECT_FALSE(invalid_field("alice", "host\x01port=1").empty());
  EXPECT_FALSE(invalid_field("a\0b"s).empty());
  EXPECT_TRUE(invalid_field("alice@contoso.com", "outlook.office365.com").empty());
  EXPECT_THROW(xoauth2_response("a\x01"
                                "b",
                                secret("t")),
               std::invalid_argument);
  EXPECT_THROW(xoauth2_response("a", secret("t\x01")), std::invalid_argument);
  EXPECT_THROW(oauthbearer_response("a", secret("t"), "h\r\n"), std::invalid_argument);
  EXPECT_THROW(plain_response("a", secret("p\0q"s)), std::invalid_argument);
  EXPECT_THROW(client_response(mechanism::plain, "a", secret("t")), std::invalid_argument);
}

TEST(fields, the_decoders_refuse_what_the_encoders_refuse) {
  std::string why;
  EXPECT_FALSE(
      decode_xoauth2("user=a\r\nb\x01"
                     "auth=Bearer t\x01\x01",
                     &why));
  EXPECT_NE(why.find("control character"), std::string::npos) << why;
  EXPECT_FALSE(
      decode_xoauth2("user=a\x01"
                     "auth=Bearer t\0u\x01\x01"s));
  EXPECT_FALSE(
      decode_oauthbearer("n,a=a,\x01host=h\nx\x01"
                         "auth=Bearer t\x01\x01"));
  EXPECT_TRUE(
      decode_xoauth2("user=a\x01"
                     "auth=Bearer t\x01\x01"));
}

}  // namespace
}  // namespace mailoauth::sasl
