// `mailoauth sandbox` and `mailoauth demo` run the companion program mailoauth-sandbox, which
// holds the sandbox's identity platform and mail servers (and links libjwt). Keeping them out of
// this binary keeps the token helper's start-up to its own libraries (docs/performance.md).
#include "commands.hpp"
#include "output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace mailoauth::cli {
namespace {

constexpr const char* program_name = "mailoauth-sandbox";

// The same places as the HTTP module: $MAILOAUTH_MODULE_DIR alone when set, else beside this
// executable (the build tree), then <prefix>/lib/mailoauth (installed).
std::vector<std::filesystem::path> candidates() {
  std::vector<std::filesystem::path> dirs;
  if (const char* dir = ::secure_getenv("MAILOAUTH_MODULE_DIR"); dir != nullptr && *dir != '\0') {
    dirs.emplace_back(dir);
    return dirs;
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path());
    dirs.push_back((exe.parent_path() / ".." / "lib" / "mailoauth").lexically_normal());
  }
  return dirs;
}

}  // namespace

int exec_sandbox_program(int argc, char** argv) {
  std::string searched;
  for (const auto& dir : candidates()) {
    const auto path = (dir / program_name).string();
    searched += (searched.empty() ? "" : ", ") + dir.string();
    if (::access(path.c_str(), X_OK) != 0) continue;
    std::vector<char*> args;
    args.push_back(const_cast<char*>(program_name));  // NOLINT: execv's signature
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    ::execv(path.c_str(), args.data());
    return fail(1, "cannot run " + path + ": " + std::strerror(errno));
  }
  return fail(1, std::string("the sandbox program (") + program_name +
                     ") was not found (searched " + (searched.empty() ? "nothing" : searched) +
                     "); reinstall mailoauth, or set MAILOAUTH_MODULE_DIR to its directory");
}

void describe_sandbox_commands(CLI::App& app) {
  app.add_subcommand("sandbox",
                     "Run a local Exchange Online stand-in: identity platform, IMAP, POP3, SMTP")
      ->allow_extras();
  app.add_subcommand("demo", "Walk through the four steps of Microsoft's guide against the sandbox")
      ->allow_extras();
}

}  // namespace mailoauth::cli
