// The store tests' main: the gtest runner, or, as `store_tests --save-tokens DIR I [KEY]`, the
// writer that killed_writer_test kills at each of its system calls.
#include "killed_writer.hpp"

#include <gtest/gtest.h>

#include <string_view>

int main(int argc, char** argv) {
  if (argc >= 4 && std::string_view(argv[1]) == "--save-tokens") {
    return mailoauth::store::test::save_tokens_once(argv[2], argv[3], argc >= 5 ? argv[4] : "");
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
