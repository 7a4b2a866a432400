// POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034) as Exchange Online answers it.
#include "sandbox/mail/sessions.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

namespace mailoauth::sandbox::detail {
namespace {

constexpr std::string_view auth_failed =
    "-ERR Authentication failure: unknown user name or bad password.";

struct pop3_message {
  message_info info;
  bool deleted = false;
};

std::optional<std::size_t> parse_number(std::string_view s) {
  std::size_t n = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return n;
}

// RFC 1939 section 3: a line of the message that starts with "." gets one more.
void send_dot_stuffed(connection& conn, std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find("\r\n", pos);
    const auto line_end = end == std::string_view::npos ? text.size() : end;
    if (text[pos] == '.') conn.send_raw(".");
    conn.send_raw(text.substr(pos, line_end - pos));
    conn.send_raw("\r\n");
    pos = end == std::string_view::npos ? text.size() : end + 2;
  }
}

class pop3_session {
 public:
  pop3_session(connection& conn, server_context& ctx) : conn_(conn), ctx_(ctx) {}

  boost::asio::awaitable<void> run() {
    conn_.send_line("+OK The Microsoft Exchange POP3 service is ready. [mailoauth sandbox]");
    const bool greeted = co_await conn_.flush();
    if (!greeted) co_return;
    const auto& o = ctx_.options;
    for (;;) {
      std::string line;
      const auto limit = mailbox_.empty() ? o.max_auth_line : o.max_line;
      const auto st = co_await conn_.read_line(line, limit, o.idle_timeout);
      if (st == read_status::closed) co_return;
      if (st == read_status::too_long) {
        conn_.send_line("-ERR Line too long.");
        co_await conn_.flush();
        co_return;
      }
      const bool go_on = co_await command(line);
      const bool sent = co_await conn_.flush();
      if (!sent || !go_on) co_return;
    }
  }

 private:
  bool secure() const { return conn_.tls(); }

  void capabilities() {
    conn_.send_line("+OK");
    conn_.send_line("TOP");
    conn_.send_line("UIDL");
    if (!secure()) {
      conn_.send_line("STLS");
    } else if (mailbox_.empty()) {
      conn_.send_line("SASL XOAUTH2 OAUTHBEARER");
    }
    conn_.send_line("USER");
    conn_.send_line("RESP-CODES");
    conn_.send_line(".");
  }

  boost::asio::awaitable<bool> command(const std::string& line) {
    const auto sp = line.find(' ');
    const auto verb = upper(line.substr(0, sp));
    const std::string_view args =
        sp == std::string::npos ? std::string_view() : std::string_view(line).substr(sp + 1);
    // The AUTH line carries the token: record it redacted.
    if (verb == "AUTH" && args.find(' ') != std::string_view::npos)
      conn_.record_client("AUTH " + std::string(args.substr(0, args.find(' '))) + " [redacted]");
    else if (verb == "PASS")
      conn_.record_client("PASS [redacted]");
    else
      conn_.record_client(line);

    if (verb == "QUIT") {
      if (!mailbox_.empty()) {
        std::vector<std::uint32_t> gone;
        for (const auto& m : messages_)
          if (m.deleted) gone.push_back(m.info.uid);
        if (!gone.empty() && !ctx_.store.remove(mailbox_, gone)) {
          conn_.send_line("-ERR [SYS/TEMP] Some deleted messages were not removed.");
          co_return false;
        }
      }
      conn_.send_line("+OK Microsoft Exchange Server POP3 server signing off.");
      co_return false;
    }
    if (verb == "CAPA") {
      capabilities();
      co_return true;
    }
    if (verb == "NOOP" && !mailbox_.empty()) {
      conn_.send_line("+OK");
      co_return true;
    }
    if (mailbox_.empty()) {
      const auto r = co_await unauthenticated(verb, args);
      co_return r;
    }
    co_return transaction(verb, args);
  }

