// Real mail programs against the sandbox's servers: Python's imaplib, poplib and smtplib, curl,
// msmtp (its passwordeval running `cat` on a token file) with the message then read over IMAP,
// and our own `mailoauth check` over all six transports. A missing program fails the test.
#include "auth_helpers.hpp"

#include <fstream>

namespace mailoauth::sandbox::test {
namespace {

using sasl::mechanism;

constexpr const char* alice = "alice@contoso.onmicrosoft.com";
constexpr const char* bob = "bob@example.com";
const std::string python = "/usr/bin/python3";  // Debian's, whatever comes first in PATH

class real_clients : public mail_fixture {
 protected:
  std::string token_file(const token_spec& spec = {}) {
    return write_file("token-" + std::to_string(++files_), mint(spec) + "\n");
  }

  process_result py(const std::string& mode, mail_listener l, const std::string& user,
                    const std::string& token_path, const std::string& expect) {
    return run({python, std::string(MAILOAUTH_MAIL_TEST_DIR) + "/python_clients.py", mode,
                "127.0.0.1", std::to_string(port(l)), ca_file(), user, token_path, expect});
  }

  process_result curl(std::vector<std::string> args, const std::string& token) {
    std::vector<std::string> argv{"curl",     "-sS",     "--max-time",      "30",
                                  "--cacert", ca_file(), "--oauth2-bearer", token};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }

  std::string url(const char* scheme_name, mail_listener l, const std::string& path = "/") {
    return std::string(scheme_name) + "://127.0.0.1:" + std::to_string(port(l)) + path;
  }

  // How many messages the mailbox holds, and whether one has `subject`, over IMAP.
  std::pair<std::size_t, bool> imap_inbox(const std::string& user, const std::string& subject) {
    auto c = connect(mail_listener::imaps);
    EXPECT_EQ(imap_auth(*c, mechanism::xoauth2, user, mint({.user = user})).final_line,
              "a1 OK AUTHENTICATE completed.");
    c->send("a2 SELECT INBOX");
    const auto sel = c->read_until("a2 ");
    const auto count = std::stoul(sel.front().substr(2));
    c->send("a3 SEARCH SUBJECT " + imap_quote(subject));
    const auto found = c->read_line();
    c->read_line();
    return {count, found != "* SEARCH"};
  }

  static std::string imap_quote(const std::string& s) { return "\"" + s + "\""; }

  int files_ = 0;
};

TEST_F(real_clients, python_imaplib_poplib_smtplib_all_transports) {
  const auto good = token_file();
  const auto expired = token_file({.lifetime = -300});
  const std::vector<std::pair<std::string, mail_listener>> transports{
      {"imaps", mail_listener::imaps}, {"imap", mail_listener::imap},
      {"pop3s", mail_listener::pop3s}, {"pop3", mail_listener::pop3},
      {"smtps", mail_listener::smtps}, {"smtp", mail_listener::smtp}};
  for (const auto& [mode, l] : transports) {
    const auto r = py(mode, l, alice, good, "ok");
    EXPECT_EQ(r.exit_code, 0) << mode << "\n" << r.describe();
    EXPECT_NE(r.out.find("RESULT ok"), std::string::npos) << r.describe();
    const auto f = py(mode, l, alice, expired, "fail");
    EXPECT_EQ(f.exit_code, 0) << mode << " with an expired token\n" << f.describe();
  }
  // smtplib delivered twice into alice's own mailbox.
  const auto [count, found] = imap_inbox(alice, "from smtplib");
  EXPECT_EQ(count, 2u);
  EXPECT_TRUE(found);
}

TEST_F(real_clients, curl_imap_pop3_smtp) {
  const auto token = mint({});
  const auto msg = write_file("msg.eml",
                              "From: alice@contoso.onmicrosoft.com\r\nTo: alice@contoso."
                              "onmicrosoft.com\r\nSubject: from curl\r\n\r\nsent by curl\r\n");
  // SMTP over implicit TLS (OAUTHBEARER, which curl prefers) and STARTTLS (XOAUTH2).
  auto r = curl({url("smtps", mail_listener::smtps), "-u", std::string(alice) + ":", "--mail-from",
                 alice, "--mail-rcpt", alice, "--upload-file", msg},
                token);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  r = curl(
      {url("smtp", mail_listener::smtp), "--ssl-reqd", "--login-options", "AUTH=XOAUTH2", "-u",
       std::string(alice) + ":", "--mail-from", alice, "--mail-rcpt", alice, "--upload-file", msg},
      token);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  // IMAP: APPEND (a synchronising literal), LIST, then a message by UID.
  r = curl({url("imaps", mail_listener::imaps, "/INBOX"), "-u", std::string(alice) + ":",
            "--upload-file", msg},
           token);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  r = curl({url("imaps", mail_listener::imaps), "-u", std::string(alice) + ":"}, token);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("* LIST (\\HasNoChildren) \"/\" INBOX"), std::string::npos) << r.out;
  r = curl({url("imap", mail_listener::imap, "/INBOX;UID=3"), "--ssl-reqd", "--login-options",
            "AUTH=XOAUTH2", "-u", std::string(alice) + ":"},
           token);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("sent by curl"), std::string::npos) << r.out;
  // POP3: the list, and one message.
  r = curl({url("pop3s", mail_listener::pop3s), "-u", std::string(alice) + ":"}, token);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("3 "), std::string::npos) << r.out;
  r = curl({url("pop3", mail_listener::pop3, "/1"), "--ssl-reqd", "-u", std::string(alice) + ":"},
           token);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("Subject: from curl"), std::string::npos) << r.out;
  // A refused token: curl reports the login failure (exit 67).
  r = curl({url("imaps", mail_listener::imaps), "-u", std::string(alice) + ":"},
           mint({.lifetime = -60}));
  EXPECT_EQ(r.exit_code, 67) << r.describe();
}

