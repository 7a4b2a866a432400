// Runs a program with arguments, no shell, capturing its output, with a deadline.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mailoauth::test {

struct process_result {
  int exit_code = -1;  // -1 when killed (timeout or signal)
  bool timed_out = false;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

process_result run_process(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30),
                           const std::vector<std::string>& extra_env = {});

}  // namespace mailoauth::test
