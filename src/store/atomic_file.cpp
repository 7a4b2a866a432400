#include "store/atomic_file.hpp"

#include "store/account_name.hpp"
#include "store/store_failure.hpp"
#include "store/unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

// Temporary files and their cleanup. A writer holds flock(LOCK_EX) on its temporary file from
// creation until after the rename. A writer killed on the way leaves its temporary file behind,
// unlocked (the kernel drops the lock with the process); the next save removes every temporary
// file it can lock without waiting. The lock, not a pid or an age, tells a dead writer from a
// live one: it is exact across pid namespaces and pid reuse, and never deletes the file of a
// writer that is merely slow.
//
// The window between creating the file and locking it is closed from the writer's side: if a
// cleaner got the lock first and unlinked the file, the writer sees a link count of zero once it
// holds the lock, and starts again with a new name.

namespace mailoauth::store::detail {
namespace {

constexpr std::string_view temp_suffix = ".tmp";
constexpr std::size_t temp_random_digits = 16;
constexpr int create_attempts = 16;

bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

std::string random_hex() {
  unsigned char raw[temp_random_digits / 2] = {};
  if (RAND_bytes(raw, sizeof raw) != 1) {
    // Unpredictability does not matter here (O_EXCL guards against collisions); uniqueness does.
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    std::uint64_t mix = static_cast<std::uint64_t>(::getpid());
    mix = mix * std::uint64_t{0x9e3779b97f4a7c15} ^ static_cast<std::uint64_t>(now);
    for (auto& b : raw) {
      b = static_cast<unsigned char>(mix);
      mix >>= 8;
    }
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::string temporary_name(const std::string& name) {
  return "." + name + "." + random_hex() + std::string(temp_suffix);
}

int write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // not expected from a regular file, but never loop forever
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

// The user's first worry after a failed save: are my tokens gone? Not before the rename.
failure kept(failure f) {
  f.message += " (the previous tokens are unchanged)";
  return f;
}

}  // namespace

bool is_temporary_name(std::string_view n) noexcept {
  // "." NAME "." 16-hex ".tmp", NAME being "<account>.json"
  constexpr std::string_view json_ext = ".json";
  const std::size_t tail = 1 + temp_random_digits + temp_suffix.size();
  if (n.size() < 1 + json_ext.size() + 1 + tail || n.front() != '.') return false;
  if (n.substr(n.size() - temp_suffix.size()) != temp_suffix) return false;
  const std::string_view digits = n.substr(n.size() - tail + 1, temp_random_digits);
  for (char c : digits) {
    if (!is_hex(c)) return false;
  }
  if (n[n.size() - tail] != '.') return false;
  const std::string_view name = n.substr(1, n.size() - 1 - tail);
  if (name.size() <= json_ext.size() || name.substr(name.size() - json_ext.size()) != json_ext) {
    return false;
  }
  return is_account_name(name.substr(0, name.size() - json_ext.size()));
}

result<void> ensure_directory(const std::filesystem::path& requested) {
  std::filesystem::path dir = requested.lexically_normal();
  if (!dir.has_filename() && dir.has_parent_path()) dir = dir.parent_path();  // "a/b/" -> "a/b"
  if (dir.empty()) return {};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return io_failure("cannot create token directory", dir, ENOTDIR);
  }
  if (errno != ENOENT) return io_failure("cannot use token directory", dir, errno);
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    if (auto parent = ensure_directory(dir.parent_path()); !parent) return parent;
  }
  if (::mkdir(dir.c_str(), 0700) != 0) {
    // Another process may have created it meanwhile: that is as good.
    if (errno == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return io_failure("cannot create token directory", dir, errno);
  }
  // mkdir's mode is filtered by the umask (a umask of 0777 gives 0000): set it explicitly.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return io_failure("cannot set the mode of token directory", dir, errno);
  }
  return {};
}

void remove_stale_temporaries(int dir_fd) {
  // opendir on a duplicate, so that closedir does not close dir_fd, which unlinkat still uses.
  const int listing_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (listing_fd < 0) return;
  DIR* listing = ::fdopendir(listing_fd);
  if (listing == nullptr) {
    ::close(listing_fd);
    return;
  }
  ::rewinddir(listing);
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name = entry->d_name;
    if (!is_temporary_name(name)) continue;
    unique_fd fd(::openat(dir_fd, entry->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    // Not openable (a writer killed before its fchmod under a umask of 0777, seen by a non-root
    // user): left alone; such a file is empty and this window is a few instructions wide.
    if (!fd) continue;
    // A live writer holds the lock; an unlocked temporary file belongs to a dead one (or to one
    // that has not locked it yet, which notices the unlink: see the comment at the top).
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) ::unlinkat(dir_fd, entry->d_name, 0);
  }
  ::closedir(listing);
}

result<void> replace_file(const std::filesystem::path& dir, const std::string& name,
                          std::string_view data) {
  const std::filesystem::path target = dir / name;
  constexpr std::string_view cannot_write = "cannot write token file";
  unique_fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return io_failure(cannot_write, target, errno);

  remove_stale_temporaries(dir_fd.get());

  std::string temp;
  unique_fd fd;
  for (int attempt = 0; !fd; ++attempt) {
    if (attempt == create_attempts) return kept(io_failure(cannot_write, target, EEXIST));
    temp = temporary_name(name);
    // O_EXCL|O_NOFOLLOW: never write through a file or symlink someone planted under our name.
    fd.reset(::openat(dir_fd.get(), temp.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
      if (errno == EEXIST) continue;
      return kept(io_failure(cannot_write, target, errno));
    }
    struct stat st {};
    if (::flock(fd.get(), LOCK_EX) != 0 || ::fstat(fd.get(), &st) != 0) {
      const int err = errno;
      ::unlinkat(dir_fd.get(), temp.c_str(), 0);
      return kept(io_failure(cannot_write, target, err));
    }
    if (st.st_nlink == 0) fd.reset();  // a cleaner took it for a dead writer's: new name
  }

  // Any failure from here on: remove the temporary file, keep the old token file.
  auto fail = [&](int err) {
    ::unlinkat(dir_fd.get(), temp.c_str(), 0);
    return kept(io_failure(cannot_write, target, err));
  };
  // The create mode was filtered by the umask; 0600 exactly, whatever it is.
  if (::fchmod(fd.get(), 0600) != 0) return fail(errno);
  if (const int err = write_all(fd.get(), data); err != 0) return fail(err);
  // Data on disk before the rename makes it visible: otherwise a crash could leave an empty
  // file under the real name (ext4 with delalloc, xfs).
  if (::fsync(fd.get()) != 0) return fail(errno);
  if (::renameat(dir_fd.get(), temp.c_str(), dir_fd.get(), name.c_str()) != 0) return fail(errno);
  // The rename itself is durable only once the directory is synced. Some file systems cannot
  // sync a directory (EINVAL): the rename is still atomic there, just not yet durable.
  if (::fsync(dir_fd.get()) != 0 && errno != EINVAL) {
    return io_failure("cannot sync the token directory for", target, errno);
  }
  return {};
}

}  // namespace mailoauth::store::detail
