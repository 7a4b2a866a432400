// mailoauth-sandbox: `mailoauth sandbox` and `mailoauth demo`, in a program of their own so that
// the token helper never loads the sandbox's libraries (tools/mailoauth/sandbox_launcher.cpp).
// The launcher passes the user's arguments on unchanged, so the global options may come before
// the command or after it, as in mailoauth: mailoauth-sandbox [-v] [--config FILE] sandbox|demo ...
#include "output.hpp"
#include "sandbox_commands.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  CLI::App app{
      "mailoauth sandbox and demo: Exchange Online's side of Microsoft's guide on this machine"};
  app.name("mailoauth");
  app.require_subcommand(1);
  // As in mailoauth: -v and --config after the command reach the top level.
  app.fallthrough();
  app.footer("-v and --config may also follow the command.");
  app.set_version_flag("--version", "mailoauth-sandbox 0.1.0");
  mailoauth::cli::sandbox_context ctx;
  app.add_flag("-v,--verbose", ctx.verbosity, "More detail on stderr (twice for the most)");
  app.add_option("--config", ctx.config_path,
                 "Configuration file (the sandbox writes its own beside its state; the demo "
                 "uses a temporary one)");
  const auto sandbox = mailoauth::cli::add_sandbox_command(app, ctx);
  const auto demo = mailoauth::cli::add_demo_command(app, ctx);
  // An unknown command is said as such (CLI11 would say "A subcommand is required", or with
  // --help exit 0 with the general help). Only --config takes a value before the command.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config") {
      ++i;
    } else if (!arg.starts_with("-")) {
      if (arg != "sandbox" && arg != "demo")
        return mailoauth::cli::fail(
            2, "unknown command '" + mailoauth::cli::printable(arg) + "' (see mailoauth --help)");
      break;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // usage error, as in mailoauth
  }

  auto logger = spdlog::stderr_logger_mt("mailoauth");
  logger->set_pattern("mailoauth: %l: %v");
  logger->set_level(ctx.verbosity >= 2   ? spdlog::level::trace
                    : ctx.verbosity == 1 ? spdlog::level::debug
                                         : spdlog::level::warn);
  spdlog::set_default_logger(logger);

  try {
    const auto name = app.get_subcommands().front()->get_name();
    return name == "sandbox" ? sandbox() : demo();
  } catch (const std::exception& e) {
    // Messages of ours never carry credentials; exceptions from libraries do not see them.
    return mailoauth::cli::fail(1, std::string("internal error: ") + e.what());
  }
}
