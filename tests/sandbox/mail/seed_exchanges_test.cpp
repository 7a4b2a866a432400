// The seed's six exchanges, played against the sandbox's servers and recorded by them: the
// server's lines must be the seed's (tests/transcripts/data/seed-*.txt hold the seed's
// exchanges in our transcript format; the client lines there carry the seed's fake tokens,
// here real sandbox tokens go in their place and the recording shows them redacted).
#include "mail_fixture.hpp"

#include <mailoauth/sasl.hpp>

#include <boost/json/parse.hpp>

#include <fstream>
#include <sstream>

namespace mailoauth::sandbox::test {
namespace {

// The seed's own XOAUTH2 blob (user someuser@example.com, a token that is not a JWT).
constexpr const char* seed_imap_pop_blob =
    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSF"
    "JoZG1semRHRXVZMjl0Q2cBAQ==";

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// The S:/C: lines of a transcript data file, from its first AUTH command on.
std::vector<std::string> seed_lines_from_auth(const std::string& name) {
  std::ifstream in(std::string(MAILOAUTH_SOURCE_DIR) + "/tests/transcripts/data/" + name);
  EXPECT_TRUE(in) << name;
  std::vector<std::string> out;
  std::string line;
  bool started = false;
  while (std::getline(in, line)) {
    if (!line.starts_with("S:") && !line.starts_with("C:")) continue;
    if (!started && line.starts_with("C:") &&
        (line.find("AUTH") != std::string::npos || line.find("auth") != std::string::npos))
      started = true;
    if (started) out.push_back(rtrim(line));
  }
  return out;
}

std::vector<std::string> from_auth(const std::vector<std::string>& recorded) {
  std::vector<std::string> out;
  bool started = false;
  for (const auto& l : recorded) {
    if (!started && l.starts_with("C:") &&
        (l.find("AUTH") != std::string::npos || l.find("auth") != std::string::npos))
      started = true;
    if (started) out.push_back(rtrim(l));
  }
  return out;
}

std::optional<boost::json::object> challenge_json(const std::string& line) {
  const auto b64 = line.substr(line.find(' ', 3) + 1);
  auto c = sasl::decode_error_challenge(b64);
  if (!c) return std::nullopt;
  return boost::json::parse(c->json).as_object();
}

// Expected (the seed) against recorded (the server): the same lines, but credentials are
// "[redacted]" in the recording, and an error challenge is compared by its status and schemes
// (its scope is Exchange's, where the seed's sample names Google's).
void expect_seed_lines(const std::vector<std::string>& expected,
                       const std::vector<std::string>& recorded) {
  ASSERT_EQ(expected.size(), recorded.size()) << ::testing::PrintToString(expected) << "\n"
                                              << ::testing::PrintToString(recorded);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    const auto& a = recorded[i];
    if (e.starts_with("C:")) {
      if (e == "C: {response}" || (e.size() > 40 && e.find(' ', 3) == std::string::npos)) {
        EXPECT_EQ(a, "C: [redacted]") << i;
      } else if (e.size() > 60) {
        EXPECT_EQ(a, e.substr(0, e.rfind(' ')) + " [redacted]") << i;
      } else {
        EXPECT_EQ(a, e) << i;
      }
    } else if (e.starts_with("S: + ey")) {
      const auto want = challenge_json(e);
      const auto got = challenge_json(a);
      ASSERT_TRUE(want && got) << e << "\n" << a;
      EXPECT_EQ(got->at("status"), want->at("status"));
      EXPECT_EQ(got->at("schemes"), want->at("schemes"));
      EXPECT_EQ(got->at("scope"), "https://outlook.office365.com/POP.AccessAsUser.All");
    } else {
      EXPECT_EQ(a, e) << i;
    }
  }
}

class seed_exchange : public mail_fixture {
 protected:
  void configure(mail_server_options& o) override {
    // The host in the seed's 535 line.
    o.host_name = "SN2PR00CA0018.namprd00.prod.outlook.com";
  }
};

TEST_F(seed_exchange, imap_success) {
  const auto token = mint({.user = "someuser@example.com"});
  auto c = connect(mail_listener::imaps);
  c->read_line();
  c->send("C01 CAPABILITY");
  const auto caps = c->read_until("C01 ");
  ASSERT_EQ(caps.size(), 2u);
  // The seed: "* CAPABILITY … AUTH=XOAUTH2" and "C01 OK Completed".
  EXPECT_TRUE(caps[0].starts_with("* CAPABILITY ")) << caps[0];
  EXPECT_NE(caps[0].find(" AUTH=XOAUTH2"), std::string::npos);
  EXPECT_NE(caps[0].find(" SASL-IR"), std::string::npos);
  EXPECT_EQ(caps[1], "C01 OK Completed");
  c->send("A01 AUTHENTICATE XOAUTH2 " + xoauth2_b64("someuser@example.com", token));
  EXPECT_EQ(c->read_line(), "A01 OK AUTHENTICATE completed.");
  c->send("L01 LOGOUT");
  c->read_until("L01 ");
  expect_seed_lines(seed_lines_from_auth("seed-imap-success.txt"),
                    from_auth(transcript(mail_listener::imaps)));
}

TEST_F(seed_exchange, imap_failure) {
  auto c = connect(mail_listener::imaps);
  c->read_line();
  c->send("C01 CAPABILITY");
  c->read_until("C01 ");
  // Byte for byte the seed's command, with its token that is no token.
  c->send(std::string("A01 AUTHENTICATE XOAUTH2 ") + seed_imap_pop_blob);
  EXPECT_EQ(c->read_line(), "A01 NO AUTHENTICATE failed.");
  c->send("L01 LOGOUT");
  c->read_until("L01 ");
  expect_seed_lines(seed_lines_from_auth("seed-imap-failure.txt"),
                    from_auth(transcript(mail_listener::imaps)));
}

TEST_F(seed_exchange, pop3_success) {
  const auto token = mint({.user = "someuser@example.com"});
  auto c = connect(mail_listener::pop3s);
  c->read_line();
  c->send("CAPA");
  const auto capa = c->read_until(".");
  EXPECT_NE(std::find(capa.begin(), capa.end(), "SASL XOAUTH2 OAUTHBEARER"), capa.end());
  // The seed's one-line form.
  c->send("AUTH XOAUTH2 " + xoauth2_b64("someuser@example.com", token));
  EXPECT_EQ(c->read_line(), "+OK Welcome.");
  c->send("QUIT");
  c->read_line();
  expect_seed_lines(seed_lines_from_auth("seed-pop3-success.txt"),
                    from_auth(transcript(mail_listener::pop3s)));
}

TEST_F(seed_exchange, pop3_failure) {
  auto c = connect(mail_listener::pop3s);
  c->read_line();
  c->send("CAPA");
  c->read_until(".");
  c->send(std::string("AUTH XOAUTH2 ") + seed_imap_pop_blob);
  const auto challenge = c->read_line();
  // The seed: "+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOi..." (status 400).
  EXPECT_TRUE(challenge.starts_with("+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOi"))
      << challenge;
  c->send("");
  EXPECT_EQ(c->read_line(), "-ERR Authentication failure: unknown user name or bad password.");
  c->send("QUIT");
  c->read_line();
  expect_seed_lines(seed_lines_from_auth("seed-pop3-failure.txt"),
                    from_auth(transcript(mail_listener::pop3s)));
}

TEST_F(seed_exchange, smtp_success) {
  // The seed's user and scopes (its token says upn JonJon@bellred.org, scp "IMAP... SMTP.Send").
  const auto token =
      mint({.user = "JonJon@bellred.org", .scopes = {"IMAP.AccessAsUser.All", "SMTP.Send"}});
  auto c = connect(mail_listener::smtp);
  c->read_line();
  c->send("EHLO localhost");
  c->read_until("250 ");
  c->send("STARTTLS");
  EXPECT_EQ(c->read_line(), "220 2.0.0 SMTP server ready");
  c->start_tls();
  c->send("EHLO localhost");
  const auto ehlo = c->read_until("250 ");
  EXPECT_NE(std::find(ehlo.begin(), ehlo.end(), "250-AUTH XOAUTH2 OAUTHBEARER"), ehlo.end());
  c->send("AUTH XOAUTH2");
  EXPECT_EQ(rtrim(c->read_line()), "334");
  // The seed's sample writes "auth=bearer"; the server takes it as it is.
  c->send(
      sasl::base64_encode("user=jonjon@bellred.org\x01"
                          "auth=bearer " +
                          token + "\x01\x01"));
  EXPECT_EQ(c->read_line(), "235 2.7.0 Authentication successful");
  c->send("QUIT");
  c->read_line();
  expect_seed_lines(seed_lines_from_auth("seed-smtp-success.txt"),
                    from_auth(transcript(mail_listener::smtp)));
}

TEST_F(seed_exchange, smtp_failure) {
  // The seed's own lines, its 2020 token for jonjon@bellred.com included.
  std::ifstream in(std::string(MAILOAUTH_SOURCE_DIR) +
                   "/tests/transcripts/data/seed-smtp-failure.txt");
  std::string line, token;
  while (std::getline(in, line))
    if (line.starts_with("token: ")) token = line.substr(7);
  ASSERT_FALSE(token.empty());
  auto c = connect(mail_listener::smtps);
  c->read_line();
  c->send("EHLO localhost");
  c->read_until("250 ");
  c->send("auth xoauth2");
  EXPECT_EQ(rtrim(c->read_line()), "334");
  c->send(
      sasl::base64_encode("user=jonjon@bellred.com\x01"
                          "auth=bearer " +
                          token + "\x01\x01"));
  EXPECT_EQ(c->read_line(),
            "535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]");
  c->send("QUIT");
  c->read_line();
  auto expected = seed_lines_from_auth("seed-smtp-failure.txt");
  expected.front() = "C: auth xoauth2";  // the seed's spelling, sent as it is
  expect_seed_lines(expected, from_auth(transcript(mail_listener::smtps)));
}

}  // namespace
}  // namespace mailoauth::sandbox::test
