// The OAuth tests' entry point: the environment (authorization server, Dovecot on demand)
// wraps every test.
#include "oauth_environment.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // gtest owns and deletes the environment.
  ::testing::AddGlobalTestEnvironment(new mailoauth::oauth_test::environment);
  return RUN_ALL_TESTS();
}
