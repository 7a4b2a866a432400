// The token cache as the CLI leaves it: mode 0600 in a 0700 folder, encrypted at rest with a
// key_command, and never truncated or readable by others when a writer is killed mid-way.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>
#include <boost/json/parse.hpp>

#include <csignal>
#include <random>
#include <thread>

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

TEST_F(token_store, a_writer_killed_at_any_point_leaves_a_whole_private_file) {
  // App-only tokens: every forced refresh is a new token and a new save, with no rotation that a
  // killed writer could lose.
  write_config({{.client_id = "mailoauth-confidential",
                 .flow = "client-credentials",
                 .extra = {"client_secret = \"mailoauth-test-secret\""}}});
  ASSERT_EQ(mailoauth({"login", "acct"}).exit_code, 0);
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> delay_ms(0, 250);
  int killed = 0;
  for (int round = 0; round < 30; ++round) {
    auto p = start_mailoauth({"token", "acct", "--force-refresh"});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    p->signal_group(SIGKILL);
    const auto r = p->wait(std::chrono::seconds(30));
    killed += r.exit_code == -1 ? 1 : 0;
    SCOPED_TRACE("round " + std::to_string(round));
    // Whatever moment it died at: the old file or the new one, whole, and private.
    const auto doc = boost::json::parse(read_file(token_file())).as_object();
    EXPECT_FALSE(doc.at("access_token").as_string().empty());
    for (const auto& entry : fs::directory_iterator(token_file().parent_path())) {
      const auto m = mode_of(entry.path());
      EXPECT_EQ(m & (fs::perms::group_all | fs::perms::others_all), fs::perms::none)
          << entry.path();
    }
  }
  EXPECT_GT(killed, 5) << "the kills came too late to test anything";
  // The cache is still usable, and the next save cleans up what killed writers left.
  const auto t = mailoauth({"token", "acct", "--force-refresh"});
  EXPECT_EQ(t.exit_code, 0) << t.describe();
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(token_file().parent_path()))
    names.push_back(entry.path().filename().string());
  for (const auto& n : names) EXPECT_THAT(n, Not(HasSubstr(".tmp"))) << n;
}

}  // namespace
}  // namespace mailoauth::oauth_test
