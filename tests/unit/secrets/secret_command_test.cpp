// run_secret_command: the secret on success; on every failure a message that names the setting
// and how the command ended, never the command line or its output; nothing left in freed memory.
#include "config/command.hpp"

#include "freed_memory.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailoauth::config {
namespace {

using test::freed_memory_scan;

constexpr std::string_view marker = "MARKER-e19a6d22";
const std::string what = "client_secret_command of account work";

// The message, for each way of failing, with what it must and must not say.
void expect_failure(const result<secret>& r, std::string_view says, std::string_view command) {
  ASSERT_FALSE(r) << "the command succeeded";
  const auto& f = r.error();
  EXPECT_EQ(f.code, make_error_code(errc::config_invalid));
  EXPECT_TRUE(f.message.starts_with(what)) << f.message;
  EXPECT_NE(f.message.find(says), std::string::npos) << f.message;
  // Neither the command line (the marker is in it) nor what it printed (the marker again).
  EXPECT_EQ(f.message.find(marker), std::string::npos) << f.message;
  EXPECT_EQ(f.detail.find(marker), std::string::npos) << f.detail;
  EXPECT_EQ(f.message.find(command), std::string::npos) << f.message;
}

TEST(run_secret_command, returns_the_output_without_its_line_end) {
  const auto r = run_secret_command("printf 's3cr3t value\\r\\n\\n'", what);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->reveal(), "s3cr3t value");
}

TEST(run_secret_command, keeps_output_written_by_several_writes_whole) {
  const auto r = run_secret_command("printf abc; sleep 0; printf def; printf '\\n'", what);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->reveal(), "abcdef");
}

TEST(run_secret_command, a_failure_names_the_setting_and_the_status_not_the_output) {
  const std::string command = "echo " + std::string(marker) + "-printed-secret; exit 3";
  expect_failure(run_secret_command(command, what), "failed with exit status 3", command);
}

TEST(run_secret_command, a_command_line_with_a_secret_stays_out_of_the_message) {
  // The classic: the secret in the command itself, and a command that is not there.
  const std::string command =
      "no-such-helper-tool --password " + std::string(marker) + " 2>/dev/null";
  expect_failure(run_secret_command(command, what),
                 "exit status 127 (the shell did not find the command)", command);
}

TEST(run_secret_command, a_signal_is_named) {
  const std::string command = "echo " + std::string(marker) + "; kill -TERM $$";
  expect_failure(run_secret_command(command, what), "killed by signal 15 (SIGTERM)", command);
}

TEST(run_secret_command, empty_output_is_a_failure) {
  expect_failure(run_secret_command("printf '\\n'", what), "printed nothing", "printf");
}

TEST(run_secret_command, output_over_a_mebibyte_is_refused) {
  // Read to the end all the same (head would otherwise block on a full pipe, and pclose wait).
  const std::string command = "head -c 1048577 /dev/zero | tr '\\0' x; echo " + std::string(marker);
  expect_failure(run_secret_command(command, what), "printed more than 1 MiB", command);
}

TEST(run_secret_command, leaves_no_output_in_freed_memory) {
  // Enough output to make the collecting buffer grow several times, on success and on failure.
  const std::string ok = "for i in $(seq 400); do printf '" + std::string(marker) + "'; done";
  const std::string bad = ok + "; exit 1";
  freed_memory_scan scan(marker);
  {
    const auto r = run_secret_command(ok, what);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->size(), 400 * marker.size());
    const auto f = run_secret_command(bad, what);
    ASSERT_FALSE(f);
  }
  // The command lines themselves hold the marker and are the test's own strings: they are freed
  // after the scan ends. Everything the function allocated has been freed by now.
  EXPECT_EQ(scan.leaks(), 0u);
  EXPECT_GE(scan.blocks(), 2u);
}

}  // namespace
}  // namespace mailoauth::config