TEST_F(real_clients, msmtp_sends_and_the_message_arrives_over_imap) {
  const auto token = token_file();
  const auto message =
      write_file("msmtp.eml",
                 "From: alice@contoso.onmicrosoft.com\nTo: bob@example.com\n"
                 "Subject: from msmtp\n\nsent by msmtp with a token from passwordeval\n");
  int n = 0;
  for (const auto& [auth, tls_port, starttls] :
       std::vector<std::tuple<std::string, mail_listener, bool>>{
           {"xoauth2", mail_listener::smtps, false}, {"oauthbearer", mail_listener::smtp, true}}) {
    const auto conf =
        write_file("msmtprc-" + std::to_string(++n),
                   "defaults\ntls on\ntls_trust_file " + ca_file() + "\ntls_starttls " +
                       (starttls ? "on" : "off") + "\naccount sandbox\nhost 127.0.0.1\nport " +
                       std::to_string(port(tls_port)) + "\nfrom " + alice + "\nuser " + alice +
                       "\nauth " + auth + "\npasswordeval \"cat " + token + "\"\n");
    const auto r =
        run({"bash", "-c", "msmtp -C '" + conf + "' -a sandbox " + bob + " < '" + message + "'"});
    EXPECT_EQ(r.exit_code, 0) << auth << "\n" << r.describe();
  }
  const auto [count, found] = imap_inbox(bob, "from msmtp");
  EXPECT_EQ(count, 2u);
  EXPECT_TRUE(found);
}

TEST_F(real_clients, mailoauth_check_all_six_transports) {
  const auto good = token_file();
  const auto expired = token_file({.lifetime = -300});
  for (const auto l : {mail_listener::imaps, mail_listener::imap, mail_listener::pop3s,
                       mail_listener::pop3, mail_listener::smtps, mail_listener::smtp}) {
    const auto where = std::string(scheme(l)) + "://127.0.0.1:" + std::to_string(port(l));
    for (const auto* mech : {"xoauth2", "oauthbearer"}) {
      auto r = run({MAILOAUTH_BINARY, "check", where, "--user", alice, "--token-command",
                    "cat " + good, "--cafile", ca_file(), "--mech", mech, "--timeout", "20"});
      EXPECT_EQ(r.exit_code, 0) << where << " " << mech << "\n" << r.describe();
      r = run({MAILOAUTH_BINARY, "check", where, "--user", alice, "--token-command",
               "cat " + expired, "--cafile", ca_file(), "--mech", mech, "--timeout", "20"});
      EXPECT_EQ(r.exit_code, 3) << where << " " << mech << " expired\n" << r.describe();
    }
  }
}

}  // namespace
}  // namespace mailoauth::sandbox::test
