// Internal: runs a user-configured command (client_secret_command, key_command) through /bin/sh
// and captures its standard output as a secret.
#pragma once

#include <mailoauth/result.hpp>
#include <mailoauth/secret.hpp>

#include <string>

namespace mailoauth::config {

/// The command's stdout without its trailing newline. Its stderr passes through to ours, so
/// that its own messages (and a password manager's prompts) reach the user. `what` names the
/// setting, e.g. "client_secret_command of account work". A failure (cannot start, non-zero exit,
/// a signal, no output, more than 1 MiB) names `what` and the exit status, never the command
/// line (it may carry a secret: `echo s3cret`, `curl -u user:password ...`) nor the output.
/// Every buffer that held output is wiped, on every path.
result<secret> run_secret_command(const std::string& command, const std::string& what);

}  // namespace mailoauth::config
