// The command line itself, through the real programs (issue 8, build item 10): an unknown
// command is said as such, the global options may follow the command, and the help names
// Microsoft's guide by its title.
#include "process_run.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mailoauth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

process_result mailoauth(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MAILOAUTH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  // No configuration or token of the user's is read: HOME and the XDG folders point nowhere.
  return run_process(argv, {.set_env = {"HOME=/nonexistent", "XDG_CONFIG_HOME=/nonexistent",
                                        "XDG_STATE_HOME=/nonexistent"},
                            .unset_env = {"MAILOAUTH_CONFIG"},
                            .timeout = std::chrono::seconds(30)});
}

process_result sandbox_program(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MAILOAUTH_SANDBOX_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {.timeout = std::chrono::seconds(30)});
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

TEST(command_line, an_unknown_command_is_named) {
  const auto r = mailoauth({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_EQ(r.err, "mailoauth: error: unknown command 'frobnicate' (see mailoauth --help)\n")
      << r.describe();
  EXPECT_EQ(r.out, "") << r.describe();
}

TEST(command_line, an_unknown_command_with_help_is_still_unknown) {
  // Not the general help with exit 0, as if the command existed.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"frobnicate", "--help"}, {"-v", "frobnicate"}, {"--config", "x.toml", "frobnicate"}}) {
    const auto r = mailoauth(args);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'")) << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
  }
}

TEST(command_line, an_unknown_command_is_shown_without_control_bytes) {
  const auto r = mailoauth({"frob\x1b[2Jnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frob\\x1b[2Jnicate'")) << r.describe();
}

TEST(command_line, the_sandbox_program_names_an_unknown_command_too) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"frobnicate"}, {"frobnicate", "--help"}}) {
    const auto r = sandbox_program(args);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_EQ(r.err, "mailoauth: error: unknown command 'frobnicate' (see mailoauth --help)\n")
        << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
  }
}

TEST(command_line, no_command_is_still_asked_for) {
  const auto r = mailoauth({});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.both(), HasSubstr("A subcommand is required")) << r.describe();
}

TEST(command_line, the_help_names_microsofts_guide_by_its_title) {
  for (const auto& r :
       {mailoauth({"--help"}), sandbox_program({"--help"}), sandbox_program({"demo", "--help"}),
        sandbox_program({"sandbox", "--help"})}) {
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_THAT(lower(r.both()), Not(HasSubstr("seed"))) << r.describe();
  }
  const auto r = mailoauth({"--help"});
  EXPECT_THAT(r.out, HasSubstr("demo")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("Microsoft's guide")) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("-v and --config may also follow the command")) << r.describe();
}

// A loopback port that refuses connections for as long as this lives: bound, never listening,
// so no other program can take it meanwhile.
class refusing_port {
 public:
  refusing_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot bind a loopback port");
    port_ = ntohs(a.sin_port);
  }
  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;
  ~refusing_port() { ::close(fd_); }
  [[nodiscard]] unsigned port() const noexcept { return port_; }

 private:
  int fd_ = -1;
  unsigned port_ = 0;
};

class verbose_after_the_command : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file_ = std::filesystem::temp_directory_path() /
                  ("mailoauth-cli-test-token-" + std::to_string(::getpid()));
    std::ofstream(token_file_) << "not-a-real-token\n";
    std::filesystem::permissions(
        token_file_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  void TearDown() override { std::filesystem::remove(token_file_); }

  // `check` against a port that refuses: exit 5 (connection failure) whatever the verbosity,
  // and with -v the debug line that names the host it resolves.
  process_result check(const std::vector<std::string>& before,
                       const std::vector<std::string>& after) {
    std::vector<std::string> args = before;
    for (const auto& a :
         std::vector<std::string>{"check", "imap://127.0.0.1:" + std::to_string(port_.port()),
                                  "--user", "test@contoso.onmicrosoft.com", "--token-file",
                                  token_file_.string(), "--insecure-plaintext", "--timeout", "10"})
      args.push_back(a);
    args.insert(args.end(), after.begin(), after.end());
    return mailoauth(args);
  }

  refusing_port port_;
  std::filesystem::path token_file_;
};

constexpr const char* debug_line = "mailoauth: debug: resolving 127.0.0.1";

TEST_F(verbose_after_the_command, quiet_without_v) {
  const auto r = check({}, {});
  EXPECT_EQ(r.exit_code, 5) << r.describe();
  EXPECT_THAT(r.err, Not(HasSubstr(debug_line))) << r.describe();
}

TEST_F(verbose_after_the_command, v_before_the_command) {
  const auto r = check({"-v"}, {});
  EXPECT_EQ(r.exit_code, 5) << r.describe();
  EXPECT_THAT(r.err, HasSubstr(debug_line)) << r.describe();
}

TEST_F(verbose_after_the_command, v_after_the_command) {
  for (const auto& after : std::vector<std::vector<std::string>>{{"-v"}, {"-vv"}, {"--verbose"}}) {
    const auto r = check({}, after);
    EXPECT_EQ(r.exit_code, 5) << after.front() << "\n" << r.describe();
    EXPECT_THAT(r.err, HasSubstr(debug_line)) << after.front() << "\n" << r.describe();
  }
}

TEST(command_line, v_after_a_nested_command) {
  // sasl decode's own options and -v after them; the payload is the guide's XOAUTH2 example.
  const std::string payload =
      "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVm"
      "UwYmpMQldaV0NjbFJDM0VvQUEBAQ==";
  const auto quiet = mailoauth({"sasl", "decode", payload});
  const auto verbose = mailoauth({"sasl", "decode", payload, "-v"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.describe();
  EXPECT_EQ(verbose.exit_code, 0) << verbose.describe();
  EXPECT_EQ(verbose.out, quiet.out) << verbose.describe();
}

TEST(command_line, config_after_the_command) {
  const auto after = mailoauth({"accounts", "--config", "/nonexistent/cli-test.toml"});
  const auto before = mailoauth({"--config", "/nonexistent/cli-test.toml", "accounts"});
  EXPECT_EQ(after.exit_code, before.exit_code) << after.describe();
  EXPECT_EQ(after.err, before.err) << after.describe();
  EXPECT_THAT(after.err, HasSubstr("/nonexistent/cli-test.toml")) << after.describe();
}

}  // namespace
}  // namespace mailoauth::test
