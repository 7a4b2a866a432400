#include "integration_environment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <thread>

namespace mailoauth::test {
namespace {

struct shared_state {
  std::optional<dovecot_instance> main;
  std::optional<dovecot_instance> xoauth2;
  std::filesystem::path scratch;
  // Set when this process started the services itself and must stop them.
  std::filesystem::path own_services;
  // Why the services cannot be used, if they cannot.
  std::string unavailable;
};

shared_state& state() {
  static shared_state s;
  return s;
}

std::filesystem::path make_temp_dir(const char* prefix) {
  std::string pattern = std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  return pattern;
}

bool process_alive(const std::string& pid_text) {
  const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0;
}

// Starts or attaches to the services; returns why they are not usable, or nothing.
std::string bring_up(shared_state& s) {
  std::filesystem::path dir;
  if (const char* attached = std::getenv("MAILOAUTH_DOVECOT_DIR"); attached && *attached) {
    // Started by the CTest fixture integration_services_start.
    dir = attached;
  } else {
    // Run by hand: start a private pair of instances for this process only.
    dir = make_temp_dir("mailoauth-it-services.");
    s.own_services = dir;
    try {
      const std::filesystem::path certs = std::string(MAILOAUTH_BUILD_DIR) + "/test-certs";
      std::cerr << start_services(
          dir, std::filesystem::exists(certs / "ca.pem") ? certs : std::filesystem::path{},
          static_cast<long>(::getpid()));
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  std::string why;
  s.main = dovecot_instance::load(dir / "main", why);
  if (!s.main)
    return "Dovecot (XOAUTH2 + OAUTHBEARER) is not available: " + why +
           "\n(the CTest fixture integration_services_start starts it; see its output, or run "
           "this binary without MAILOAUTH_DOVECOT_DIR)";
  s.xoauth2 = dovecot_instance::load(dir / "xoauth2", why);
  if (!s.xoauth2) return "Dovecot (XOAUTH2 only) is not available: " + why;
  for (const auto* d : {&*s.main, &*s.xoauth2}) {
    if (!process_alive(d->get("SUPERVISOR_PID")))
      return "the Dovecot instance in " + d->dir().string() + " is no longer running\n" +
             d->log_tail();
  }
  return {};
}

// Token files go under the services' folder, which services.sh empties on start and stop,
// so that a test killed before its TearDown (a CTest timeout) leaves no token behind for long.
std::filesystem::path make_scratch_dir(const shared_state& s) {
  const char* attached = std::getenv("MAILOAUTH_DOVECOT_DIR");
  const std::filesystem::path base = attached && *attached ? std::filesystem::path(attached)
                                     : s.own_services.empty()
                                         ? std::filesystem::temp_directory_path()
                                         : s.own_services;
  std::filesystem::create_directories(base / "scratch");
  std::string pattern = base / "scratch" / "tokens.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  return pattern;
}

}  // namespace

void services_environment::SetUp() {
  auto& s = state();
  s.unavailable = bring_up(s);
  s.scratch = make_scratch_dir(s);
  if (!s.unavailable.empty()) {
    s.main.reset();
    s.xoauth2.reset();
    // Not a fatal failure: that would make gtest skip the tests. Every test fails instead,
    // when it asks for the services (main_dovecot() throws).
    ADD_FAILURE() << s.unavailable;
  }
}

void services_environment::TearDown() {
  auto& s = state();
  if (!s.own_services.empty()) {
    stop_services(s.own_services);
    std::error_code ignored;
    std::filesystem::remove_all(s.own_services, ignored);
  }
  if (!s.scratch.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(s.scratch, ignored);
  }
}

const dovecot_instance& main_dovecot() {
  if (!state().main) throw std::runtime_error("no Dovecot: " + state().unavailable);
  return *state().main;
}

const dovecot_instance& xoauth2_dovecot() {
  if (!state().xoauth2) throw std::runtime_error("no Dovecot: " + state().unavailable);
  return *state().xoauth2;
}

std::string write_token_file(const std::string& token) {
  static std::atomic<int> counter{0};
  const auto path = state().scratch / ("token-" + std::to_string(++counter));
  // 0600 from the start: mailoauth warns about token files that others can read.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string());
  const std::string text = token + "\n";
  const auto n = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot write " + path.string());
  return path.string();
}

process_result run_mailoauth(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MAILOAUTH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  // A token in the environment would be used when a test forgets --token-file.
  return run_process(argv, {.unset_env = {"MAILOAUTH_TOKEN"}, .timeout = std::chrono::seconds(60)});
}

process_result run_curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"curl", "--silent", "--show-error", "--max-time", "30"};
  argv.insert(argv.end(), args.begin(), args.end());
  // No ~/.curlrc, no proxy: the request must go straight to the local Dovecot.
  return run_process(argv, {.set_env = {"CURL_HOME=/nonexistent"},
                            .unset_env = {"ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"},
                            .timeout = std::chrono::seconds(60)});
}

std::string url(const std::string& scheme, std::uint16_t port) {
  return scheme + "://127.0.0.1:" + std::to_string(port);
}

bool log_has_line(const dovecot_instance& instance, const std::vector<std::string>& parts,
                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::ifstream in(instance.log_file());
    std::string line;
    while (std::getline(in, line)) {
      const bool all = std::all_of(parts.begin(), parts.end(), [&](const std::string& p) {
        return line.find(p) != std::string::npos;
      });
      if (all) return true;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace mailoauth::test
