#include <mailoauth/store.hpp>

#include "store/account_name.hpp"
#include "store/aes_gcm.hpp"
#include "store/atomic_file.hpp"
#include "store/store_failure.hpp"
#include "store/token_codec.hpp"
#include "store/unique_fd.hpp"
#include "store/wiping_resource.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

namespace mailoauth::store {
namespace {

// Token files are a few kilobytes; anything this large is not one of ours.
constexpr off_t max_file_size = 16 * 1024 * 1024;

// Lock polling: start at 1 ms so that a short hold (one refresh that hit a cache) costs little,
// double up to 16 ms so that a long hold (a slow token endpoint) costs little CPU.
constexpr std::chrono::milliseconds first_poll{1};
constexpr std::chrono::milliseconds max_poll{16};

std::string json_name(const std::string& account) {
  return account + ".json";
}

// Reads a whole regular file into `out`, whose buffer is sized from fstat so that it normally
// never grows (growing wipes the old buffer anyway). Returns 0 or an errno value.
int read_all(int fd, std::string& out, std::size_t expected) {
  out.reserve(expected + 1);
  std::array<char, 4096> chunk{};
  int err = 0;
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > static_cast<std::size_t>(max_file_size)) {
      err = EFBIG;
      break;
    }
    detail::append_wiping(out, std::string_view(chunk.data(), static_cast<std::size_t>(n)));
  }
  OPENSSL_cleanse(chunk.data(), chunk.size());
  return err;
}

}  // namespace

