// Child processes for the OAuth tests: the real mailoauth CLI (sometimes twenty at once, or one
// that waits for input on stdin), the test authorization server, browser.mjs, curl.
// tests/support/process_run.hpp runs a child to completion with stdin from /dev/null; these
// tests also need to talk to a child while it runs (the paste flow) and to start many at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mailoauth::oauth_test {

using namespace std::chrono_literals;

/// What a finished (or killed) child left behind.
struct run_result {
  /// The exit status; -1 when killed by a signal or timed out.
  int exit_code = -1;
  bool timed_out = false;
  std::string out;
  std::string err;
  std::chrono::steady_clock::duration elapsed{};

  [[nodiscard]] std::string both() const { return out + err; }
  /// For failure messages: the command, its status, and what it printed.
  [[nodiscard]] std::string describe() const;
  std::string command;  // for describe()
};

struct child_options {
  /// NAME=VALUE added to (or replacing in) the inherited environment.
  std::vector<std::string> set_env{};
  /// Names removed from the inherited environment.
  std::vector<std::string> unset_env{};
  /// A pipe on stdin (write_stdin / close_stdin); otherwise /dev/null.
  bool pipe_stdin = false;
};

/// A running child in its own process group, its stdout and stderr collected by a thread.
/// The destructor kills the whole group (SIGKILL) if it is still running, so a failing test
/// leaves nothing behind; the child also dies with this process (PR_SET_PDEATHSIG).
class child {
 public:
  child(std::vector<std::string> argv, const child_options& options = {});
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  void write_stdin(const std::string& data);
  void close_stdin();

  /// Waits until `ready(out, err)` holds or the child has exited and said all it will say;
  /// true when it held.
  bool wait_for(const std::function<bool(const std::string& out, const std::string& err)>& ready,
                std::chrono::milliseconds timeout);
  /// Shorthand: waits for `text` in stderr.
  bool wait_for_stderr(const std::string& text, std::chrono::milliseconds timeout);

  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;

  /// Waits for the exit; after `timeout` kills the group and reports timed_out.
  run_result wait(std::chrono::milliseconds timeout);

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

/// Runs argv to completion, with `input` on stdin (stdin is /dev/null when it is empty).
run_result run(const std::vector<std::string>& argv, const child_options& options = {},
               std::chrono::milliseconds timeout = 120s, const std::string& input = {});

}  // namespace mailoauth::oauth_test
