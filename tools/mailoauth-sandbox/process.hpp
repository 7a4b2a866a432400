// Running the real mail programs of the demo's last step: no shell, output to a log file, a
// deadline.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace mailoauth::cli {

struct process_result {
  int exit_code = -1;  // -1: did not start, killed, or timed out
  std::string output;  // stdout and stderr together
  std::string error;   // why it did not run to its end
  /// "exit N", or the error.
  [[nodiscard]] std::string describe() const;
};

/// The program's path in $PATH, or empty.
std::filesystem::path find_program(const std::string& name);

/// Runs argv[0] (a path) with stdin from `input` (empty: /dev/null), stdout and stderr into
/// `log`, killed after `timeout`.
process_result run_program(const std::vector<std::string>& argv, const std::filesystem::path& input,
                           std::chrono::seconds timeout, const std::filesystem::path& log);

}  // namespace mailoauth::cli
