// Child processes for the store tests: fork, run a function, report through the exit status.
// A child never returns into gtest; it ends with _exit.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace mailoauth::store::test {

/// Runs `body` in a child process; its return value becomes the exit status.
inline pid_t spawn(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int status = 125;
    try {
      status = body();
    } catch (...) {
      status = 126;
    }
    ::_exit(status);
  }
  return pid;
}

/// Waits for the child; its exit status, or 128 + the signal that ended it.
inline int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/// A pipe for "I am ready" messages from a child to the parent.
class ready_pipe {
 public:
  ready_pipe() {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe failed");
  }
  ready_pipe(const ready_pipe&) = delete;
  ready_pipe& operator=(const ready_pipe&) = delete;
  ~ready_pipe() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  /// In the child: says ready.
  void signal() const { [[maybe_unused]] auto n = ::write(fds_[1], "r", 1); }
  /// In the parent: waits for the child to say ready (false if it died first).
  bool wait() {
    ::close(fds_[1]);
    fds_[1] = -1;
    char c = 0;
    return ::read(fds_[0], &c, 1) == 1;
  }

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace mailoauth::store::test
