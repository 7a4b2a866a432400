// The mailboxes behind the servers: SMTP delivers into them, IMAP and POP3 read, flag, append
// and remove, and all of it survives a restart of the servers.
#include "auth_helpers.hpp"

namespace mailoauth::sandbox::test {
namespace {

using sasl::mechanism;

constexpr const char* alice = "alice@contoso.onmicrosoft.com";
constexpr const char* bob = "bob@example.com";

class mailboxes : public mail_fixture {
 protected:
  std::unique_ptr<line_client> imap_login(const std::string& user) {
    auto c = connect(mail_listener::imaps);
    EXPECT_EQ(imap_auth(*c, mechanism::xoauth2, user, mint({.user = user})).final_line,
              "a1 OK AUTHENTICATE completed.");
    return c;
  }

  std::unique_ptr<line_client> smtp_login(const std::string& user) {
    auto c = connect(mail_listener::smtps);
    EXPECT_EQ(smtp_auth(*c, mechanism::xoauth2, user, mint({.user = user})).final_line,
              "235 2.7.0 Authentication successful");
    return c;
  }

  void send_mail(line_client& c, const std::string& from, const std::string& to,
                 const std::string& body_lines) {
    c.send("MAIL FROM:<" + from + "> SIZE=100");
    EXPECT_EQ(c.read_line(), "250 2.1.0 Sender OK");
    c.send("RCPT TO:<" + to + ">");
    EXPECT_EQ(c.read_line(), "250 2.1.5 Recipient OK");
    c.send("DATA");
    EXPECT_TRUE(c.read_line().starts_with("354 "));
    c.send_raw(body_lines + ".\r\n");
    EXPECT_TRUE(c.read_line().starts_with("250 2.6.0"));
  }
};

TEST_F(mailboxes, smtp_delivers_and_imap_reads_flags_and_expunges) {
  auto s = smtp_login(alice);
  send_mail(*s, alice, bob,
            "From: alice@contoso.onmicrosoft.com\r\nTo: bob@example.com\r\nSubject: Hello Bob\r\n"
            "\r\nFirst line\r\n..stuffed dot line\r\n");
  s->send("QUIT");
  s->read_line();

  auto c = imap_login(bob);
  c->send("a2 LIST \"\" \"*\"");
  auto list = c->read_until("a2 ");
  EXPECT_EQ(list.front(), "* LIST (\\HasNoChildren) \"/\" INBOX");
  c->send("a3 SELECT INBOX");
  auto sel = c->read_until("a3 ");
  EXPECT_EQ(sel.front(), "* 1 EXISTS");
  EXPECT_EQ(sel.back(), "a3 OK [READ-WRITE] SELECT completed.");
  c->send("a4 FETCH 1 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
  auto head = c->read_line();
  EXPECT_TRUE(head.starts_with("* 1 FETCH (UID 1 FLAGS () RFC822.SIZE ")) << head;
  EXPECT_TRUE(head.ends_with("BODY[HEADER.FIELDS (SUBJECT)] {22}")) << head;
  EXPECT_EQ(c->read_exact(22), "Subject: Hello Bob\r\n\r\n");
  EXPECT_EQ(c->read_line(), ")");
  EXPECT_EQ(c->read_line(), "a4 OK FETCH completed.");
  c->send("a5 UID FETCH 1 BODY[]");
  auto body_head = c->read_line();
  const auto size = std::stoul(body_head.substr(body_head.rfind('{') + 1));
  const auto body = c->read_exact(size);
  EXPECT_NE(body.find("Received: from [127.0.0.1]"), std::string::npos);
  EXPECT_NE(body.find("\r\nFirst line\r\n.stuffed dot line\r\n"), std::string::npos) << body;
  // BODY[] (not PEEK) set \Seen, and the response says so.
  EXPECT_NE(c->read_line().find("FLAGS (\\Seen)"), std::string::npos);
  c->read_until("a5 ");
  c->send("a6 SEARCH UNSEEN");
  EXPECT_EQ(c->read_line(), "* SEARCH");
  c->read_line();
  c->send("a7 UID SEARCH SUBJECT \"hello\"");
  EXPECT_EQ(c->read_line(), "* SEARCH 1");
  c->read_line();
  c->send("a8 STORE 1 +FLAGS (\\Deleted)");
  EXPECT_EQ(c->read_line(), "* 1 FETCH (FLAGS (\\Seen \\Deleted))");
  c->read_line();
  c->send("a9 EXPUNGE");
  EXPECT_EQ(c->read_line(), "* 1 EXPUNGE");
  EXPECT_EQ(c->read_line(), "a9 OK EXPUNGE completed.");
  c->send("b1 STATUS INBOX (MESSAGES UIDNEXT)");
  EXPECT_EQ(c->read_line(), "* STATUS INBOX (MESSAGES 0 UIDNEXT 2)");
}

TEST_F(mailboxes, imap_append_with_literals_and_other_sessions_see_it) {
  auto a = imap_login(alice);
  auto b = imap_login(alice);
  b->send("b1 SELECT INBOX");
  b->read_until("b1 ");
  const std::string msg = "Subject: appended\r\n\r\nbody\r\n";
  a->send("a2 APPEND INBOX (\\Seen) {" + std::to_string(msg.size()) + "}");
  EXPECT_EQ(a->read_line(), "+ Ready for additional command text.");
  a->send(msg);
  auto ok = a->read_line();
  EXPECT_TRUE(ok.starts_with("a2 OK [APPENDUID ")) << ok;
  EXPECT_TRUE(ok.ends_with(" 1] APPEND completed.")) << ok;
  // LITERAL+: no continuation.
  a->send_raw("a3 APPEND inbox {" + std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n");
  EXPECT_TRUE(a->read_line().starts_with("a3 OK [APPENDUID "));
  b->send("b2 NOOP");
  EXPECT_EQ(b->read_line(), "* 2 EXISTS");
  EXPECT_EQ(b->read_line(), "b2 OK NOOP completed.");
  b->send("b3 FETCH 1:* (FLAGS)");
  EXPECT_EQ(b->read_line(), "* 1 FETCH (FLAGS (\\Seen))");
  EXPECT_EQ(b->read_line(), "* 2 FETCH (FLAGS ())");
  b->read_line();
  a->send("a4 APPEND Sent {3}");
  // Only INBOX exists: the literal is read, then the command refused.
  EXPECT_EQ(a->read_line(), "+ Ready for additional command text.");
  a->send("abc");
  EXPECT_EQ(a->read_line(), "a4 NO [TRYCREATE] Mailbox does not exist.");
}

TEST_F(mailboxes, state_survives_a_restart) {
  std::string uidvalidity;
  {
    auto a = imap_login(alice);
    a->send_raw("a2 APPEND INBOX {6+}\r\nhello\n\r\n");
    auto ok = a->read_line();
    ASSERT_TRUE(ok.starts_with("a2 OK [APPENDUID ")) << ok;
    uidvalidity = ok.substr(17, ok.find(' ', 17) - 17);
    a->send("a3 LOGOUT");
    a->read_until("a3 ");
  }
  stop_servers();
  start_servers();
  auto a = imap_login(alice);
  a->send("a2 SELECT INBOX");
  const auto sel = a->read_until("a2 ");
  EXPECT_EQ(sel.front(), "* 1 EXISTS");
  EXPECT_NE(
      std::find(sel.begin(), sel.end(), "* OK [UIDVALIDITY " + uidvalidity + "] UIDVALIDITY value"),
      sel.end());
  a->send("a3 FETCH 1 (RFC822.SIZE)");
  // Line ends are stored as CRLF: "hello\r\n".
  EXPECT_EQ(a->read_line(), "* 1 FETCH (RFC822.SIZE 7)");
}

TEST_F(mailboxes, pop3_reads_and_deletes) {
  auto s = smtp_login(alice);
  // The client stuffs the dot (SMTP), the server stores ".leading dot", POP3 stuffs it again.
  send_mail(*s, alice, alice, "Subject: one\r\n\r\n..leading dot\r\nline 2\r\n");
  send_mail(*s, alice, alice, "Subject: two\r\n\r\nsecond\r\n");
  auto p = connect(mail_listener::pop3s);
  ASSERT_EQ(pop3_auth(*p, mechanism::xoauth2, alice, mint({})).final_line, "+OK Welcome.");
  p->send("STAT");
  EXPECT_TRUE(p->read_line().starts_with("+OK 2 "));
  p->send("LIST");
  EXPECT_EQ(p->read_until(".").size(), 4u);
  p->send("UIDL");
  auto uidl = p->read_until(".");
  ASSERT_EQ(uidl.size(), 4u);
  EXPECT_TRUE(uidl[1].starts_with("1 ") && uidl[1].ends_with(".1")) << uidl[1];
  p->send("RETR 1");
  auto retr = p->read_dot_terminated();
  EXPECT_TRUE(retr.front().starts_with("+OK "));
  EXPECT_NE(std::find(retr.begin(), retr.end(), "..leading dot"), retr.end());
  p->send("TOP 2 0");
  auto top = p->read_dot_terminated();
  EXPECT_EQ(top[top.size() - 2], "");
  EXPECT_EQ(std::find(top.begin(), top.end(), "second"), top.end());
  p->send("DELE 1");
  EXPECT_EQ(p->read_line(), "+OK Deleted.");
  p->send("RETR 1");
  EXPECT_EQ(p->read_line(), "-ERR No such message.");
  p->send("RSET");
  p->read_line();
  p->send("DELE 2");
  p->read_line();
  p->send("QUIT");
  EXPECT_EQ(p->read_line(), "+OK Microsoft Exchange Server POP3 server signing off.");
  auto again = connect(mail_listener::pop3s);
  ASSERT_EQ(pop3_auth(*again, mechanism::xoauth2, alice, mint({})).final_line, "+OK Welcome.");
  again->send("STAT");
  EXPECT_TRUE(again->read_line().starts_with("+OK 1 "));
}

TEST_F(mailboxes, smtp_refuses_what_exchange_refuses) {
  auto s = connect(mail_listener::smtps);
  s->read_line();
  s->send("EHLO x");
  s->read_until("250 ");
  s->send("MAIL FROM:<alice@contoso.onmicrosoft.com>");
  EXPECT_TRUE(s->read_line().starts_with("530 5.7.57 Client not authenticated to send mail."));
  auto a = smtp_login(alice);
  a->send("MAIL FROM:<bob@example.com>");
  EXPECT_TRUE(a->read_line().starts_with("550 5.7.60 "));
  a->send("MAIL FROM:<Alice@contoso.onmicrosoft.com>");
  EXPECT_EQ(a->read_line(), "250 2.1.0 Sender OK");
  a->send("RCPT TO:<someone@gmail.com>");
  EXPECT_EQ(a->read_line(), "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain");
  a->send("DATA");
  EXPECT_EQ(a->read_line(), "503 5.5.1 Need rcpt command");
  a->send("RSET");
  EXPECT_EQ(a->read_line(), "250 2.0.0 Resetting");
  a->send("NOOP");
  EXPECT_EQ(a->read_line(), "250 2.0.0 OK");
  a->send("AUTH XOAUTH2");
  EXPECT_EQ(a->read_line(), "503 5.5.2 Already authenticated");
}

class small_limits : public mail_fixture {
 protected:
  void configure(mail_server_options& o) override { o.max_message = 1000; }
};

TEST_F(small_limits, oversized_messages_are_refused) {
  auto s = connect(mail_listener::smtps);
  ASSERT_EQ(smtp_auth(*s, mechanism::xoauth2, alice, mint({})).final_line,
            "235 2.7.0 Authentication successful");
  s->send("MAIL FROM:<" + std::string(alice) + ">");
  s->read_line();
  s->send("RCPT TO:<" + std::string(alice) + ">");
  s->read_line();
  s->send("DATA");
  s->read_line();
  for (int i = 0; i < 40; ++i) s->send(std::string(70, 'x'));
  s->send(".");
  EXPECT_TRUE(s->read_line().starts_with("552 5.3.4"));
  auto c = connect(mail_listener::imaps);
  ASSERT_EQ(imap_auth(*c, mechanism::xoauth2, alice, mint({})).final_line,
            "a1 OK AUTHENTICATE completed.");
  c->send("a2 APPEND INBOX {5000}");
  std::vector<std::string> lines;
  EXPECT_TRUE(c->closed_by_server(&lines));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "* BYE Literal too large.");
}

}  // namespace
}  // namespace mailoauth::sandbox::test
