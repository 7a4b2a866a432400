// net_tests' main: makes the HTTP module findable and the environment hermetic before any test.
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Death tests re-run this binary for one test, so a child starts without the HTTP module
  // loaded (a forked child would inherit it) and without the server threads of other tests.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The test binary is not beside the module; a directory set outside wins (an installed
  // module, say). HttpModuleDeathTest.FoundBesideTheExecutable runs a copy without it.
  if (std::getenv("MAILOAUTH_TEST_NO_MODULE_DIR") == nullptr) {
    ::setenv("MAILOAUTH_MODULE_DIR", MAILOAUTH_TEST_MODULE_DIR, 0);
  }
  // Requests go to loopback servers of the tests themselves; a proxy from the environment
  // would change what they see. The proxy test sets its own.
  for (const char* name : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                           "no_proxy", "NO_PROXY"}) {
    ::unsetenv(name);
  }
  return RUN_ALL_TESTS();
}
