// `mailoauth accounts` (token state and expiry), `logout`, and a failed second sign-in that
// leaves the stored tokens as they were.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>
#include <boost/json/parse.hpp>

#include <thread>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

namespace fs = std::filesystem;

using accounts = oauth_test;

TEST_F(accounts, shows_valid_expired_and_signed_out_accounts_with_expiry) {
  write_config({{.name = "valid"}, {.name = "stale"}, {.name = "never"}});
  configure({{"access_ttl", 1}});
  login_fast("stale");
  configure({{"access_ttl", 3600}});
  login_fast("valid");
  const auto stale_expiry = stored("stale").at("expires_at").to_number<std::int64_t>();
  while (unix_now() <= stale_expiry) std::this_thread::sleep_for(std::chrono::milliseconds(100));

  const auto r = mailoauth({"accounts"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  // Each account is two lines: "NAME[ (default)]  USER  PROVIDER (FLOW...)" and its state.
  const auto block = [&](const std::string& name) {
    const auto at = r.out.find(name + (name == "valid" ? " (default)" : "") + "  ");
    if (at == std::string::npos || (at != 0 && r.out[at - 1] != '\n')) return std::string();
    const auto second = r.out.find('\n', at);
    return r.out.substr(at, r.out.find('\n', second + 1) - at);
  };
  EXPECT_THAT(block("valid"), MatchesRegex("valid \\(default\\)  " + user_name +
                                           "  custom \\(browser\\)\n    valid, expires in "
                                           "(5[89]|60) min; refresh token stored"))
      << r.out;
  EXPECT_THAT(block("stale"),
              MatchesRegex("stale  .*\n    expired [0-9]+ s ago; refresh token stored"))
      << r.out;
  EXPECT_THAT(block("never"), HasSubstr("\n    signed out (run `mailoauth login never`)")) << r.out;

  const auto j = mailoauth({"accounts", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.describe();
  const auto list = boost::json::parse(j.out).as_array();
  ASSERT_EQ(list.size(), 3U);
  std::map<std::string, json::object> by_name;
  for (const auto& v : list) by_name[std::string(v.at("name").as_string())] = v.as_object();
  EXPECT_EQ(by_name["valid"].at("expires_at"), stored("valid").at("expires_at"));
  EXPECT_EQ(by_name["valid"].at("refresh_token"), true);
  EXPECT_EQ(by_name["valid"].at("default"), true);
  EXPECT_EQ(by_name["stale"].at("expires_at"), stored("stale").at("expires_at"));
  EXPECT_THAT(std::string(by_name["stale"].at("state").as_string()), HasSubstr("expired"));
  EXPECT_EQ(by_name["never"].at("expires_at"), 0);
  EXPECT_EQ(by_name["never"].at("refresh_token"), false);
  EXPECT_EQ(by_name["never"].at("username"), user_name.c_str());
  // Listing never refreshes anything.
  EXPECT_EQ(count_token_requests("refresh_token"), 0);
}

TEST_F(accounts, logout_deletes_the_token_file) {
  write_config({{}});
  login_fast();
  ASSERT_TRUE(fs::exists(token_file()));
  const auto r = mailoauth({"logout", "acct"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Signed out of acct"));
  EXPECT_FALSE(fs::exists(token_file()));
  const auto t = mailoauth({"token", "acct"});
  EXPECT_EQ(t.exit_code, 3) << t.describe();
  EXPECT_THAT(t.err, HasSubstr("no tokens for account acct yet: run `mailoauth login acct`"));
  const auto a = mailoauth({"accounts"});
  EXPECT_THAT(a.out, HasSubstr("signed out"));
  // A second logout is fine too.
  EXPECT_EQ(mailoauth({"logout", "acct"}).exit_code, 0);
}

TEST_F(accounts, a_failed_second_login_keeps_the_stored_tokens) {
  write_config({{}});
  login_fast();
  const auto before = read_file(token_file());
  const auto mode_before = fs::status(token_file()).permissions();

  auto login = start_mailoauth({"login", "acct", "--flow", "device"});
  ASSERT_TRUE(login->wait_for(
      [](const std::string&, const std::string& err) { return !user_code_in(err).empty(); },
      std::chrono::seconds(60)))
      << login->err();
  server().post("/test/device", {{"action", "deny"}, {"user_code", user_code_in(login->err())}});
  const auto r = login->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("the sign-in was declined"));
  EXPECT_EQ(read_file(token_file()), before);
  EXPECT_EQ(fs::status(token_file()).permissions(), mode_before);
  EXPECT_EQ(fs::status(token_file()).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // And the old tokens still serve.
  const auto t = mailoauth({"token", "acct"});
  EXPECT_EQ(t.exit_code, 0) << t.describe();
  EXPECT_EQ(t.out, std::string(stored().at("access_token").as_string()) + "\n");
}

}  // namespace
}  // namespace mailoauth::oauth_test
