// Internal: runs a user-configured command (client_secret_command, key_command, a token
// command) through /bin/sh and captures its standard output as a secret.
#pragma once

#include <mailoauth/result.hpp>
#include <mailoauth/secret.hpp>

#include <string>

namespace mailoauth::config {

/// The command's stdout without its trailing newline. Its stderr passes through to ours. A
/// non-zero exit, a signal or empty output is a failure naming `what` (never the output).
result<secret> run_secret_command(const std::string& command, const std::string& what);

}  // namespace mailoauth::config
