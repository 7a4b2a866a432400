// SMTP submission (RFC 5321, 6409; STARTTLS RFC 3207; AUTH RFC 4954) as Exchange Online answers
// it: authentication before any mail, delivery into the sandbox's own mailboxes only.
#include "sandbox/mail/sessions.hpp"

#include <spdlog/spdlog.h>

namespace mailoauth::sandbox::detail {
namespace {

// "<addr>" after "FROM:" or "TO:", with optional parameters after it. nullopt when malformed.
std::optional<std::string> path_argument(std::string_view args, std::string_view keyword) {
  if (args.size() < keyword.size() || !ascii_iequals(args.substr(0, keyword.size()), keyword))
    return std::nullopt;
  args.remove_prefix(keyword.size());
  while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
  if (args.empty() || args.front() != '<') return std::nullopt;
  const auto close = args.find('>');
  if (close == std::string_view::npos) return std::nullopt;
  return std::string(args.substr(1, close - 1));
}

class smtp_session {
 public:
  smtp_session(connection& conn, server_context& ctx) : conn_(conn), ctx_(ctx) {}

  boost::asio::awaitable<void> run() {
    const auto& o = ctx_.options;
    conn_.send_line("220 " + o.host_name + " Microsoft ESMTP MAIL Service ready at " +
                    rfc5322_date(unix_now()) + " [mailoauth sandbox]");
    const bool greeted = co_await conn_.flush();
    if (!greeted) co_return;
    for (;;) {
      std::string line;
      const auto limit = user_.empty() ? o.max_auth_line : o.max_line;
      const auto st = co_await conn_.read_line(line, limit, o.idle_timeout);
      if (st == read_status::closed) co_return;
      if (st == read_status::too_long) {
        conn_.send_line("500 5.5.6 Line too long");
        co_await conn_.flush();
        co_return;
      }
      const bool go_on = co_await command(line);
      const bool sent = co_await conn_.flush();
      if (!sent || !go_on) co_return;
    }
  }

 private:
  void reset() {
    from_.reset();
    recipients_.clear();
  }

  void ehlo_reply(bool extended, std::string_view client) {
    const auto& o = ctx_.options;
    const auto hello = o.host_name + " Hello [" + conn_.peer() + "]";
    if (!extended) {
      conn_.send_line("250 " + hello);
      return;
    }
    std::vector<std::string> lines{hello, "SIZE " + std::to_string(o.max_message), "PIPELINING",
                                   "ENHANCEDSTATUSCODES"};
    if (!conn_.tls()) lines.emplace_back("STARTTLS");
    // No AUTH before TLS, as Office 365 on port 587.
    if (conn_.tls() && user_.empty()) lines.emplace_back("AUTH XOAUTH2 OAUTHBEARER");
    lines.emplace_back("8BITMIME");
    lines.emplace_back("SMTPUTF8");
    for (std::size_t i = 0; i < lines.size(); ++i)
      conn_.send_line((i + 1 < lines.size() ? "250-" : "250 ") + lines[i]);
    (void)client;
  }