  boost::asio::awaitable<bool> unauthenticated(const std::string& verb, std::string_view args) {
    if (verb == "STLS") {
      if (secure()) {
        conn_.send_line("-ERR Command not permitted when TLS active.");
        co_return true;
      }
      conn_.send_line("+OK Begin TLS negotiation.");
      const bool answered = co_await conn_.flush();
      if (!answered) co_return false;
      if (const auto n = conn_.discard_buffered())
        spdlog::warn("mail sandbox: pop3 session {}: dropped {} octets sent before TLS", conn_.id(),
                     n);
      const auto r = co_await conn_.handshake();
      co_return r;
    }
    if (verb == "USER") {
      conn_.send_line(secure() ? "+OK" : "-ERR Command is not valid in this state.");
      co_return true;
    }
    if (verb == "PASS") {
      conn_.send_line("-ERR Logon failure: unknown user name or bad password.");
      co_return true;
    }
    if (verb != "AUTH") {
      conn_.send_line("-ERR Command is not valid in this state.");
      co_return true;
    }
    if (!secure()) {
      conn_.send_line("-ERR Command is not valid in this state.");
      co_return true;
    }
    if (args.empty()) {
      // RFC 5034 section 4 leaves the bare AUTH to RFC 1734's mechanism list.
      conn_.send_line("+OK");
      conn_.send_line("XOAUTH2");
      conn_.send_line("OAUTHBEARER");
      conn_.send_line(".");
      co_return true;
    }
    const auto sp = args.find(' ');
    const auto mech = sasl::parse_mechanism(args.substr(0, sp));
    // Only the OAuth mechanisms: Basic authentication is off, as in a tenant that follows
    // Microsoft's advice.
    if (!mech || !sasl::is_bearer(*mech)) {
      conn_.send_line(auth_failed);
      co_return true;
    }
    std::optional<std::string_view> initial;
    if (sp != std::string_view::npos) {
      initial = args.substr(sp + 1);
      if (ctx_.options.strict) {
        // What Office 365 answers today to the one-line form of Microsoft's guide: POP3 must use
        // two steps.
        conn_.send_line("-ERR Protocol error.");
        co_return true;
      }
    }
    const auto r = co_await run_sasl_exchange(conn_, ctx_, mail_protocol::pop3, *mech, initial);
    switch (r.end) {
      case sasl_end::success: {
        auto snap = ctx_.store.snapshot(r.mailbox);
        if (!snap) {
          conn_.send_line("-ERR [SYS/TEMP] The mailbox cannot be opened.");
          co_return false;
        }
        mailbox_ = r.mailbox;
        uidvalidity_ = snap->uidvalidity;
        for (auto& m : snap->messages) messages_.push_back({std::move(m), false});
        conn_.send_line("+OK Welcome.");
        co_return true;
      }
      case sasl_end::cancelled:
        conn_.send_line("-ERR Authentication canceled by client.");
        co_return true;
      case sasl_end::failure:
        conn_.send_line(auth_failed);
        co_return true;
      case sasl_end::too_long:
        conn_.send_line("-ERR Line too long.");
        co_return false;
      case sasl_end::closed:
        co_return false;
    }
    co_return false;
  }

  // A message number that names a message not marked deleted.
  pop3_message* message(std::string_view arg) {
    const auto n = parse_number(arg);
    if (!n || *n == 0 || *n > messages_.size()) return nullptr;
    auto& m = messages_[*n - 1];
    return m.deleted ? nullptr : &m;
  }

  std::string uid_of(const pop3_message& m) const {
    return std::to_string(uidvalidity_) + "." + std::to_string(m.info.uid);
  }

  bool transaction(const std::string& verb, std::string_view args) {
    const auto words = args;
    if (verb == "STAT") {
      std::size_t count = 0;
      std::uint64_t size = 0;
      for (const auto& m : messages_)
        if (!m.deleted) ++count, size += m.info.size;
      conn_.send_line("+OK " + std::to_string(count) + " " + std::to_string(size));
      return true;
    }
    if (verb == "LIST" || verb == "UIDL") {
      const bool uidl = verb == "UIDL";
      auto item = [&](std::size_t i) {
        return std::to_string(i + 1) + " " +
               (uidl ? uid_of(messages_[i]) : std::to_string(messages_[i].info.size));
      };
      if (!words.empty()) {
        auto* m = message(words);
        if (!m) {
          conn_.send_line("-ERR No such message.");
          return true;
        }
        conn_.send_line("+OK " + item(static_cast<std::size_t>(m - messages_.data())));
        return true;
      }
      conn_.send_line("+OK");
      for (std::size_t i = 0; i < messages_.size(); ++i)
        if (!messages_[i].deleted) conn_.send_line(item(i));
      conn_.send_line(".");
      return true;
    }
    if (verb == "RETR" || verb == "TOP") {
      const auto sp = words.find(' ');
      auto* m = message(words.substr(0, sp));
      std::optional<std::size_t> lines;
      if (verb == "TOP") {
        if (sp != std::string_view::npos) lines = parse_number(words.substr(sp + 1));
        if (!lines) {
          conn_.send_line("-ERR Protocol error.");
          return true;
        }
      }
      if (!m) {
        conn_.send_line("-ERR No such message.");
        return true;
      }
      auto text = ctx_.store.read(mailbox_, m->info.uid);
      if (!text) {
        conn_.send_line("-ERR [SYS/TEMP] The message cannot be read.");
        return true;
      }
      std::string_view body = *text;
      if (lines) {
        // The header, the blank line, then at most `lines` lines of the body.
        auto end = body.find("\r\n\r\n");
        end = end == std::string_view::npos ? body.size() : end + 4;
        for (std::size_t i = 0; i < *lines && end < body.size(); ++i) {
          const auto next = body.find("\r\n", end);
          end = next == std::string_view::npos ? body.size() : next + 2;
        }
        body = body.substr(0, end);
      }
      conn_.send_line("+OK " + std::to_string(m->info.size) + " octets");
      send_dot_stuffed(conn_, body);
      conn_.send_line(".");
      return true;
    }
    if (verb == "DELE") {
      auto* m = message(words);
      if (!m) {
        conn_.send_line("-ERR No such message.");
        return true;
      }
      m->deleted = true;
      conn_.send_line("+OK Deleted.");
      return true;
    }
    if (verb == "RSET") {
      for (auto& m : messages_) m.deleted = false;
      conn_.send_line("+OK");
      return true;
    }
    conn_.send_line("-ERR Command is not valid in this state.");
    return true;
  }

  connection& conn_;
  server_context& ctx_;
  std::string mailbox_;
  std::uint32_t uidvalidity_ = 0;
  std::vector<pop3_message> messages_;
};

}  // namespace

boost::asio::awaitable<void> run_pop3_session(connection& conn, server_context& ctx) {
  pop3_session s(conn, ctx);
  co_await s.run();
}

}  // namespace mailoauth::sandbox::detail
