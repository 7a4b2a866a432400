#include "token_source.hpp"

#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mailoauth::cli {
namespace {

// Tokens come with a trailing newline from files and commands; nothing else is trimmed, so
// that a token with stray inner whitespace is sent as given and the server's verdict shows it.
void trim_line_end(std::string& s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
}

std::optional<secret> from_file(const std::string& path, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read token file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    std::fprintf(stderr, "mailoauth: warning: token file %s is readable by others; chmod 600 it\n",
                 path.c_str());
  std::ostringstream buf;
  buf << in.rdbuf();
  auto text = buf.str();
  trim_line_end(text);
  return secret(std::move(text));
}

std::optional<secret> from_command(const std::string& command, std::string& why) {
  // The command's stderr goes to ours, so that its own messages reach the user.
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    why = "cannot run token command: " + std::string(std::strerror(errno));
    return std::nullopt;
  }
  std::string text;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
  const int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    wipe(text);
    why = "token command failed (" +
          (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                             : std::string("killed by a signal")) +
          "): " + command;
    return std::nullopt;
  }
  trim_line_end(text);
  return secret(std::move(text));
}

}  // namespace

std::optional<secret> read_token(const token_source& from, std::string& why) {
  std::optional<secret> token;
  if (!from.file.empty()) {
    token = from_file(from.file, why);
  } else if (!from.command.empty()) {
    token = from_command(from.command, why);
  } else if (const char* env = std::getenv("MAILOAUTH_TOKEN"); env && *env) {
    std::string text(env);
    trim_line_end(text);
    token = secret(std::move(text));
  } else {
    why = "no token: give --token-file, --token-command, or set MAILOAUTH_TOKEN";
    return std::nullopt;
  }
  if (token && token->empty()) {
    why = "the token is empty";
    return std::nullopt;
  }
  if (token) {
    for (const char c : token->reveal()) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        why = "the token contains control characters or several lines; a token is one line";
        return std::nullopt;
      }
    }
  }
  return token;
}

}  // namespace mailoauth::cli