  boost::asio::awaitable<bool> command(const std::string& line) {
    const auto sp = line.find(' ');
    const auto verb = upper(line.substr(0, sp));
    const std::string_view args =
        sp == std::string::npos ? std::string_view() : std::string_view(line).substr(sp + 1);
    if (verb == "AUTH" && args.find(' ') != std::string_view::npos)
      conn_.record_client("AUTH " + std::string(args.substr(0, args.find(' '))) + " [redacted]");
    else
      conn_.record_client(line);
    const auto& host = ctx_.options.host_name;

    if (verb == "QUIT") {
      conn_.send_line("221 2.0.0 Service closing transmission channel");
      co_return false;
    }
    if (verb == "NOOP") {
      conn_.send_line("250 2.0.0 OK");
      co_return true;
    }
    if (verb == "RSET") {
      reset();
      conn_.send_line("250 2.0.0 Resetting");
      co_return true;
    }
    if (verb == "EHLO" || verb == "HELO") {
      if (args.empty()) {
        conn_.send_line("501 5.5.4 Invalid domain name");
        co_return true;
      }
      reset();
      greeted_ = true;
      ehlo_reply(verb == "EHLO", args);
      co_return true;
    }
    if (verb == "STARTTLS") {
      if (conn_.tls()) {
        conn_.send_line("503 5.5.1 TLS already active");
        co_return true;
      }
      if (!greeted_) {
        conn_.send_line("503 5.5.2 Send hello first");
        co_return true;
      }
      conn_.send_line("220 2.0.0 SMTP server ready");
      const bool answered = co_await conn_.flush();
      if (!answered) co_return false;
      if (const auto n = conn_.discard_buffered())
        spdlog::warn("mail sandbox: smtp session {}: dropped {} octets sent before TLS", conn_.id(),
                     n);
      // RFC 3207 section 4.2: the client starts over with EHLO.
      greeted_ = false;
      reset();
      const auto r = co_await conn_.handshake();
      co_return r;
    }
    if (verb == "VRFY") {
      conn_.send_line("252 2.1.5 Cannot VRFY user");
      co_return true;
    }
    if (verb == "HELP") {
      conn_.send_line("214 2.0.0 See RFC 5321");
      co_return true;
    }
    if (!greeted_) {
      conn_.send_line("503 5.5.2 Send hello first [" + host + "]");
      co_return true;
    }
    if (verb == "AUTH") {
      const auto r = co_await auth(args);
      co_return r;
    }
    if (verb == "MAIL" || verb == "RCPT" || verb == "DATA") {
      if (!conn_.tls()) {
        conn_.send_line("530 5.7.0 Must issue a STARTTLS command first");
        co_return true;
      }
      if (user_.empty()) {
        conn_.send_line("530 5.7.57 Client not authenticated to send mail. [" + host + "]");
        co_return true;
      }
      if (verb == "MAIL") co_return mail(args);
      if (verb == "RCPT") co_return rcpt(args);
      const auto r = co_await data();
      co_return r;
    }
    conn_.send_line("500 5.3.3 Unrecognized command");
    co_return true;
  }

  boost::asio::awaitable<bool> auth(std::string_view args) {
    const auto& host = ctx_.options.host_name;
    if (!conn_.tls()) {
      conn_.send_line("504 5.7.4 Unrecognized authentication type [" + host + "]");
      co_return true;
    }
    if (!user_.empty()) {
      conn_.send_line("503 5.5.2 Already authenticated");
      co_return true;
    }
    const auto sp = args.find(' ');
    const auto name = upper(args.substr(0, sp));
    const auto mech = sasl::parse_mechanism(name);
    // Only the OAuth mechanisms: Basic authentication is off, as in a tenant that follows
    // Microsoft's advice.
    if (!mech || !sasl::is_bearer(*mech)) {
      if (name == "LOGIN" || name == "PLAIN")
        conn_.send_line(
            "535 5.7.139 Authentication unsuccessful, basic authentication is "
            "disabled. [" +
            host + "]");
      else
        conn_.send_line("504 5.7.4 Unrecognized authentication type [" + host + "]");
      co_return true;
    }
    std::optional<std::string_view> initial;
    if (sp != std::string_view::npos) initial = args.substr(sp + 1);
    const auto r = co_await run_sasl_exchange(conn_, ctx_, mail_protocol::smtp, *mech, initial);
    switch (r.end) {
      case sasl_end::success:
        user_ = r.mailbox;
        conn_.send_line("235 2.7.0 Authentication successful");
        co_return true;
      case sasl_end::cancelled:
        conn_.send_line("501 5.7.0 Authentication cancelled");
        co_return true;
      case sasl_end::failure:
        conn_.send_line("535 5.7.3 Authentication unsuccessful [" + host + "]");
        co_return true;
      case sasl_end::too_long:
        conn_.send_line("500 5.5.6 Line too long");
        co_return false;
      case sasl_end::closed:
        co_return false;
    }
    co_return false;
  }

