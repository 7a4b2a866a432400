// A fresh token for an account, as MSAL's acquire_token_silent gives one: the cached token
// while it is fresh; otherwise one refresh, serialised across processes by the account's lock,
// so that twenty mail programs asking at once cause one request and the rotated refresh token
// is saved before anyone else reads the cache.
#include <mailoauth/oauth.hpp>

#include "config/command.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace mailoauth::oauth {
namespace {

bool fresh(const store::token_set& t, std::int64_t at) {
  if (t.access_token.empty()) return false;
  if (t.refresh_at != 0) return at < t.refresh_at;
  return t.expires_at == 0 || at < t.expires_at;
}

result<store::token_set> reacquire_app_only(const config::account& a) {
  // Client credentials have no refresh token: asking again is the refresh.
  struct no_ui final : interaction {
    void open_authorization_url(const std::string&, bool) override {}
    std::string read_redirect_url() override { return {}; }
    void show_device_code(const device_code_info&) override {}
    void device_waiting(std::chrono::seconds) override {}
    void device_done() override {}
    void notice(const std::string&) override {}
  } ui;
  login_options o;
  o.flow = config::flow_kind::client_credentials;
  return login(a, o, ui);
}

}  // namespace

std::int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

result<store::token_store> store_for(const config::account& a) {
  std::optional<store::encryption_key> key;
  if (!a.key_command.empty()) {
    auto material = config::run_secret_command(a.key_command, "key_command");
    if (!material) return material.error();
    auto k = store::encryption_key::from_material(*material);
    if (!k) return k.error();
    key = std::move(*k);
  }
  return store::token_store(store::token_store::default_dir(), std::move(key));
}

result<store::token_set> fresh_tokens(const config::account& a, const store::token_store& store,
                                      const fresh_options& options) {
  auto cached = store.load(a.name);
  if (!cached) return cached.error();
  const auto login_hint = "run `mailoauth login " + a.name + "`";
  if (!*cached && !a.app_only())
    return make_failure(errc::login_required,
                        "no tokens for account " + a.name + " yet: " + login_hint);
  if (*cached && (*cached)->client_id != a.client_id && !(*cached)->client_id.empty())
    return make_failure(
        errc::login_required,
        "account " + a.name + "'s client_id changed since the last sign-in: " + login_hint);
  if (*cached && !options.force_refresh && fresh(**cached, now())) return std::move(**cached);

  // Slow path: one refresher at a time. Whoever waited re-reads the cache, because the holder
  // of the lock may have refreshed already.
  const auto seen = *cached ? (*cached)->obtained_at : 0;
  auto lock = store.lock(a.name, options.lock_timeout);
  if (!lock) return lock.error();
  auto current = store.load(a.name);
  if (!current) return current.error();
  if (*current) {
    const bool someone_refreshed = (*current)->obtained_at != seen;
    if (fresh(**current, now()) && (!options.force_refresh || someone_refreshed))
      return std::move(**current);
  }

  const bool renewable = a.app_only() || (*current && !(*current)->refresh_token.empty());
  if (*current && !renewable && !options.force_refresh && (*current)->expires_at > now()) {
    // Without a refresh token (the implicit grant) nothing can renew the token ahead of time:
    // serve it until it really expires instead of calling it expired during the refresh
    // margin (issue 3's tests).
    spdlog::warn(
        "the token of account {} expires in {} s and cannot be renewed (no refresh "
        "token): {} before then",
        a.name, (*current)->expires_at - now(), login_hint);
    return std::move(**current);
  }
  result<store::token_set> renewed =
      (*current && !(*current)->refresh_token.empty()) ? refresh(a, **current)
      : a.app_only()
          ? reacquire_app_only(a)
          : result<store::token_set>(make_failure(
                errc::login_required, "the token of account " + a.name +
                                          (*current && (*current)->expires_at > now()
                                               ? " cannot be renewed: there is no refresh token: "
                                               : " expired and there is no refresh token: ") +
                                          login_hint));
  if (!renewed) {
    // Keep serving a token that has not expired yet when the platform is merely unreachable;
    // never discard what is stored.
    if (*current && renewed.error().code == make_error_code(errc::http_failed) &&
        (*current)->expires_at > now()) {
      spdlog::warn("{}; using the cached token, valid for {} more seconds", renewed.error().message,
                   (*current)->expires_at - now());
      return std::move(**current);
    }
    return renewed.error();
  }
  if (auto saved = store.save(a.name, *renewed); !saved) {
    // The new refresh token may have replaced the old one at the server: losing it would lock
    // the user out, so say so loudly, but still hand out the access token.
    spdlog::error(
        "{}; the new tokens could not be saved, so the next call may need `mailoauth "
        "login {}`",
        saved.error().message, a.name);
  }
  return renewed;
}

}  // namespace mailoauth::oauth
