// Mechanism names as they appear in capabilities and commands.
#include <mailoauth/sasl.hpp>

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace mailoauth::sasl {
namespace {

TEST(mechanism, names) {
  EXPECT_EQ(name(mechanism::xoauth2), "XOAUTH2");
  EXPECT_EQ(name(mechanism::oauthbearer), "OAUTHBEARER");
}

TEST(mechanism, parses_case_insensitively) {
  EXPECT_EQ(parse_mechanism("XOAUTH2"), mechanism::xoauth2);
  EXPECT_EQ(parse_mechanism("xoauth2"), mechanism::xoauth2);
  EXPECT_EQ(parse_mechanism("OAuthBearer"), mechanism::oauthbearer);
}

TEST(mechanism, rejects_other_names) {
  for (const auto bad : {"", "GSSAPI", "XOAUTH", "XOAUTH2 ", " XOAUTH2", "OAUTHBEARER2"}) {
    EXPECT_EQ(parse_mechanism(bad), std::nullopt) << bad;
  }
}

TEST(mechanism, client_response_dispatches) {
  const secret token("t");
  EXPECT_EQ(client_response(mechanism::xoauth2, "u", token).reveal(),
            test::ctrl_a("user=u^Aauth=Bearer t^A^A"));
  EXPECT_EQ(client_response(mechanism::oauthbearer, "u", token, "h", 1).reveal(),
            test::ctrl_a("n,a=u,^Ahost=h^Aport=1^Aauth=Bearer t^A^A"));
}

}  // namespace
}  // namespace mailoauth::sasl
