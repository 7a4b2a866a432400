#include "process_run.hpp"

namespace mailoauth::test {

process_result run_process(const std::vector<std::string>& argv, const process_options& options) {
  return process::run(argv, {.set_env = options.set_env, .unset_env = options.unset_env},
                      options.timeout);
}

process_result run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                           const std::vector<std::string>& set_env) {
  return run_process(argv, {.set_env = set_env, .timeout = timeout});
}

}  // namespace mailoauth::test
