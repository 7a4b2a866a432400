// The integration tests' entry point: the services environment wraps every test.
#include "integration_environment.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // gtest owns and deletes the environment.
  ::testing::AddGlobalTestEnvironment(new mailoauth::test::services_environment);
  return RUN_ALL_TESTS();
}
