// A fresh token for an account, as MSAL's acquire_token_silent gives one: the cached token
// while it is fresh; otherwise one refresh, serialised across processes by the account's lock,
// so that twenty mail programs asking at once cause one request and the rotated refresh token
// is saved before anyone else reads the cache.
#include <mailoauth/oauth.hpp>

#include "config/command.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string_view>

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

// How long a failed refresh holds back the next attempt. An outage or throttling holds back
// for the server's Retry-After, else for a short pause, so that mail programs polling every few
// seconds do not hammer a platform that is already struggling. A refusal (invalid_grant, a
// wrong client secret) is shared only with the callers already queued behind it: an
// administrator may grant consent or lift a Conditional Access block, and then the same refresh
// token works again, so a later call asks again.
std::int64_t hold_back_until(const failure& f, std::int64_t at_ms) {
  if (f.code == make_error_code(errc::http_failed) || f.code == make_error_code(errc::timeout)) {
    constexpr std::int64_t pause = 15;
    constexpr std::int64_t longest = 3600;  // a Retry-After of days is an error, not a plan
    const auto seconds = f.retry_after > 0 ? std::min<std::int64_t>(f.retry_after, longest) : pause;
    return at_ms + seconds * 1000;
  }
  return at_ms;
}

// A refresh that failed while this caller waited for the lock, or that asked for a pause that
// has not passed, is not repeated: the caller gets the same outcome.
bool shares_failure(const store::token_set& t, std::int64_t started_ms, std::int64_t at_ms) {
  const auto& f = t.last_failure;
  return f.at_ms != 0 && (f.at_ms >= started_ms || at_ms < f.not_before_ms);
}

failure recorded_failure(const store::token_set& t, std::int64_t at_ms) {
  const auto& f = t.last_failure;
  const auto ago = std::max<std::int64_t>(0, at_ms - f.at_ms) / 1000;
  std::string when = " (the refresh failed " + std::to_string(ago) + " s ago";
  if (f.not_before_ms > at_ms)
    when += "; next attempt in " + std::to_string((f.not_before_ms - at_ms + 999) / 1000) + " s";
  when += ")";
  const auto code = f.code != 0 ? static_cast<errc>(f.code) : errc::http_failed;
  return make_failure(code, f.message + when);
}

// $MAILOAUTH_TEST_NOW in milliseconds, when it holds a number of unix seconds.
std::optional<std::int64_t> clock_from_environment() {
  const char* value = std::getenv("MAILOAUTH_TEST_NOW");
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string_view text(value);
  std::int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size()) {
    spdlog::warn("MAILOAUTH_TEST_NOW={} is not a number of seconds; using the system clock", text);
    return std::nullopt;
  }
  return seconds * 1000;
}

// The clock of token lifetimes (obtained_at, refresh_at, expires_at, the record of a failed
// refresh). $MAILOAUTH_TEST_NOW (unix seconds) stops it at that moment, so that the tests put a
// call exactly on either side of refresh_at or expires_at instead of sleeping and asserting only
// when the machine happened to be fast (issue 8). Timeouts, back-off and lock waits run on the
// steady clock and are not affected.
std::int64_t now_ms() {
  static const std::optional<std::int64_t> fixed = clock_from_environment();
  if (fixed) return *fixed;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::int64_t now() {
  return now_ms() / 1000;
}

result<store::token_store> store_for(const config::account& a) {
  std::optional<store::encryption_key> key;
  if (!a.key_command.empty()) {
    auto material = config::run_secret_command(a.key_command, "key_command of account " + a.name);
    if (!material) return material.error();
    auto k = store::encryption_key::from_material(*material);
    if (!k) return k.error();
    key = std::move(*k);
  }
  return store::token_store(store::token_store::default_dir(), std::move(key));
}

result<store::token_set> fresh_tokens(const config::account& a, const store::token_store& store,
                                      const fresh_options& options) {
  const auto started_ms = now_ms();
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

  if (*current && shares_failure(**current, started_ms, now_ms())) {
    // Someone else just tried (or the platform asked for a pause): answer as they were
    // answered, with the cached token while it is still valid.
    if ((*current)->expires_at > now() && !(*current)->access_token.empty()) {
      spdlog::warn("{}; using the cached token, valid for {} more seconds",
                   recorded_failure(**current, now_ms()).message, (*current)->expires_at - now());
      return std::move(**current);
    }
    return recorded_failure(**current, now_ms());
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
  // Only an answer from the platform (or its silence) is worth sharing with other callers; a
  // token that simply cannot be renewed fails the same way for everyone without any request.
  const bool asks_platform = (*current && !(*current)->refresh_token.empty()) || a.app_only();
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
    if (*current && asks_platform) {
      // Recorded under the lock, so that the callers queued behind us share this outcome.
      auto record = **current;
      record.last_failure.at_ms = now_ms();
      record.last_failure.not_before_ms =
          hold_back_until(renewed.error(), record.last_failure.at_ms);
      const auto& code = renewed.error().code;
      record.last_failure.code =
          code.category() == error_category() ? code.value() : static_cast<int>(errc::http_failed);
      record.last_failure.message = renewed.error().message;
      if (auto saved = store.save(a.name, record); !saved)
        spdlog::warn("{}; other callers may repeat the failed refresh", saved.error().message);
    }
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
