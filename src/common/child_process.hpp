// Internal: running another program as a child process, with no shell: the real mail programs
// of `mailoauth demo`'s last step, and every child the tests start (the CLI, curl, the test
// authorization server, the browser, the service scripts). One runner for all of them
// (issue 8, build item 7), so that what a child inherits, how it is killed and what is kept of
// its output are decided in one place.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mailoauth::process {

/// What a finished (or killed) child left behind.
struct result {
  /// The exit status; -1 when killed by a signal or timed out.
  int exit_code = -1;
  /// The signal that ended it, or 0.
  int term_signal = 0;
  bool timed_out = false;
  /// Its stdout (and its stderr too, with options::merge_stderr).
  std::string out;
  std::string err;
  std::chrono::steady_clock::duration elapsed{};
  /// The command line, quoted, for describe().
  std::string command;

  /// stdout and stderr together, for checks that do not care which one a line went to.
  [[nodiscard]] std::string both() const { return out + err; }
  /// "exit 0", "killed by signal 9" or "timed out after 20000 ms".
  [[nodiscard]] std::string status() const;
  /// For failure messages: the command, its status, and what it printed.
  [[nodiscard]] std::string describe() const;
};

struct options {
  /// NAME=VALUE added to (or replacing in) the inherited environment.
  std::vector<std::string> set_env{};
  /// Names removed from the inherited environment.
  std::vector<std::string> unset_env{};
  /// A pipe on stdin (child::write_stdin, child::close_stdin).
  bool pipe_stdin = false;
  /// Otherwise stdin comes from this file; empty: /dev/null.
  std::filesystem::path stdin_file{};
  /// stderr into stdout's pipe, so that `out` keeps the order in which both were written.
  bool merge_stderr = false;
};

/// A running child in its own process group, its output collected by a thread. The destructor
/// kills the whole group (SIGKILL) if it is still running, so that a failure of the caller
/// leaves nothing behind; the child also dies with the thread that started it
/// (PR_SET_PDEATHSIG), even when the whole process is killed.
class child {
 public:
  /// Starts argv[0], looked up in PATH when it has no slash. Throws std::runtime_error when it
  /// cannot be started at all (no such program, not executable, no pipes or processes left).
  explicit child(const std::vector<std::string>& argv, const options& o = {});
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  void write_stdin(const std::string& data);
  void close_stdin();

  /// Waits until `ready(out, err)` holds or the child has closed its output; true when it held.
  bool wait_for(const std::function<bool(const std::string& out, const std::string& err)>& ready,
                std::chrono::milliseconds timeout);
  /// Shorthand: waits for `text` in stderr.
  bool wait_for_stderr(const std::string& text, std::chrono::milliseconds timeout);

  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;

  /// Waits for the exit; after `timeout` kills the group and reports timed_out.
  result wait(std::chrono::milliseconds timeout);

  /// Sends a signal to the whole group.
  void signal_group(int sig) noexcept;

 private:
  void reader_loop(int out_fd, int err_fd);

  std::string command_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_;
  std::string err_;
  bool streams_closed_ = false;
  bool reaped_ = false;
  int status_ = 0;
  std::chrono::steady_clock::time_point started_;
};

/// Runs argv to completion, with `input` on stdin when it is not empty (else as `o` says),
/// killing the group after `timeout`. Throws as child's constructor does.
result run(const std::vector<std::string>& argv, const options& o = {},
           std::chrono::milliseconds timeout = std::chrono::seconds(60),
           const std::string& input = {});

/// The first executable `name` in $PATH (or /usr/bin:/bin without one); empty when there is
/// none. A name with a slash is returned as it is.
std::filesystem::path find_program(const std::string& name);

}  // namespace mailoauth::process
