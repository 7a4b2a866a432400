// The subcommands of the mailoauth CLI: each registers its options and runs.
#pragma once

#include <CLI/App.hpp>

#include <functional>

namespace mailoauth::cli {

/// A registered subcommand's body; returns the process exit code.
using runner = std::function<int()>;

runner add_sasl_command(CLI::App& app);
runner add_check_command(CLI::App& app);

}  // namespace mailoauth::cli
