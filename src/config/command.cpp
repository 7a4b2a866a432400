#include "config/command.hpp"

#include "common/secret_buffer.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

namespace mailoauth::config {
namespace {

/// A secret is a line or a key; more than this is not one, and is not kept (but still read, so
/// that the command can finish and be waited for).
constexpr std::size_t max_output = 1024 * 1024;

struct pipe_closer {
  void operator()(FILE* f) const noexcept {
    if (f != nullptr) ::pclose(f);
  }
};

/// Why the command failed, from pclose()'s status; empty when it succeeded.
std::string failure_of(int status, int wait_errno) {
  if (status == -1) return std::string("could not be waited for: ") + std::strerror(wait_errno);
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) +
           (name != nullptr ? " (SIG" + std::string(name) + ")" : std::string());
  }
  if (!WIFEXITED(status)) return "ended abnormally";
  const int code = WEXITSTATUS(status);
  if (code == 0) return {};
  std::string why = "failed with exit status " + std::to_string(code);
  // The shell's own codes (POSIX, "Command Search and Execution").
  if (code == 127) why += " (the shell did not find the command)";
  if (code == 126) why += " (the command is not executable)";
  return why;
}

}  // namespace

result<secret> run_secret_command(const std::string& command, const std::string& what) {
  std::fflush(nullptr);  // nothing of ours may be duplicated into the child's buffers
  errno = 0;
  std::unique_ptr<FILE, pipe_closer> pipe(::popen(command.c_str(), "r"));
  if (!pipe)
    return make_failure(
        errc::config_invalid,
        what + " could not be started: " + (errno != 0 ? std::strerror(errno) : "out of memory"));

  // Both wiped whatever happens next: the chunk on the stack and the collected output, whose
  // allocator also wipes every buffer it outgrows. read(2) on the descriptor, not fread(): stdio
  // would copy the output into the FILE's own buffer, which pclose() frees as it is.
  std::array<char, 4096> chunk{};
  struct wipe_chunk {
    std::array<char, 4096>& c;
    ~wipe_chunk() { detail::wipe_bytes(c.data(), c.size()); }
  } chunk_guard{chunk};
  detail::secret_buffer out;
  bool too_long = false;
  bool read_failed = false;
  const int fd = ::fileno(pipe.get());
  for (;;) {
    const ::ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_failed = true;
    if (n <= 0) break;
    const auto got = static_cast<std::size_t>(n);
    if (out.size() + got > max_output) too_long = true;
    if (!too_long) out.append(chunk.data(), got);
  }
  const int status = ::pclose(pipe.release());
  const int wait_errno = errno;

  // Stderr went to ours, so the user has the command's own account of a failure; the message
  // says which setting to look at, and how the command ended.
  if (const auto why = failure_of(status, wait_errno); !why.empty())
    return make_failure(errc::config_invalid,
                        what + " " + why + " (its own messages, if any, went to standard error)");
  if (read_failed)
    return make_failure(errc::config_invalid, what + ": its output could not be read");
  if (too_long)
    return make_failure(errc::config_invalid,
                        what +
                            " printed more than 1 MiB, which is not a secret; it must print "
                            "the secret alone");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.empty()) return make_failure(errc::config_invalid, what + " printed nothing");
  return secret(std::string(out.view()));
}

}  // namespace mailoauth::config
