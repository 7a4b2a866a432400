// The token cache: one file per account, mode 0600, written atomically, with a lock that
// serialises refreshes across processes so that a rotated refresh token is never lost.
#pragma once

#include <mailoauth/result.hpp>
#include <mailoauth/secret.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace mailoauth::store {

/// What the identity platform gave us for one account.
struct token_set {
  secret access_token;
  secret refresh_token;  // empty when the grant gave none (client credentials, implicit)
  secret id_token;
  std::string token_type = "Bearer";
  std::string scope;             // as granted
  std::int64_t expires_at = 0;   // unix seconds; 0 when unknown
  std::int64_t refresh_at = 0;   // unix seconds: refresh from then on (refresh_in or margin)
  std::int64_t obtained_at = 0;  // unix seconds
  std::string token_endpoint;    // where the refresh goes (kept from discovery)
  std::string client_id;         // the client the tokens belong to; a change forces a login
  std::string username;          // the signed-in user, when the platform said

  /// The last refresh that failed, until one succeeds or the user signs in again. Callers that
  /// queued on the refresh lock behind it share its outcome instead of repeating it: twenty mail
  /// programs after an outage would otherwise send twenty requests (or, after a revoked grant,
  /// twenty invalid_grant attempts that the platform may count against the account).
  struct refresh_failure {
    std::int64_t at_ms = 0;          // unix milliseconds; 0 when the last refresh did not fail
    std::int64_t not_before_ms = 0;  // no new attempt before this (Retry-After or back-off)
    int code = 0;                    // a mailoauth::errc value
    std::string message;             // the one-line message; never holds a credential
  };
  refresh_failure last_failure;
};

/// The 32-byte key for AES-256-GCM encryption at rest, from an account's key_command.
class encryption_key {
 public:
  /// Derives the key from the command's output (HKDF-SHA256; the output should be a random
  /// secret such as a keyring entry, not a short password).
  static result<encryption_key> from_material(const secret& material);
  [[nodiscard]] const secret& bytes() const noexcept { return key_; }

 private:
  secret key_;
};

/// An exclusive lock on one account's refresh, held until destroyed (flock(2) on a lock file,
/// so that it is released even when the process is killed).
class refresh_lock {
 public:
  refresh_lock(refresh_lock&&) noexcept;
  refresh_lock& operator=(refresh_lock&&) noexcept;
  ~refresh_lock();

 private:
  friend class token_store;
  explicit refresh_lock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

class token_store {
 public:
  /// `dir` is created (0700) when first written. With a key, files are encrypted at rest.
  explicit token_store(std::filesystem::path dir, std::optional<encryption_key> key = {});

  /// The default directory: $XDG_STATE_HOME/mailoauth/tokens (~/.local/state/...).
  static std::filesystem::path default_dir();

  /// The account's tokens; nullopt when there is no file yet. A corrupt, unreadable or
  /// undecryptable file is a failure that names the file and says what to do.
  [[nodiscard]] result<std::optional<token_set>> load(const std::string& account) const;

  /// Writes to a temporary file (0600) in the same directory, fsyncs, renames over the old file
  /// and fsyncs the directory: a crash leaves the old file or the new one, never a mix. On
  /// failure (a full disk) the old file is untouched.
  [[nodiscard]] result<void> save(const std::string& account, const token_set& tokens) const;

  /// Deletes the account's file (logout). Succeeds when there is none.
  [[nodiscard]] result<void> remove(const std::string& account) const;

  /// Waits (up to `timeout`) for the account's refresh lock.
  [[nodiscard]] result<refresh_lock> lock(const std::string& account,
                                          std::chrono::milliseconds timeout) const;

  [[nodiscard]] std::filesystem::path file_for(const std::string& account) const;

 private:
  std::filesystem::path dir_;
  std::optional<encryption_key> key_;
};

}  // namespace mailoauth::store
