#include "config/command.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mailoauth::config {

result<secret> run_secret_command(const std::string& command, const std::string& what) {
  std::fflush(nullptr);  // nothing of ours may be duplicated into the child's buffers
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe)
    return make_failure(errc::config_invalid, "cannot run " + what + ": " + std::strerror(errno));
  std::string out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    wipe(out);
    return make_failure(errc::config_invalid,
                        what + " failed (" +
                            (status != -1 && WIFEXITED(status)
                                 ? "exit status " + std::to_string(WEXITSTATUS(status))
                                 : std::string("killed by a signal")) +
                            "): " + command);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.empty()) return make_failure(errc::config_invalid, what + " printed nothing: " + command);
  return secret(std::move(out));
}

}  // namespace mailoauth::config
