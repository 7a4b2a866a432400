#include "child_process.hpp"

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
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace mailoauth::oauth_test {
namespace {

std::vector<std::string> environment_for(const child_options& o) {
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

}  // namespace

std::string run_result::describe() const {
  std::ostringstream s;
  s << "command: " << command << "\n"
    << (timed_out ? std::string("TIMED OUT") : "exit code " + std::to_string(exit_code))
    << " after " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
    << " ms\n"
    << "--- stdout ---\n"
    << out << "\n--- stderr ---\n"
    << err << "\n--------------";
  return s.str();
}

child::child(std::vector<std::string> argv, const child_options& options)
    : command_(quote_for_log(argv)), started_(std::chrono::steady_clock::now()) {
  if (argv.empty()) throw std::invalid_argument("child: empty argv");
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  const auto env = environment_for(options);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // A program without a slash is looked up in PATH here, not in the child.
  std::string program = argv[0];
  if (program.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      const auto candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
      if (::access(candidate.c_str(), X_OK) == 0) {
        program = candidate;
        break;
      }
    }
  }

  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      (options.pipe_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0))
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::setpgid(0, 0);
    // Dies with the test process, even when that is killed by a timeout.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(options.pipe_stdin ? in_pipe[0] : devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execve(program.c_str(), args.data(), envp.data());
    static constexpr char msg[] = "child: execve failed\n";
    [[maybe_unused]] auto ignored = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // both sides, so that it holds before either goes on
  ::close(devnull);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (options.pipe_stdin) {
    ::close(in_pipe[0]);
    stdin_fd_ = in_pipe[1];
  }
  reader_ = std::thread([this, o = out_pipe[0], e = err_pipe[0]] { reader_loop(o, e); });
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
  int open_count = 2;
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
      throw std::runtime_error(std::string("write to child stdin: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

void child::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
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

run_result child::wait(std::chrono::milliseconds timeout) {
  run_result r;
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
  // Whatever the child wrote before it exited; grandchildren holding the pipes (a browser the
  // CLI started) must not hold this up for long.
  {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 2s, [&] { return streams_closed_; });
    r.out = out_;
    r.err = err_;
    if (status_ != -1 && WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
    if (r.timed_out) r.exit_code = -1;
  }
  return r;
}

run_result run(const std::vector<std::string>& argv, const child_options& options,
               std::chrono::milliseconds timeout, const std::string& input) {
  child_options o = options;
  o.pipe_stdin = !input.empty();
  child c(argv, o);
  if (!input.empty()) {
    c.write_stdin(input);
    c.close_stdin();
  }
  return c.wait(timeout);
}

}  // namespace mailoauth::oauth_test
