// Mistakes in config.toml end with exit 2 and name the file, the line and the key, and what is
// allowed there; nothing is sent anywhere.
#include "oauth_environment.hpp"

#include <gmock/gmock.h>

namespace mailoauth::oauth_test {
namespace {

using ::testing::HasSubstr;

struct config_case {
  std::string what;
  std::string replace;  // a line of the valid file...
  std::string with;     // ...and what it becomes
  int line;             // where the mistake is
  std::string expected;
};

class config_errors : public oauth_test {
 protected:
  // A valid file, one key a line, so that line numbers are known (line N is lines[N - 1]).
  std::string valid() const {
    const std::vector<std::string> lines = {
        "default = \"acct\"",
        "",
        "[accounts.acct]",
        "provider = \"custom\"",
        "issuer = \"" + server().issuer() + "\"",
        "client_id = \"mailoauth-native\"",
        "username = \"" + user_name + "\"",
        "flow = \"device\"",
        "scopes = [\"https://outlook.office365.com/IMAP.AccessAsUser.All\"]",
        "protocols = [\"imap\"]",
        "redirect_port = 0",
        "",
        "[accounts.acct.imap]",
        "host = \"127.0.0.1\"",
        "port = 993",
    };
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    return text;
  }
};

TEST_F(config_errors, each_mistake_names_file_line_and_key_with_exit_2) {
  write_config_text(valid());
  // The valid file is accepted (the account has no tokens yet: exit 3, not 2).
  const auto ok = mailoauth({"token", "acct"});
  ASSERT_EQ(ok.exit_code, 3) << ok.describe();

  const auto file = config_path_.string();
  const std::vector<config_case> cases = {
      {"typo in a key", "client_id = ", "clent_id = ", 6,
       file + ":6: accounts.acct.clent_id: unknown key; allowed here: provider, client_id, "},
      {"typo in a flow", "flow = \"device\"", "flow = \"devcie\"", 8,
       file + ":8: accounts.acct.flow: \"devcie\" is not a flow; use browser, paste, device, "
              "implicit or client-credentials"},
      {"typo in a server table", "host = ", "hots = ", 14,
       file + ":14: accounts.acct.imap.hots: unknown key; allowed here: host, port, security"},
      {"typo at the top", "default = ", "defualt = ", 1,
       file + ":1: defualt: unknown key; allowed here: default, accounts"},
      {"wrong type", "redirect_port = 0", "redirect_port = \"8080\"", 11,
       file + ":11: accounts.acct.redirect_port: must be a whole number from 0 to 65535"},
      {"unknown provider", "provider = \"custom\"", "provider = \"microsfot\"", 4,
       file + ":4: accounts.acct.provider: \"microsfot\" is not a provider; use \"microsoft\", "
              "\"google\" or \"custom\""},
      {"unknown protocol", "protocols = [\"imap\"]", "protocols = [\"imap4\"]", 10,
       file + ":10: accounts.acct.protocols: \"imap4\" is not a protocol"},
      {"plain http to a remote issuer", "issuer = \"" + server().issuer() + "\"",
       "issuer = \"http://login.example.com\"", 5,
       file + ":5: accounts.acct.issuer: must be an https:// URL"},
      {"a remote host that starts like 127.0.0.1", "issuer = \"" + server().issuer() + "\"",
       "issuer = \"http://127.0.0.1.evil.example\"", 5,
       file + ":5: accounts.acct.issuer: must be an https:// URL"},
      {"a remote host behind userinfo", "issuer = \"" + server().issuer() + "\"",
       "issuer = \"http://localhost@evil.example/\"", 5,
       file + ":5: accounts.acct.issuer: must be an https:// URL"},
      {"a redirect to a remote host", "redirect_port = 0",
       "redirect_uri = \"http://127.0.0.1.evil.example/\"", 11,
       file + ":11: accounts.acct.redirect_uri: must be a loopback URL"},
      {"TOML syntax", "port = 993", "port = 993 993", 15, file + ":15: "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto text = valid();
    const auto at = text.find(c.replace);
    ASSERT_NE(at, std::string::npos);
    text.replace(at, c.replace.size(), c.with);
    write_config_text(text);
    for (const auto& command :
         {std::vector<std::string>{"token", "acct"}, std::vector<std::string>{"login", "acct"},
          std::vector<std::string>{"accounts"}}) {
      const auto r = mailoauth(command);
      EXPECT_EQ(r.exit_code, 2) << r.describe();
      EXPECT_THAT(r.err, HasSubstr("mailoauth: error: " + c.expected)) << r.err;
      EXPECT_THAT(r.err, HasSubstr(file + ":" + std::to_string(c.line) + ": ")) << r.err;
      EXPECT_EQ(r.out, "");
    }
  }
  // Nothing reached the authorization server.
  EXPECT_TRUE(log().empty());
}

TEST_F(config_errors, unknown_flow_on_the_command_line_is_a_usage_error) {
  write_config_text(valid());
  const auto r = mailoauth({"login", "acct", "--flow", "devcie"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("--flow must be browser, paste, device, implicit or "
                               "client-credentials"));
  EXPECT_TRUE(log().empty());
}

TEST_F(config_errors, unknown_account_is_a_usage_error) {
  write_config_text(valid());
  const auto r = mailoauth({"token", "acct2"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_THAT(r.err,
              HasSubstr("no account \"acct2\" in " + config_path_.string() + " (accounts: acct)"));
}

}  // namespace
}  // namespace mailoauth::oauth_test
