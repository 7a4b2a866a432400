// mailoauth: OAuth 2.0 for IMAP, POP3 and SMTP. Parses the command line and dispatches.
#include "commands.hpp"
#include "output.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"mailoauth: OAuth 2.0 authentication for IMAP, POP3 and SMTP"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mailoauth 0.1.0");
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More detail on stderr (twice for the most)");

  const std::pair<CLI::App*, mailoauth::cli::runner> commands[] = {
      {nullptr, mailoauth::cli::add_sasl_command(app)},
      {nullptr, mailoauth::cli::add_check_command(app)},
  };

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
    return 2;  // usage error, whatever CLI11's own code
  }

  auto logger = spdlog::stderr_logger_st("mailoauth");
  logger->set_pattern("mailoauth: %l: %v");
  logger->set_level(verbosity >= 2   ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::warn);
  spdlog::set_default_logger(logger);

  try {
    const auto subs = app.get_subcommands();
    const std::string name = subs.front()->get_name();
    if (name == "sasl") return commands[0].second();
    if (name == "check") return commands[1].second();
    return mailoauth::cli::fail(2, "unknown command " + name);
  } catch (const std::exception& e) {
    // Messages of ours never carry credentials; exceptions from libraries do not see them.
    return mailoauth::cli::fail(1, std::string("internal error: ") + e.what());
  }
}
