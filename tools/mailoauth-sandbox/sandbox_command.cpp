// `mailoauth sandbox`: the identity platform and the six mail listeners in the foreground on
// loopback, with what a user needs to point a mail program at them printed first (issue 4,
// build item 3). Stops cleanly on SIGINT and SIGTERM.
#include "output.hpp"
#include "sandbox/sandbox.hpp"
#include "sandbox_commands.hpp"
#include "sandbox_output.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <thread>

namespace mailoauth::cli {
namespace {

namespace asio = boost::asio;

struct sandbox_command_options {
  std::string state;
  std::uint16_t port_base = 0;
  bool strict = false;
  long token_lifetime = 3600;
  unsigned threads = 2;
};

void print_banner(sandbox::sandbox& sb, const std::filesystem::path& config_file) {
  const auto& state = sb.options().state_dir;
  fmt::print(
      "mailoauth sandbox: Exchange Online's side of Microsoft's guide \"Authenticate an IMAP, POP "
      "or SMTP connection using OAuth\", on 127.0.0.1\n");
  fmt::print("State folder: {}\n\n", state.string());
  print_endpoints(sb);
  fmt::print("\n");
  print_directory(sb, false);
  fmt::print("\nPOP3 one-line AUTH XOAUTH2 <token>: {}\n",
             sb.options().strict ? "refused (--strict, as Office 365 does today)"
                                 : "accepted (as Microsoft's guide shows; --strict refuses it)");
  fmt::print("Access tokens live {} s.\n", sb.options().access_token_lifetime.count());
  fmt::print("\nA config.toml account for it (written to {}):\n\n", config_file.string());
  const auto account = sb.config_account("sandbox");
  std::string_view rest(account);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    fmt::print("    {}\n", rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  const auto cfg = config_file.string();
  fmt::print(
      "\nThen:\n"
      "    mailoauth --config {0} login sandbox     (the device flow; sign in at the device "
      "login page above)\n"
      "    mailoauth --config {0} check sandbox     (IMAP, POP3 and SMTP, redacted)\n"
      "    mailoauth --config {0} token sandbox     (for msmtp's passwordeval, mbsync's "
      "PassCmd...)\n\n"
      "docs/sandbox.md shows msmtp, mbsync, neomutt, Python and curl set up against it.\n"
      "Serving until Ctrl-C (SIGINT) or SIGTERM.\n",
      cfg);
  std::fflush(stdout);
}

int run_sandbox(const sandbox_command_options& o) {
  if (o.token_lifetime <= 0)
    return fail(2, "--token-lifetime must be a positive number of seconds");
  if (o.port_base != 0 && o.port_base > 65535 - 6)
    return fail(2, "--port-base must leave room for seven ports (at most 65529)");

  sandbox::sandbox_options so;
  so.state_dir = o.state.empty() ? sandbox::default_state_dir() : std::filesystem::path(o.state);
  so.state_dir = std::filesystem::absolute(so.state_dir);
  so.port_base = o.port_base;
  so.strict = o.strict;
  so.access_token_lifetime = std::chrono::seconds(o.token_lifetime);

  asio::io_context io;
  // Declared after io so that it is destroyed first: the servers post to io when they stop.
  sandbox::sandbox sb(so);
  if (auto started = sb.start(io); !started) {
    const auto& f = started.error();
    fmt::print(stderr, "mailoauth: error: the sandbox did not start: {}\n", printable(f.message));
    if (!f.detail.empty()) fmt::print(stderr, "  {}\n", printable(f.detail));
    return exit_code(f.code) == 0 ? 1 : exit_code(f.code);
  }
  const auto config_file = so.state_dir / "config.toml";
  if (auto written = write_private_file(config_file, sb.config_account("sandbox")); !written) {
    sb.stop();
    io.run();
    return fail(7, written.error().message);
  }
  print_banner(sb, config_file);

  // Ctrl-C and SIGTERM stop the listeners and connections; io.run() then returns once their
  // coroutines have ended. A watchdog ends the run if a connection does not go within 5 s.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::mutex m;
  std::condition_variable cv;
  bool stopping = false;
  bool finished = false;
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    fmt::print("\nmailoauth sandbox: {} received, stopping.\n",
               signo == SIGINT ? "SIGINT" : "SIGTERM");
    std::fflush(stdout);
    sb.stop();
    std::lock_guard lock(m);
    stopping = true;
    cv.notify_all();
  });
  std::thread watchdog([&] {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return stopping || finished; });
    if (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return finished; })) io.stop();
  });

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < o.threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  {
    std::lock_guard lock(m);
    finished = true;
    cv.notify_all();
  }
  watchdog.join();
  fmt::print("mailoauth sandbox: stopped.\n");
  return 0;
}

}  // namespace

sandbox_runner add_sandbox_command(CLI::App& app, const sandbox_context& /*ctx*/) {
  auto o = std::make_shared<sandbox_command_options>();
  auto* cmd = app.add_subcommand(
      "sandbox", "Run a local Exchange Online stand-in: identity platform, IMAP, POP3, SMTP");
  cmd->add_option("--state", o->state,
                  "State folder: keys, CA, identity.toml, mailboxes, config.toml (default: "
                  "$XDG_STATE_HOME/mailoauth/sandbox)");
  cmd->add_option("--port-base", o->port_base,
                  "Identity platform on N, mail on N+1..N+6 (imaps imap pop3s pop3 smtps smtp); "
                  "default: free ports");
  cmd->add_flag("--strict", o->strict,
                "Refuse POP3's one-line AUTH XOAUTH2 <token>, as Office 365 does today");
  cmd->add_option("--token-lifetime", o->token_lifetime,
                  "Seconds an access token lives (default 3600)");
  cmd->add_option("--threads", o->threads, "Threads serving connections (default 2)")
      ->check(CLI::Range(1u, 64u));
  return [o]() { return run_sandbox(*o); };
}

}  // namespace mailoauth::cli
