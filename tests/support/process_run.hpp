// The tests' names for the one child-process runner (src/common/child_process.hpp), which the
// demo uses too: the real CLI (sometimes twenty at once, or one that waits for input on stdin),
// curl, the test authorization server, the browser and the service scripts.
#pragma once

#include "common/child_process.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace mailoauth::test {

using process::child;
using process::run;
using child_options = process::options;
using run_result = process::result;
using process_result = process::result;

/// The environment and deadline of run_process.
struct process_options {
  /// NAME=VALUE pairs added to (or replacing in) the inherited environment.
  std::vector<std::string> set_env{};
  /// Variables removed from the inherited environment.
  std::vector<std::string> unset_env{};
  /// After this the whole process group is killed and timed_out is set.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

/// Runs argv (argv[0] is looked up in PATH when it has no slash) with stdin from /dev/null, to
/// its end or its deadline. Throws std::runtime_error only when it cannot be started at all.
process_result run_process(const std::vector<std::string>& argv,
                           const process_options& options = {});

/// The same with a deadline and variables to set: run_process(argv, 20s, {"HOME=/x"}).
process_result run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                           const std::vector<std::string>& set_env = {});

}  // namespace mailoauth::test
