// The token cache as the CLI leaves it: mode 0600 in a 0700 folder, encrypted at rest with a
// key_command, and never truncated or readable by others when a writer is killed at any of its
// system calls.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>
#include <boost/json/parse.hpp>

#include <iostream>
#include <map>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

fs::perms mode_of(const fs::path& p) {
  return fs::status(p).permissions() & fs::perms::all;
}

using token_store = oauth_test;

TEST_F(token_store, files_are_private) {
  write_config({{}});
  login_fast();
  EXPECT_EQ(mode_of(token_file()), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(mode_of(token_file().parent_path()), fs::perms::owner_all);
  // Also after a refresh rewrote it.
  ASSERT_EQ(mailoauth({"token", "acct", "--force-refresh"}).exit_code, 0);
  EXPECT_EQ(mode_of(token_file()), fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(token_store, encrypted_at_rest_with_a_key_command) {
  const auto key = scratch_ / "key";
  write_file(key, "a-long-random-secret-from-the-keyring-0123456789\n", 0600);
  write_config({{.extra = {"key_command = \"cat " + key.string() + "\""}}});
  login_fast();
  const auto raw = read_file(token_file());
  const auto doc = boost::json::parse(raw).as_object();
  EXPECT_EQ(doc.at("encryption"), "aes-256-gcm");
  EXPECT_FALSE(doc.contains("access_token"));

  // Usable through the key: `token` prints it, and a refresh stores the new one encrypted.
  const auto t = mailoauth({"token", "acct"});
  ASSERT_EQ(t.exit_code, 0) << t.describe();
  const auto token = first_line(t.out);
  EXPECT_TRUE(jwt_signature_valid(token));
  EXPECT_THAT(raw, Not(HasSubstr(token.substr(token.size() - 20))));
  const auto r = mailoauth({"token", "acct", "--force-refresh"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(first_line(r.out), token);
  const auto after = read_file(token_file());
  EXPECT_THAT(after, HasSubstr("\"ciphertext\""));
  EXPECT_THAT(after, Not(HasSubstr(first_line(r.out).substr(first_line(r.out).size() - 20))));
  const auto a = mailoauth({"accounts"});
  EXPECT_THAT(a.out, HasSubstr("valid, expires in")) << a.describe();

  // Another key cannot read it, and says what to do.
  write_file(key, "some-other-key-material-entirely-different-9876543\n", 0600);
  const auto wrong = mailoauth({"token", "acct"});
  EXPECT_NE(wrong.exit_code, 0) << wrong.describe();
  EXPECT_EQ(wrong.out, "");
  EXPECT_THAT(wrong.err, HasSubstr(token_file().string()));
}

int temporaries_in(const fs::path& dir) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    n += entry.path().filename().string().ends_with(".tmp") ? 1 : 0;
  return n;
}

// What a killed writer left: the token file is the old one byte for byte, or a whole new one
// with a valid token; nothing in the folder is readable by others; at most one temporary file
// (the killed save's) is left over, as every save first removes those of dead writers.
void expect_whole_and_private(const fs::path& file, const std::string& old_content) {
  const auto content = read_file(file);
  if (content != old_content) {
    boost::system::error_code ec;
    const auto doc = boost::json::parse(content, ec);
    ASSERT_FALSE(ec) << "the token file is neither the old one nor a whole new one:\n" << content;
    const auto* token = doc.is_object() ? doc.as_object().if_contains("access_token") : nullptr;
    ASSERT_TRUE(token && token->is_string()) << content;
    EXPECT_TRUE(jwt_signature_valid(std::string(token->as_string())));
  }
  EXPECT_EQ(mode_of(file), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(mode_of(file.parent_path()), fs::perms::owner_all);
  int temporaries = 0;
  for (const auto& entry : fs::directory_iterator(file.parent_path())) {
    const auto name = entry.path().filename().string();
    const bool temporary = name.starts_with(".acct.json.") && name.ends_with(".tmp");
    temporaries += temporary ? 1 : 0;
    EXPECT_TRUE(temporary || name == "acct.json" || name == "acct.lock") << "unexpected " << name;
    EXPECT_EQ(mode_of(entry.path()) & (fs::perms::group_all | fs::perms::others_all),
              fs::perms::none)
        << entry.path();
  }
  EXPECT_LE(temporaries, 1) << "temporary files accumulate";
}

TEST_F(token_store, a_writer_killed_at_any_point_leaves_a_whole_private_file) {
  // App-only tokens: every forced refresh is a new token and a new save, with no rotation that a
  // killed writer could lose.
  write_config({{.client_id = "mailoauth-confidential",
                 .flow = "client-credentials",
                 .extra = {"client_secret = \"mailoauth-test-secret\""}}});
  ASSERT_EQ(mailoauth({"login", "acct"}).exit_code, 0);

  // Instead of racing a kill against the writer, strace kills it on entry to the Nth call of one
  // system call, for every N until the writer gets through, and for every call that changes the
  // token folder (src/store/atomic_file.cpp, the refresh lock in token_store.cpp): on entry to
  // each of them is every state a crash can leave on disk, whatever the machine's speed
  // (issue 8). A killed process releases its locks, so the next run must not wait on them.
  const std::vector<std::string> syscalls{"openat", "flock",    "fchmod",    "write",   "fsync",
                                          "rename", "renameat", "renameat2", "unlinkat"};
  const auto version = run({"strace", "-V"}, {}, std::chrono::seconds(30));
  ASSERT_EQ(version.exit_code, 0) << "strace is needed (scripts/install-deps.sh installs it):\n"
                                  << version.describe();
  const auto file = token_file();
  const auto dead_writers_file = file.parent_path() / ".acct.json.0123456789abcdef.tmp";
  int kill_points = 0;
  std::map<std::string, int> per_syscall;
  for (const auto& syscall : syscalls) {
    for (int n = 1;; ++n) {
      SCOPED_TRACE(syscall + " #" + std::to_string(n));
      ASSERT_LT(n, 2000) << "the writer never got through";
      // A save unlinks only the temporary files of dead writers: leave one, as a writer killed
      // after creating its file does, so that there is an unlinkat to kill.
      if (syscall == "unlinkat" && temporaries_in(file.parent_path()) == 0)
        write_file(dead_writers_file, "{\"access_tok", 0600);
      const auto old_content = read_file(file);
      // Only the counted call is traced (inject needs it traced); the trace is not kept.
      const auto when = std::to_string(n);
      std::vector<std::string> argv{"strace",
                                    "-f",
                                    "-qq",
                                    "-o",
                                    "/dev/null",
                                    "-e",
                                    "trace=" + syscall,
                                    "-e",
                                    "inject=" + syscall + ":signal=KILL:when=" + when,
                                    "--"};
      const auto cli = mailoauth_argv({"token", "acct", "--force-refresh"});
      argv.insert(argv.end(), cli.begin(), cli.end());
      const auto r = run(argv, mailoauth_env(), std::chrono::seconds(120));
      ASSERT_FALSE(r.timed_out) << r.describe();
      if (r.exit_code == 0) break;  // fewer than n calls: the writer got through
      // strace passes the tracee's death on as its own: killed by a signal.
      ASSERT_EQ(r.exit_code, -1) << "the writer failed instead of being killed:\n" << r.describe();
      ++kill_points;
      ++per_syscall[syscall];
      expect_whole_and_private(file, old_content);
      if (HasFatalFailure() || HasFailure()) return;
    }
  }
  std::cout << "[ kills    ] " << kill_points << " kill points:";
  for (const auto& [name, count] : per_syscall) std::cout << " " << name << " " << count;
  std::cout << "\n";
  // The save itself was among them: its temporary file was created, written, synced and
  // renamed into place (glibc's rename is renameat or renameat2).
  for (const char* step : {"openat", "fchmod", "write", "fsync", "unlinkat"})
    EXPECT_GT(per_syscall[step], 0) << step;
  EXPECT_GT(per_syscall["rename"] + per_syscall["renameat"] + per_syscall["renameat2"], 0);

  // The cache is still usable, and the next save cleans up what killed writers left.
  const auto t = mailoauth({"token", "acct", "--force-refresh"});
  EXPECT_EQ(t.exit_code, 0) << t.describe();
  for (const auto& entry : fs::directory_iterator(token_file().parent_path()))
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".tmp")));
}

}  // namespace
}  // namespace mailoauth::oauth_test
