// `mailoauth token [ACCOUNT] [--format ...]`: a fresh access token for mail programs
// (mbsync's PassCmd, msmtp's passwordeval, fetchmail, scripts). Called on every connection,
// so its common case (a cached, valid token) reads two files and prints.
#include "commands.hpp"
#include "output.hpp"

#include <mailoauth/oauth.hpp>
#include <mailoauth/sasl.hpp>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <memory>

namespace mailoauth::cli {
namespace {

struct token_options {
  std::string account;
  std::string format = "raw";
  bool force_refresh = false;
};

int run_token(const token_options& o, const context& ctx) {
  if (o.format != "raw" && o.format != "xoauth2" && o.format != "oauthbearer" && o.format != "json")
    return fail(2, "--format must be raw, xoauth2, oauthbearer or json");
  auto cfg = ctx.load_config();
  if (!cfg) return report(cfg.error(), ctx);
  auto account = cfg->find(o.account);
  if (!account) return report(account.error(), ctx);
  const auto& a = **account;
  auto store = oauth::store_for(a);
  if (!store) return report(store.error(), ctx);
  oauth::fresh_options fo;
  fo.force_refresh = o.force_refresh;
  auto tokens = oauth::fresh_tokens(a, *store, fo);
  if (!tokens) return report(tokens.error(), ctx);

  if (o.format == "raw") {
    fmt::print("{}\n", tokens->access_token.reveal());
  } else if (o.format == "xoauth2") {
    fmt::print("{}\n", sasl::base64_encode(
                           sasl::xoauth2_response(a.username, tokens->access_token).reveal()));
  } else if (o.format == "oauthbearer") {
    fmt::print("{}\n", sasl::base64_encode(
                           sasl::oauthbearer_response(a.username, tokens->access_token).reveal()));
  } else {
    boost::json::object j;
    j["account"] = a.name;
    j["username"] = a.username;
    j["access_token"] = tokens->access_token.reveal();
    j["token_type"] = tokens->token_type;
    j["expires_at"] = tokens->expires_at;
    j["expires_in"] = tokens->expires_at ? tokens->expires_at - oauth::now() : 0;
    j["scope"] = tokens->scope;
    auto text = boost::json::serialize(j);
    fmt::print("{}\n", text);
    wipe(text);
  }
  return 0;
}

}  // namespace

runner add_token_command(CLI::App& app, const context& ctx) {
  auto o = std::make_shared<token_options>();
  auto* cmd = app.add_subcommand(
      "token", "Print a fresh access token (refreshed silently) for mail programs and scripts");
  cmd->add_option("account", o->account, "Account name (default: the default one)");
  cmd->add_option("--format", o->format, "raw (default), xoauth2, oauthbearer or json");
  cmd->add_flag("--force-refresh", o->force_refresh, "Refresh even if the cached token is valid");
  return [o, &ctx]() { return run_token(*o, ctx); };
}

}  // namespace mailoauth::cli