  bool mail(std::string_view args) {
    if (from_) {
      conn_.send_line("503 5.5.1 Sender already specified");
      return true;
    }
    const auto from = path_argument(args, "FROM:");
    if (!from) {
      conn_.send_line("501 5.5.4 Invalid arguments");
      return true;
    }
    // Exchange lets a mailbox send as itself only (SendAs permissions are out of scope).
    if (!from->empty() && lower(*from) != user_) {
      conn_.send_line("550 5.7.60 SMTP; Client does not have permissions to send as this sender");
      return true;
    }
    from_ = *from;
    conn_.send_line("250 2.1.0 Sender OK");
    return true;
  }

  bool rcpt(std::string_view args) {
    if (!from_) {
      conn_.send_line("503 5.5.1 Need mail command");
      return true;
    }
    const auto to = path_argument(args, "TO:");
    if (!to || to->empty()) {
      conn_.send_line("501 5.1.3 Invalid address");
      return true;
    }
    if (!hosted_address(*to, ctx_.options.domains)) {
      // The sandbox relays nowhere: outside its domains is outside its reach.
      conn_.send_line("550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain");
      return true;
    }
    if (recipients_.size() >= 100) {
      conn_.send_line("452 4.5.3 Too many recipients");
      return true;
    }
    recipients_.push_back(lower(*to));
    conn_.send_line("250 2.1.5 Recipient OK");
    return true;
  }

  boost::asio::awaitable<bool> data() {
    const auto& o = ctx_.options;
    if (!from_) {
      conn_.send_line("503 5.5.1 Need mail command");
      co_return true;
    }
    if (recipients_.empty()) {
      conn_.send_line("503 5.5.1 Need rcpt command");
      co_return true;
    }
    conn_.send_line("354 Start mail input; end with <CRLF>.<CRLF>");
    const bool invited = co_await conn_.flush();
    if (!invited) co_return false;
    std::string message = "Received: from [" + conn_.peer() + "] by " + o.host_name +
                          " with ESMTPSA (mailoauth sandbox); " + rfc5322_date(unix_now()) + "\r\n";
    bool too_big = false;
    for (;;) {
      std::string line;
      const auto st = co_await conn_.read_line(line, o.max_line, o.io_timeout);
      if (st == read_status::closed) co_return false;
      if (st == read_status::too_long) {
        conn_.send_line("500 5.5.6 Line too long");
        co_return false;
      }
      if (line == ".") break;
      // RFC 5321 section 4.5.2: remove the stuffed dot.
      std::string_view text = line;
      if (text.starts_with('.')) text.remove_prefix(1);
      if (message.size() + text.size() + 2 > o.max_message) too_big = true;
      if (!too_big) message.append(text).append("\r\n");
    }
    conn_.record_client("[message, " + std::to_string(message.size()) + " octets]");
    if (too_big) {
      reset();
      conn_.send_line("552 5.3.4 Message size exceeds fixed maximum message size");
      co_return true;
    }
    for (const auto& to : recipients_) {
      if (!ctx_.store.append(to, message, {}, unix_now())) {
        reset();
        conn_.send_line("451 4.3.0 Delivery failed, try again later");
        co_return true;
      }
    }
    spdlog::info("mail sandbox: smtp session {}: {} delivered a message to {} recipient(s)",
                 conn_.id(), user_, recipients_.size());
    reset();
    conn_.send_line("250 2.6.0 Queued mail for delivery");
    co_return true;
  }

  connection& conn_;
  server_context& ctx_;
  bool greeted_ = false;
  std::string user_;
  std::optional<std::string> from_;
  std::vector<std::string> recipients_;
};

}  // namespace

boost::asio::awaitable<void> run_smtp_session(connection& conn, server_context& ctx) {
  smtp_session s(conn, ctx);
  co_await s.run();
}

}  // namespace mailoauth::sandbox::detail
