// What every integration test shares: the running Dovecot instances, a private scratch folder,
// and helpers that run the real CLI and curl against them.
#pragma once

#include "dovecot_services.hpp"
#include "process_run.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace mailoauth::test {

/// Starts the services (or attaches to the ones a CTest fixture started, named by
/// $MAILOAUTH_DOVECOT_DIR) before the first test and stops what it started after the last.
/// Services that cannot be reached make every test fail, never skip.
class services_environment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
};

/// The instance offering XOAUTH2 and OAUTHBEARER.
const dovecot_instance& main_dovecot();
/// The instance offering only XOAUTH2 (for curl, which prefers OAUTHBEARER when offered).
const dovecot_instance& xoauth2_dovecot();

/// Writes a token to a fresh mode-0600 file in this process's scratch folder.
std::string write_token_file(const std::string& token);

/// Runs the mailoauth binary under test with these arguments.
process_result run_mailoauth(const std::vector<std::string>& args);

/// Runs curl with these arguments (the token goes on its command line: test tokens only).
process_result run_curl(const std::vector<std::string>& args);

/// "imaps://127.0.0.1:PORT" and the like.
std::string url(const std::string& scheme, std::uint16_t port);

/// Waits (up to `timeout`) for a line holding every one of `parts` in the instance's log:
/// Dovecot's log process writes a moment after the client has gone.
bool log_has_line(const dovecot_instance& instance, const std::vector<std::string>& parts,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace mailoauth::test
