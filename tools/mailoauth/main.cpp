// mailoauth: OAuth 2.0 for IMAP, POP3 and SMTP. Parses the command line and dispatches.
#include "commands.hpp"
#include "output.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <map>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  CLI::App app{"mailoauth: OAuth 2.0 authentication for IMAP, POP3 and SMTP"};
  app.require_subcommand(1);
  // The global options may follow the command too (`mailoauth check URL -v`): the commands,
  // created below, inherit this and hand what they do not know to the top level.
  app.fallthrough();
  app.footer("-v and --config may also follow the command.");
  app.set_version_flag("--version", "mailoauth 0.1.0");
  mailoauth::cli::context ctx;
  app.add_flag("-v,--verbose", ctx.verbosity, "More detail on stderr (twice for the most)");
  app.add_option("--config", ctx.config_path,
                 "Configuration file (default: $MAILOAUTH_CONFIG, else "
                 "$XDG_CONFIG_HOME/mailoauth/config.toml)");

  // Only the named command's options are built when a known command is named: mail programs
  // run `mailoauth token` on every connection, and building every subcommand's option table
  // costs it more than reading the token (docs/performance.md).
  using adder = mailoauth::cli::runner (*)(CLI::App&, const mailoauth::cli::context&);
  static constexpr std::pair<std::string_view, adder> all[] = {
      {"login", mailoauth::cli::add_login_command},
      {"token", mailoauth::cli::add_token_command},
      {"check", mailoauth::cli::add_check_command},
      {"accounts", mailoauth::cli::add_accounts_command},
      {"logout", mailoauth::cli::add_logout_command},
      {"sasl", [](CLI::App& a,
                  const mailoauth::cli::context&) { return mailoauth::cli::add_sasl_command(a); }},
  };
  std::string_view named;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config") {
      ++i;
    } else if (!arg.starts_with("-")) {
      named = arg;
      break;
    }
  }
  if (named == "sandbox" || named == "demo")
    return mailoauth::cli::exec_sandbox_program(argc, argv);
  const bool known =
      std::any_of(std::begin(all), std::end(all), [&](const auto& c) { return c.first == named; });
  // Said here, before CLI11 sees it: it would report "A subcommand is required", and with
  // --help show the general help and exit 0, as if the command existed.
  if (!known && !named.empty())
    return mailoauth::cli::fail(
        2, "unknown command '" + mailoauth::cli::printable(named) + "' (see mailoauth --help)");
  std::map<std::string, mailoauth::cli::runner, std::less<>> commands;
  for (const auto& [name, add] : all)
    if (!known || name == named) commands.emplace(std::string(name), add(app, ctx));
  if (!known) mailoauth::cli::describe_sandbox_commands(app);

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
  logger->set_level(ctx.verbosity >= 2   ? spdlog::level::trace
                    : ctx.verbosity == 1 ? spdlog::level::debug
                                         : spdlog::level::warn);
  spdlog::set_default_logger(logger);

  try {
    const auto name = app.get_subcommands().front()->get_name();
    const auto it = commands.find(name);
    if (it == commands.end()) return mailoauth::cli::fail(2, "unknown command " + name);
    return it->second();
  } catch (const std::exception& e) {
    // Messages of ours never carry credentials; exceptions from libraries do not see them.
    return mailoauth::cli::fail(1, std::string("internal error: ") + e.what());
  }
}
