// Helpers shared by the net tests: test certificates, the curl program, the process's maps.
#pragma once

#include "process_run.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mailoauth::test {

/// The directory of tests/support/make-certs.sh's certificates, made on first use when the
/// ctest fixture did not make them (the binary run by hand).
inline std::string test_certs_dir() {
  static const std::string dir = [] {
    const std::string d = std::string(MAILOAUTH_BUILD_DIR) + "/test-certs";
    const auto r = run_process(
        {"/bin/bash", std::string(MAILOAUTH_SOURCE_DIR) + "/tests/support/make-certs.sh", d});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return d;
  }();
  return dir;
}

/// Runs the curl program (never through a proxy); -i puts the response headers in `out`.
inline process_result run_curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-i", "--noproxy", "*",
                                   "--max-time",    "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, std::chrono::seconds(20));
}

/// The shared objects mapped into this process, one path a line.
inline std::string mapped_files() {
  std::ifstream maps("/proc/self/maps");
  std::stringstream s;
  s << maps.rdbuf();
  return s.str();
}

inline bool libcurl_loaded() {
  return mapped_files().find("libcurl") != std::string::npos;
}

}  // namespace mailoauth::test