refresh_lock::refresh_lock(refresh_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

refresh_lock& refresh_lock::operator=(refresh_lock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

refresh_lock::~refresh_lock() {
  // Closing the only descriptor of the open file releases the flock.
  if (fd_ >= 0) ::close(fd_);
}

token_store::token_store(std::filesystem::path dir, std::optional<encryption_key> key)
    : dir_(std::move(dir)), key_(std::move(key)) {}

std::filesystem::path token_store::default_dir() {
  // XDG Base Directory Specification: a relative $XDG_STATE_HOME is invalid and ignored.
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
    return std::filesystem::path(state) / "mailoauth" / "tokens";
  }
  std::filesystem::path home;
  if (const char* h = std::getenv("HOME"); h != nullptr && h[0] != '\0') {
    home = h;
  } else {
    // No $HOME (a service, a cron job with a bare environment): the password database knows.
    std::vector<char> buffer(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(::getuid(), &pw, buffer.data(), buffer.size(), &found) == 0 &&
        found != nullptr && found->pw_dir != nullptr) {
      home = found->pw_dir;
    }
  }
  return home / ".local" / "state" / "mailoauth" / "tokens";
}

std::filesystem::path token_store::file_for(const std::string& account) const {
  return dir_ / json_name(account);
}

result<std::optional<token_set>> token_store::load(const std::string& account) const {
  if (auto valid = detail::check_account_name(account); !valid) return valid.error();
  const std::filesystem::path file = file_for(account);
  constexpr std::string_view cannot_read = "cannot read token file";

  // O_NONBLOCK: a FIFO planted under the name must not hang us; regular files ignore it.
  detail::unique_fd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<token_set>{};
    if (errno == ELOOP) {
      // Saving replaces the link with a file (rename does not follow it), so reading through
      // it would read tokens that the next save silently parts from.
      return make_failure(errc::store_failed,
                          "token file " + file.string() +
                              " is a symbolic link, which the token store does not follow: "
                              "replace it with the file itself");
    }
    return detail::io_failure(cannot_read, file, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return detail::io_failure(cannot_read, file, errno);
  if (!S_ISREG(st.st_mode)) {
    return make_failure(errc::store_failed, "token file " + file.string() +
                                                " is not a regular file: remove it, then " +
                                                detail::login_hint(account));
  }
  if (st.st_size > max_file_size) {
    return detail::unusable_file(file, "is far too large to be a token file", account);
  }
  // A file that others can read (copied by hand, restored from a backup) is tightened rather
  // than refused: refusing would not make the exposed tokens secret again. Best effort: a file
  // we do not own cannot be changed, and is still readable to us.
  if ((st.st_mode & 077) != 0) ::fchmod(fd.get(), 0600);

  std::string text;
  detail::wipe_on_exit wipe_text(text);
  if (const int err = read_all(fd.get(), text, static_cast<std::size_t>(st.st_size)); err != 0) {
    return detail::io_failure(cannot_read, file, err);
  }

  const detail::decode_context ctx{file, account};
  auto decoded = detail::decode_file(text, ctx);
  if (!decoded) return decoded.error();
  if (auto* tokens = std::get_if<token_set>(&*decoded)) {
    // A plaintext file while a key is configured: encryption was just switched on. It is
    // accepted, and the next save (the next refresh at the latest) re-encrypts it.
    return std::optional<token_set>(std::move(*tokens));
  }

  const auto& box = std::get<detail::sealed_box>(*decoded);
  if (!key_) {
    return make_failure(errc::store_failed,
                        "token file " + file.string() +
                            " is encrypted, but no key_command is configured for account " +
                            account + ": configure the key_command that encrypted it, or " +
                            detail::login_hint(account) + " to replace it");
  }
  auto plain = detail::unseal(*key_, account, box);
  if (!plain) {
    return make_failure(errc::store_failed,
                        "cannot decrypt token file " + file.string() +
                            " (wrong key_command output, or the file was modified); " +
                            detail::login_hint(account));
  }
  detail::wipe_on_exit wipe_plain(*plain);
  auto inner = detail::decode_file(*plain, ctx);
  if (!inner) return inner.error();
  if (auto* tokens = std::get_if<token_set>(&*inner)) {
    return std::optional<token_set>(std::move(*tokens));
  }
  return detail::unusable_file(file, "is corrupt (encrypted twice)", account);
}

result<void> token_store::save(const std::string& account, const token_set& tokens) const {
  if (auto valid = detail::check_account_name(account); !valid) return valid;
  if (auto dir = detail::ensure_directory(dir_); !dir) return dir;

  std::string plain = detail::encode_tokens(tokens);
  detail::wipe_on_exit wipe_plain(plain);
  if (!key_) return detail::replace_file(dir_, json_name(account), plain);

  // The account name is the additional data: the tag then covers which account the tokens
  // belong to, and a file copied or renamed to another account fails to decrypt.
  auto box = detail::seal(*key_, account, plain);
  if (!box) return box.error();
  return detail::replace_file(dir_, json_name(account), detail::encode_sealed(*box));
}

result<void> token_store::remove(const std::string& account) const {
  if (auto valid = detail::check_account_name(account); !valid) return valid;
  const std::filesystem::path file = file_for(account);
  if (::unlink(file.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return {};
    return detail::io_failure("cannot remove token file", file, errno);
  }
  // The lock file stays: unlinking it while another process waits on it would let a third
  // process lock a new file of the same name, and two refreshes would run at once.
  detail::unique_fd dir_fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());  // best effort: the logout is done either way
  return {};
}

result<refresh_lock> token_store::lock(const std::string& account,
                                       std::chrono::milliseconds timeout) const {
  if (auto valid = detail::check_account_name(account); !valid) return valid.error();
  if (auto dir = detail::ensure_directory(dir_); !dir) return dir.error();
  const std::filesystem::path file = dir_ / (account + ".lock");
  detail::unique_fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return detail::io_failure("cannot open lock file", file, errno);
  // It holds nothing, but 0600 keeps other users from locking us out of our own refresh.
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && (st.st_mode & 0777) != 0600) ::fchmod(fd.get(), 0600);

  // flock, not fcntl locks: an fcntl lock is dropped when the process closes any descriptor of
  // the file, and it does not exclude threads of one process. A flock belongs to the open file,
  // so two threads with two refresh_locks exclude each other, and the kernel releases it when
  // the process dies. Polled with LOCK_NB, as flock has no timeout of its own.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto delay = first_poll;
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return refresh_lock(fd.release());
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return detail::io_failure("cannot lock", file, errno);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(delay, deadline - now));
    delay = std::min(delay * 2, max_poll);
  }
  return make_failure(errc::store_locked, "the tokens of account " + account +
                                              " are locked by another mailoauth process (waited " +
                                              std::to_string(timeout.count()) + " ms for " +
                                              file.string() +
                                              "); try again, or stop that process if it hangs");
}

}  // namespace mailoauth::store
