#include "common/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace mailoauth::process {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> environment_for(const options& o) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& name : o.unset_env) env.erase(name);
  for (const auto& kv : o.set_env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("set_env needs NAME=VALUE: " + kv);
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::string quote_for_log(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a.find_first_of(" \"'$") == std::string::npos ? a : "'" + a + "'";
  }
  return out;
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The pipes and files a child is given, closed on every path out of the constructor.
struct child_fds {
  std::array<int, 2> out{-1, -1};
  std::array<int, 2> err{-1, -1};
  std::array<int, 2> in{-1, -1};
  std::array<int, 2> exec_error{-1, -1};
  int stdin_source = -1;
  ~child_fds() {
    for (auto* p : {&out, &err, &in, &exec_error})
      for (auto& fd : *p) close_fd(fd);
    close_fd(stdin_source);
  }
};

}  // namespace

std::string result::status() const {
  if (timed_out)
    return "timed out after " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
           " ms";
  if (term_signal != 0) return "killed by signal " + std::to_string(term_signal);
  return "exit " + std::to_string(exit_code);
}

std::string result::describe() const {
  return "command: " + command + "\n" + status() + " after " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
         " ms\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err + "\n--------------";
}

std::filesystem::path find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    const auto colon = rest.find(':');
    const auto dir = rest.substr(0, colon);
    const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return {};
    rest.remove_prefix(colon + 1);
  }
}

child::child(const std::vector<std::string>& argv, const options& o)
    : command_(quote_for_log(argv)), started_(std::chrono::steady_clock::now()) {
  if (argv.empty()) throw std::invalid_argument("child: empty argv");
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls
  // (the caller may have other threads, as the demo's sandbox does).
  const auto env = environment_for(o);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));  // NOLINT: execve
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execve
  args.push_back(nullptr);
  const auto found = find_program(argv.front());
  if (found.empty()) throw std::runtime_error("cannot run " + argv.front() + ": not in PATH");
  const std::string program = found.string();

  child_fds fds;
  if (::pipe2(fds.out.data(), O_CLOEXEC) != 0 ||
      (!o.merge_stderr && ::pipe2(fds.err.data(), O_CLOEXEC) != 0) ||
      (o.pipe_stdin && ::pipe2(fds.in.data(), O_CLOEXEC) != 0) ||
      ::pipe2(fds.exec_error.data(), O_CLOEXEC) != 0)
    throw std::runtime_error(errno_text("pipe2"));
  if (!o.pipe_stdin) {
    const auto source = o.stdin_file.empty() ? std::string("/dev/null") : o.stdin_file.string();
    fds.stdin_source = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fds.stdin_source < 0)
      throw std::runtime_error(errno_text(("cannot open " + source).c_str()));
  }
  const int child_stdin = o.pipe_stdin ? fds.in[0] : fds.stdin_source;
  const int child_stderr = o.merge_stderr ? fds.out[1] : fds.err[1];
  const pid_t parent = ::getpid();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(errno_text("fork"));
  if (pid_ == 0) {
    ::setpgid(0, 0);
    // Dies with its starter, even when that is killed by a timeout.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(child_stdin, 0);
    ::dup2(fds.out[1], 1);
    ::dup2(child_stderr, 2);
    ::execve(program.c_str(), args.data(), envp.data());
    // The pipe closes on a successful exec; on a failed one it carries errno to the parent.
    const int error = errno;
    [[maybe_unused]] const auto ignored = ::write(fds.exec_error[1], &error, sizeof error);
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // both sides, so that it holds before either goes on
  close_fd(fds.exec_error[1]);
  int exec_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(fds.exec_error[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    throw std::runtime_error("cannot run " + program + ": " + std::strerror(exec_errno));
  }
  if (o.pipe_stdin) {
    stdin_fd_ = fds.in[1];
    fds.in[1] = -1;
  }
  const int out_fd = fds.out[0];
  const int err_fd = fds.err[0];
  fds.out[0] = -1;
  fds.err[0] = -1;
  reader_ = std::thread([this, out_fd, err_fd] { reader_loop(out_fd, err_fd); });
}

child::~child() {
  {
    std::unique_lock lock(mutex_);
    if (!reaped_) {
      lock.unlock();
      signal_group(SIGKILL);
      wait(10s);
    }
  }
  close_stdin();
  if (reader_.joinable()) reader_.join();
}

void child::reader_loop(int out_fd, int err_fd) {
  std::array<pollfd, 2> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}}};
  int open_count = err_fd >= 0 ? 2 : 1;
  std::array<char, 8192> buf{};
  while (open_count > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0) continue;
      const auto n = ::read(fds[k].fd, buf.data(), buf.size());
      if (n > 0) {
        std::lock_guard lock(mutex_);
        (k == 0 ? out_ : err_).append(buf.data(), static_cast<std::size_t>(n));
        changed_.notify_all();
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[k].fd);
        fds[k].fd = -1;
        --open_count;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  std::lock_guard lock(mutex_);
  streams_closed_ = true;
  changed_.notify_all();
}

void child::write_stdin(const std::string& data) {
  if (stdin_fd_ < 0) throw std::logic_error("child: stdin is not a pipe");
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(stdin_fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(errno_text("write to child stdin"));
    }
    done += static_cast<std::size_t>(n);
  }
}

void child::close_stdin() {
  close_fd(stdin_fd_);
}

bool child::wait_for(const std::function<bool(const std::string&, const std::string&)>& ready,
                     std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return ready(out_, err_) || streams_closed_; }) &&
         ready(out_, err_);
}

bool child::wait_for_stderr(const std::string& text, std::chrono::milliseconds timeout) {
  return wait_for(
      [&](const std::string&, const std::string& e) { return e.find(text) != std::string::npos; },
      timeout);
}

std::string child::out() const {
  std::lock_guard lock(mutex_);
  return out_;
}

std::string child::err() const {
  std::lock_guard lock(mutex_);
  return err_;
}

void child::signal_group(int sig) noexcept {
  if (pid_ > 0) ::kill(-pid_, sig);
}

result child::wait(std::chrono::milliseconds timeout) {
  result r;
  r.command = command_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (reaped_) break;
    }
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      std::lock_guard lock(mutex_);
      reaped_ = true;
      status_ = status;
      break;
    }
    if (got < 0 && errno != EINTR) {
      std::lock_guard lock(mutex_);
      reaped_ = true;
      status_ = -1;
      break;
    }
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      signal_group(SIGKILL);
      killed = true;
      r.timed_out = true;
    }
    std::this_thread::sleep_for(5ms);
  }
  r.elapsed = std::chrono::steady_clock::now() - started_;
  // Whatever the child wrote before it exited; grandchildren that still hold the pipes (a
  // browser the CLI started, a daemon) must not hold this up for long.
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, 2s, [&] { return streams_closed_; });
  r.out = out_;
  r.err = err_;
  if (status_ != -1 && WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
  if (status_ != -1 && WIFSIGNALED(status_)) r.term_signal = WTERMSIG(status_);
  if (r.timed_out) r.exit_code = -1;
  return r;
}

result run(const std::vector<std::string>& argv, const options& o,
           std::chrono::milliseconds timeout, const std::string& input) {
  options with_input = o;
  if (!input.empty()) with_input.pipe_stdin = true;
  child c(argv, with_input);
  if (with_input.pipe_stdin) {
    if (!input.empty()) c.write_stdin(input);
    c.close_stdin();
  }
  return c.wait(timeout);
}

}  // namespace mailoauth::process
