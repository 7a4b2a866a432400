// `mailoauth login [ACCOUNT] [--flow ...]`: sign in and store the tokens.
#include "commands.hpp"
#include "output.hpp"
#include "terminal_ui.hpp"

#include <mailoauth/oauth.hpp>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <memory>

namespace mailoauth::cli {
namespace {

struct login_options {
  std::string account;
  std::string flow;
  double timeout = 300;
};

int run_login(const login_options& o, const context& ctx) {
  auto cfg = ctx.load_config();
  if (!cfg) return report(cfg.error(), ctx);
  auto account = cfg->find(o.account);
  if (!account) return report(account.error(), ctx);
  const auto& a = **account;

  oauth::login_options lo;
  lo.flow = a.flow;
  if (!o.flow.empty()) {
    auto f = config::parse_flow(o.flow);
    if (!f) return fail(2, "--flow must be browser, paste, device, implicit or client-credentials");
    lo.flow = *f;
  }
  lo.browser_timeout = std::chrono::seconds(static_cast<long long>(o.timeout));

  auto store = oauth::store_for(a);
  if (!store) return report(store.error(), ctx);
  terminal_ui ui;
  auto tokens = oauth::login(a, lo, ui);
  // A failed sign-in leaves whatever was stored before untouched.
  if (!tokens) return report(tokens.error(), ctx);
  if (auto saved = store->save(a.name, *tokens); !saved) return report(saved.error(), ctx);

  const auto left = tokens->expires_at ? tokens->expires_at - oauth::now() : 0;
  fmt::print(stderr, "Signed in as {} ({}), account {}: access token valid for {} min{}.\n",
             printable(a.username), config::name(lo.flow), a.name, left / 60,
             tokens->refresh_token.empty() ? ", no refresh token" : ", refresh token stored");
  return 0;
}

}  // namespace

runner add_login_command(CLI::App& app, const context& ctx) {
  auto o = std::make_shared<login_options>();
  auto* cmd = app.add_subcommand("login", "Sign in to an account and store its tokens");
  cmd->add_option("account", o->account, "Account name in config.toml (default: the default one)");
  cmd->add_option("--flow", o->flow,
                  "browser (default), paste, device, implicit or client-credentials");
  cmd->add_option("--timeout", o->timeout, "Seconds to wait for the browser (default 300)");
  return [o, &ctx]() { return run_login(*o, ctx); };
}

}  // namespace mailoauth::cli
