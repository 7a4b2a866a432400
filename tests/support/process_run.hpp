// Runs a program as a child process and collects what it printed, for tests that drive real
// binaries (the CLI, curl, the service scripts).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mailoauth::test {

/// What a finished (or killed) child process left behind.
struct process_result {
  /// The exit status; -1 when the process was killed by a signal or timed out.
  int exit_code = -1;
  bool timed_out = false;
  std::string out;
  std::string err;
  std::chrono::steady_clock::duration elapsed{};

  /// stdout and stderr together, for assertions that do not care which one a line went to.
  [[nodiscard]] std::string both() const { return out + err; }
  /// A readable account for failure messages.
  [[nodiscard]] std::string describe() const;
};

struct process_options {
  /// NAME=VALUE pairs added to (or replacing in) the inherited environment.
  std::vector<std::string> set_env{};
  /// Variables removed from the inherited environment.
  std::vector<std::string> unset_env{};
  /// After this the whole process group is killed and timed_out is set.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

/// Runs argv (argv[0] is looked up in PATH when it has no slash) with stdin from /dev/null.
/// The child leads its own process group so that a timeout takes its children along too.
/// Throws std::runtime_error only when the process cannot be started at all.
process_result run_process(const std::vector<std::string>& argv,
                           const process_options& options = {});

}  // namespace mailoauth::test
