// The subcommands of the mailoauth CLI: each registers its options and runs.
#pragma once

#include "context.hpp"

#include <CLI/App.hpp>

#include <functional>

namespace mailoauth::cli {

/// A registered subcommand's body; returns the process exit code.
using runner = std::function<int()>;

runner add_sasl_command(CLI::App& app);
runner add_check_command(CLI::App& app, const context& ctx);
runner add_login_command(CLI::App& app, const context& ctx);
runner add_token_command(CLI::App& app, const context& ctx);
runner add_accounts_command(CLI::App& app, const context& ctx);
runner add_logout_command(CLI::App& app, const context& ctx);

/// Replaces this process with mailoauth-sandbox (for `sandbox` and `demo`), passing the
/// arguments on; returns only when that program cannot be run.
int exec_sandbox_program(int argc, char** argv);
/// Lists `sandbox` and `demo` in the help, which mailoauth-sandbox then implements.
void describe_sandbox_commands(CLI::App& app);

}  // namespace mailoauth::cli
