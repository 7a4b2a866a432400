// The two commands of mailoauth-sandbox, which `mailoauth sandbox` and `mailoauth demo` exec
// (tools/mailoauth/sandbox_launcher.cpp): each registers its options and runs.
#pragma once

#include <CLI/App.hpp>

#include <functional>
#include <string>

namespace mailoauth::cli {

/// The global options, given before the command as to `mailoauth`.
struct sandbox_context {
  std::string config_path;  // --config: accepted for symmetry; the demo writes its own
  int verbosity = 0;
};

/// A registered subcommand's body; returns the process exit code.
using sandbox_runner = std::function<int()>;

/// `mailoauth sandbox`: the identity platform and mail servers in the foreground.
sandbox_runner add_sandbox_command(CLI::App& app, const sandbox_context& ctx);
/// `mailoauth demo`: the four steps of Microsoft's guide against an in-process sandbox.
sandbox_runner add_demo_command(CLI::App& app, const sandbox_context& ctx);

}  // namespace mailoauth::cli
