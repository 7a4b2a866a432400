#include "process_run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace mailoauth::test {
namespace {

std::string name_of(const std::string& assignment) {
  return assignment.substr(0, assignment.find('='));
}

std::vector<std::string> child_environment(const process_options& o) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto name = name_of(entry);
    const auto replaced = [&](const std::string& s) { return name_of(s) == name; };
    if (std::any_of(o.set_env.begin(), o.set_env.end(), replaced)) continue;
    if (std::find(o.unset_env.begin(), o.unset_env.end(), name) != o.unset_env.end()) continue;
    env.push_back(entry);
  }
  env.insert(env.end(), o.set_env.begin(), o.set_env.end());
  return env;
}

class file_actions {
 public:
  file_actions() { posix_spawn_file_actions_init(&a_); }
  ~file_actions() { posix_spawn_file_actions_destroy(&a_); }
  file_actions(const file_actions&) = delete;
  file_actions& operator=(const file_actions&) = delete;
  posix_spawn_file_actions_t* get() { return &a_; }

 private:
  posix_spawn_file_actions_t a_{};
};

class spawn_attributes {
 public:
  spawn_attributes() { posix_spawnattr_init(&a_); }
  ~spawn_attributes() { posix_spawnattr_destroy(&a_); }
  spawn_attributes(const spawn_attributes&) = delete;
  spawn_attributes& operator=(const spawn_attributes&) = delete;
  posix_spawnattr_t* get() { return &a_; }

 private:
  posix_spawnattr_t a_{};
};

}  // namespace

std::string process_result::describe() const {
  std::string s = timed_out ? "timed out" : "exit code " + std::to_string(exit_code);
  s += " after " +
       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
       " ms\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
  return s;
}

process_result run_process(const std::vector<std::string>& argv, const process_options& options) {
  if (argv.empty()) throw std::invalid_argument("run_process: no program");
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error("pipe2 failed");
  }

  file_actions actions;
  posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(actions.get(), err_pipe[1], 2);
  spawn_attributes attributes;
  // Its own process group, so that a timeout can kill whatever the child started as well.
  posix_spawnattr_setflags(attributes.get(), POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(attributes.get(), 0);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto env_strings = child_environment(options);
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);

  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc =
      ::posix_spawnp(&pid, args[0], actions.get(), attributes.get(), args.data(), env.data());
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  }

  process_result result;
  std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
  int open_fds = 2;
  const auto deadline = start + options.timeout;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].fd < 0 || (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[8192];
      const auto n = ::read(fds[k].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[k].fd);
        fds[k].fd = -1;
        --open_fds;
      } else {
        (k == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.elapsed = std::chrono::steady_clock::now() - start;
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace mailoauth::test
