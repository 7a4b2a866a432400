// `mailoauth accounts` (with token state and expiry) and `mailoauth logout ACCOUNT`.
#include "commands.hpp"
#include "output.hpp"

#include <mailoauth/oauth.hpp>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <memory>

namespace mailoauth::cli {
namespace {

std::string duration_text(std::int64_t seconds) {
  if (seconds < 120) return fmt::format("{} s", seconds);
  if (seconds < 7200) return fmt::format("{} min", seconds / 60);
  if (seconds < 2 * 86400) return fmt::format("{} h", seconds / 3600);
  return fmt::format("{} days", seconds / 86400);
}

int run_accounts(bool json, const context& ctx) {
  auto cfg = ctx.load_config();
  if (!cfg) return report(cfg.error(), ctx);
  boost::json::array list;
  for (const auto& a : cfg->accounts) {
    std::string state;
    std::int64_t expires_at = 0;
    bool has_refresh = false;
    auto store = oauth::store_for(a);
    if (!store) {
      state = "token store unavailable: " + store.error().message;
    } else if (auto t = store->load(a.name); !t) {
      state = "unreadable: " + t.error().message;
    } else if (!*t) {
      state = "signed out (run `mailoauth login " + a.name + "`)";
    } else {
      expires_at = (*t)->expires_at;
      has_refresh = !(*t)->refresh_token.empty();
      const auto left = expires_at - oauth::now();
      if (expires_at == 0) {
        state = "token of unknown lifetime";
      } else if (left > 0) {
        state = "valid, expires in " + duration_text(left);
      } else {
        state = "expired " + duration_text(-left) + " ago";
      }
      state += has_refresh ? "; refresh token stored" : "; no refresh token";
      // The refresh that failed last, so that a user sees why their mail program stopped.
      if ((*t)->last_failure.at_ms != 0)
        state += "; last refresh failed: " + (*t)->last_failure.message;
    }
    if (json) {
      boost::json::object j;
      j["name"] = a.name;
      j["provider"] = std::string(config::name(a.provider));
      j["username"] = a.username;
      j["flow"] = std::string(config::name(a.flow));
      j["default"] = a.name == cfg->default_account;
      j["expires_at"] = expires_at;
      j["refresh_token"] = has_refresh;
      j["state"] = state;
      list.push_back(std::move(j));
    } else {
      // Only Microsoft accounts have a tenant; others printed "custom (browser, )" (issue 3).
      const std::string how =
          std::string(config::name(a.flow)) +
          (a.provider == config::provider_kind::microsoft ? ", tenant " + a.tenant : "");
      fmt::print("{}{}  {}  {} ({})\n    {}\n", a.name,
                 a.name == cfg->default_account ? " (default)" : "", printable(a.username),
                 config::name(a.provider), how, printable(state));
    }
  }
  if (json)
    fmt::print("{}\n", boost::json::serialize(list));
  else if (cfg->accounts.empty())
    fmt::print("no accounts in {}\n", cfg->path.string());
  return 0;
}

int run_logout(const std::string& name, const context& ctx) {
  auto cfg = ctx.load_config();
  if (!cfg) return report(cfg.error(), ctx);
  auto account = cfg->find(name);
  if (!account) return report(account.error(), ctx);
  // The key is not needed to delete the file.
  store::token_store store(store::token_store::default_dir());
  if (auto r = store.remove((*account)->name); !r) return report(r.error(), ctx);
  fmt::print(stderr, "Signed out of {}: its tokens are deleted from this machine.\n",
             (*account)->name);
  return 0;
}

}  // namespace

runner add_accounts_command(CLI::App& app, const context& ctx) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("accounts", "List the configured accounts and their token state");
  cmd->add_flag("--json", *json, "Print JSON");
  return [json, &ctx]() { return run_accounts(*json, ctx); };
}

runner add_logout_command(CLI::App& app, const context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("logout", "Delete an account's stored tokens");
  cmd->add_option("account", *name, "Account name")->required();
  return [name, &ctx]() { return run_logout(*name, ctx); };
}

}  // namespace mailoauth::cli
