// IMAP4rev1 (RFC 3501) with SASL-IR (RFC 4959), LITERAL+ (RFC 7888), UIDPLUS (RFC 4315), ID,
// UNSELECT, NAMESPACE and CHILDREN, as Exchange Online answers them, over one INBOX per user:
// enough for imaplib, curl, mbsync and the like to list, read, flag, append and expunge.
#include "protocol/imap_syntax.hpp"
#include "sandbox/mail/sessions.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>

namespace mailoauth::sandbox::detail {
namespace {

using protocol::detail::imap_value;
using protocol::detail::parse_imap_values;
using protocol::detail::parse_sequence_set;
using protocol::detail::sequence_set;
using protocol::detail::trailing_literal;

constexpr std::string_view invalid_state = "BAD Command received in Invalid state.";
constexpr std::size_t max_literals = 64;

bool is_inbox(const imap_value& v) {
  return v.is_astring() && ascii_iequals(v.text, "INBOX");
}

// RFC 3501 section 6.3.8: '*' and '%' match any characters ('%' not the hierarchy delimiter,
// which INBOX does not contain). Iterative with one backtrack point, so that a hostile pattern
// of thousands of wildcards costs time linear in its length, not exponential.
bool wildcard_match(std::string_view pattern, std::string_view name) {
  const auto up = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; };
  const auto wild = [](char c) { return c == '*' || c == '%'; };
  std::size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && wild(pattern[p])) {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && up(pattern[p]) == up(name[n])) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && wild(pattern[p])) ++p;
  return p == pattern.size();
}

std::string flag_list(const std::vector<std::string>& flags) {
  std::string out = "(";
  for (std::size_t i = 0; i < flags.size(); ++i) {
    if (i) out.push_back(' ');
    out.append(flags[i]);
  }
  out.push_back(')');
  return out;
}

// The header block of a message (with its blank line) and the text after it.
std::pair<std::string_view, std::string_view> split_message(std::string_view m) {
  const auto end = m.find("\r\n\r\n");
  if (end == std::string_view::npos) return {m, {}};
  return {m.substr(0, end + 4), m.substr(end + 4)};
}

// The header fields whose names are (or, with `invert`, are not) in `names`, unfolded lines
// kept together, followed by the blank line (RFC 3501 section 6.4.5).
std::string header_fields(std::string_view header, const std::vector<std::string>& names,
                          bool invert) {
  std::string out;
  bool keep = false;
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find("\r\n", pos);
    end = end == std::string_view::npos ? header.size() : end + 2;
    const auto line = header.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n") break;
    if (line.front() != ' ' && line.front() != '\t') {
      const auto colon = line.find(':');
      const auto name = line.substr(0, colon);
      const bool listed = std::any_of(names.begin(), names.end(),
                                      [&](const std::string& n) { return ascii_iequals(n, name); });
      keep = listed != invert;
    }
    if (keep) out.append(line);
  }
  out.append("\r\n");
  return out;
}

// Case-insensitive substring search, for SEARCH's text keys.
bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  const auto it =
      std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
      });
  return it != hay.end();
}

class imap_session {
 public:
  imap_session(connection& conn, server_context& ctx) : conn_(conn), ctx_(ctx) {}

  boost::asio::awaitable<void> run() {
    conn_.send_line("* OK The Microsoft Exchange IMAP4 service is ready. [mailoauth sandbox]");
    const bool greeted = co_await conn_.flush();
    if (!greeted) co_return;
    for (;;) {
      std::string command;
      std::string tag;
      const bool have_command = co_await read_command(command, tag);
      if (!have_command) co_return;
      const bool go_on = co_await dispatch(command, tag);
      const bool sent = co_await conn_.flush();
      if (!sent || !go_on) co_return;
    }
  }

 private:
  enum class state { not_authenticated, authenticated, selected };

  // Reads a whole command: its first line, and for every literal the line announces, the
  // literal's octets and the line after them.
  boost::asio::awaitable<bool> read_command(std::string& command, std::string& tag) {
    const auto& o = ctx_.options;
    const auto limit = state_ == state::not_authenticated ? o.max_auth_line : o.max_line;
    std::string line;
    auto st = co_await conn_.read_line(line, limit, o.idle_timeout);
    if (st != read_status::ok) {
      const auto r = co_await read_failed(st);
      co_return r;
    }
    tag = line.substr(0, line.find(' '));
    record(line);
    command = std::move(line);
    std::size_t literal_total = 0;
    for (std::size_t count = 0;; ++count) {
      const auto lit = trailing_literal(command);
      if (!lit) co_return true;
      literal_total += lit->size;
      if (count >= max_literals || literal_total > o.max_message) {
        // The client may already be sending the octets (LITERAL+): no way to resynchronise.
        conn_.send_line("* BYE Literal too large.");
        co_await conn_.flush();
        co_return false;
      }
      if (!lit->non_synchronizing) {
        conn_.send_line("+ Ready for additional command text.");
        const bool asked = co_await conn_.flush();
        if (!asked) co_return false;
      }
      const std::size_t size = lit->size;
      auto octets = co_await conn_.read_exact(size);
      if (!octets) co_return false;
      command.append("\r\n").append(*octets);
      conn_.record_client("[literal, " + std::to_string(size) + " octets]");
      st = co_await conn_.read_line(line, o.max_line, o.io_timeout);
      if (st != read_status::ok) {
        const auto r = co_await read_failed(st);
        co_return r;
      }
      record(line);
      command.append(line);
    }
  }

  boost::asio::awaitable<bool> read_failed(read_status st) {
    if (st == read_status::too_long) {
      conn_.send_line("* BYE Line too long.");
      co_await conn_.flush();
    }
    co_return false;
  }

  // Records a client line, the credential of AUTHENTICATE and LOGIN left out.
  void record(const std::string& line) {
    const auto words = line.find(' ');
    if (words != std::string::npos) {
      const auto rest = std::string_view(line).substr(words + 1);
      const auto verb_end = rest.find(' ');
      const auto verb = upper(rest.substr(0, verb_end));
      if (verb == "AUTHENTICATE" && verb_end != std::string_view::npos) {
        const auto mech_end = rest.find(' ', verb_end + 1);
        if (mech_end != std::string_view::npos) {
          conn_.record_client(line.substr(0, words + 1 + mech_end) + " [redacted]");
          return;
        }
      } else if (verb == "LOGIN") {
        conn_.record_client(line.substr(0, words) + " LOGIN [redacted]");
        return;
      }
    }
    conn_.record_client(line);
  }

  std::string capability_line() const {
    std::string caps = "* CAPABILITY IMAP4 IMAP4rev1";
    if (!conn_.tls()) caps += " STARTTLS LOGINDISABLED";
    if (conn_.tls() && state_ == state::not_authenticated)
      caps += " AUTH=XOAUTH2 AUTH=OAUTHBEARER SASL-IR";
    caps += " UIDPLUS ID UNSELECT CHILDREN NAMESPACE LITERAL+";
    return caps;
  }

  void reply(const std::string& tag, std::string_view text) {
    conn_.send_line(tag + " " + std::string(text));
  }

  boost::asio::awaitable<bool> dispatch(const std::string& command, const std::string& tag) {
    if (tag.empty() || tag == "*" || tag == "+" ||
        tag.find_first_of("(){%\"\\]") != std::string::npos) {
      conn_.send_line("* BAD Command Error.");
      co_return true;
    }
    std::string why;
    auto values = parse_imap_values(std::string_view(command).substr(tag.size()), why);
    if (!values || values->empty() || !values->front().is_atom()) {
      reply(tag, "BAD Command Error. " + (why.empty() ? std::string("Missing command.") : why));
      co_return true;
    }
    auto name = upper(values->front().text);
    std::vector<imap_value> args(std::make_move_iterator(values->begin() + 1),
                                 std::make_move_iterator(values->end()));
    bool uid = false;
    if (name == "UID") {
      if (args.empty() || !args.front().is_atom()) {
        reply(tag, "BAD Command Argument Error.");
        co_return true;
      }
      uid = true;
      name = upper(args.front().text);
      args.erase(args.begin());
    }

    if (!uid) {
      if (name == "CAPABILITY") {
        conn_.send_line(capability_line());
        // Microsoft's guide's line, byte for byte.
        reply(tag, "OK Completed");
        co_return true;
      }
      if (name == "NOOP" || name == "CHECK") {
        if (state_ == state::selected) sync(true);
        reply(tag, "OK " + name + " completed.");
        co_return true;
      }
      if (name == "LOGOUT") {
        conn_.send_line("* BYE Microsoft Exchange Server IMAP4 server signing off.");
        reply(tag, "OK LOGOUT completed.");
        co_return false;
      }
      if (name == "ID") {
        conn_.send_line("* ID (\"name\" \"mailoauth sandbox\")");
        reply(tag, "OK ID completed.");
        co_return true;
      }
    }
    if (state_ == state::not_authenticated) {
      if (uid) {
        reply(tag, invalid_state);
        co_return true;
      }
      if (name == "STARTTLS") {
        if (conn_.tls()) {
          reply(tag, invalid_state);
          co_return true;
        }
        reply(tag, "OK Begin TLS negotiation now.");
        const bool answered = co_await conn_.flush();
        if (!answered) co_return false;
        if (const auto n = conn_.discard_buffered())
          spdlog::warn("mail sandbox: imap session {}: dropped {} octets sent before TLS",
                       conn_.id(), n);
        const auto r = co_await conn_.handshake();
        co_return r;
      }
      if (name == "AUTHENTICATE") {
        const auto r = co_await authenticate(tag, args);
        co_return r;
      }
      if (name == "LOGIN") {
        // Basic authentication is off, as in a tenant that follows Microsoft's advice.
        reply(tag, conn_.tls() ? "NO LOGIN failed." : invalid_state);
        co_return true;
      }
      reply(tag, invalid_state);
      co_return true;
    }
    if (name == "AUTHENTICATE" || name == "LOGIN" || name == "STARTTLS") {
      reply(tag, invalid_state);
      co_return true;
    }
    if (!uid) {
      if (name == "SELECT" || name == "EXAMINE") co_return select(tag, args, name == "EXAMINE");
      if (name == "LIST" || name == "LSUB") co_return list(tag, args, name);
      if (name == "STATUS") co_return status(tag, args);
      if (name == "APPEND") co_return append(tag, args);
      if (name == "NAMESPACE") {
        conn_.send_line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
        reply(tag, "OK NAMESPACE completed.");
        co_return true;
      }
      if (name == "ENABLE") {
        conn_.send_line("* ENABLED");
        reply(tag, "OK ENABLE completed.");
        co_return true;
      }
      if (name == "SUBSCRIBE" || name == "UNSUBSCRIBE") {
        reply(tag, "OK " + name + " completed.");
        co_return true;
      }
      if (name == "CREATE" || name == "DELETE" || name == "RENAME") {
        reply(tag, "NO [CANNOT] The sandbox has one folder per user: INBOX.");
        co_return true;
      }
    }
    if (state_ != state::selected) {
      reply(tag, invalid_state);
      co_return true;
    }
    if (!uid && (name == "CLOSE" || name == "UNSELECT")) {
      if (name == "CLOSE" && !read_only_) expunge_deleted(nullptr, false);
      state_ = state::authenticated;
      uids_.clear();
      reply(tag, "OK " + name + " completed.");
      co_return true;
    }
    if (name == "FETCH") co_return fetch(tag, args, uid);
    if (name == "STORE") co_return store(tag, args, uid);
    if (name == "SEARCH") co_return search(tag, args, uid);
    if (name == "EXPUNGE") co_return expunge(tag, args, uid);
    reply(tag, "BAD Command Error.");
    co_return true;
  }

  boost::asio::awaitable<bool> authenticate(const std::string& tag,
                                            const std::vector<imap_value>& args) {
    if (!conn_.tls()) {
      // No AUTHENTICATE before TLS: the capability list said LOGINDISABLED and no AUTH=.
      reply(tag, invalid_state);
      co_return true;
    }
    if (args.empty() || args.size() > 2 || !args[0].is_atom() ||
        (args.size() == 2 && !args[1].is_atom())) {
      reply(tag, "BAD Command Argument Error.");
      co_return true;
    }
    const auto mech = sasl::parse_mechanism(args[0].text);
    // Only the OAuth mechanisms: Basic authentication is off, as in a tenant that follows
    // Microsoft's advice.
    if (!mech || !sasl::is_bearer(*mech)) {
      reply(tag, "NO AUTHENTICATE failed.");
      co_return true;
    }
    std::optional<std::string_view> initial;
    if (args.size() == 2) initial = args[1].text;
    const auto r = co_await run_sasl_exchange(conn_, ctx_, mail_protocol::imap, *mech, initial);
    switch (r.end) {
      case sasl_end::success:
        state_ = state::authenticated;
        mailbox_ = r.mailbox;
        reply(tag, "OK AUTHENTICATE completed.");
        co_return true;
      case sasl_end::cancelled:
        reply(tag, "BAD AUTHENTICATE cancelled.");
        co_return true;
      case sasl_end::failure:
        reply(tag, "NO AUTHENTICATE failed.");
        co_return true;
      case sasl_end::too_long: {
        const bool go_on = co_await read_failed(read_status::too_long);
        co_return go_on;
      }
      case sasl_end::closed:
        co_return false;
    }
    co_return false;
  }

  // Brings this session's view of INBOX up to date: EXPUNGE responses for messages others
  // removed (only where RFC 3501 section 7.4.1 allows them), EXISTS for new ones.
  mailbox_snapshot sync(bool allow_expunge) {
    auto snap = ctx_.store.snapshot(mailbox_);
    if (!snap) return {};
    if (allow_expunge) {
      for (std::size_t i = 0; i < uids_.size();) {
        const auto uid = uids_[i];
        const bool there = std::any_of(snap->messages.begin(), snap->messages.end(),
                                       [uid](const message_info& m) { return m.uid == uid; });
        if (there) {
          ++i;
          continue;
        }
        conn_.send_line("* " + std::to_string(i + 1) + " EXPUNGE");
        uids_.erase(uids_.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    bool grew = false;
    for (const auto& m : snap->messages) {
      if (m.uid > highest_uid_) {
        uids_.push_back(m.uid);
        highest_uid_ = m.uid;
        grew = true;
      }
    }
    if (grew) conn_.send_line("* " + std::to_string(uids_.size()) + " EXISTS");
    return std::move(*snap);
  }

  bool select(const std::string& tag, const std::vector<imap_value>& args, bool examine) {
    state_ = state::authenticated;
    uids_.clear();
    highest_uid_ = 0;
    if (args.empty() || !is_inbox(args[0])) {
      reply(tag, "NO Mailbox does not exist.");
      return true;
    }
    auto snap = ctx_.store.snapshot(mailbox_);
    if (!snap) {
      reply(tag, "NO [UNAVAILABLE] The mailbox cannot be opened.");
      return true;
    }
    for (const auto& m : snap->messages) uids_.push_back(m.uid);
    highest_uid_ = uids_.empty() ? 0 : uids_.back();
    read_only_ = examine;
    state_ = state::selected;
    conn_.send_line("* " + std::to_string(uids_.size()) + " EXISTS");
    conn_.send_line("* 0 RECENT");
    conn_.send_line("* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $MDNSent)");
    conn_.send_line(
        "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $MDNSent \\*)] "
        "Permanent flags");
    for (std::size_t i = 0; i < snap->messages.size(); ++i) {
      if (!snap->messages[i].has_flag("\\Seen")) {
        conn_.send_line("* OK [UNSEEN " + std::to_string(i + 1) + "] Is the first unseen message");
        break;
      }
    }
    conn_.send_line("* OK [UIDVALIDITY " + std::to_string(snap->uidvalidity) +
                    "] UIDVALIDITY value");
    conn_.send_line("* OK [UIDNEXT " + std::to_string(snap->uidnext) +
                    "] The next unique identifier value");
    reply(tag, std::string(examine ? "OK [READ-ONLY] EXAMINE" : "OK [READ-WRITE] SELECT") +
                   " completed.");
    return true;
  }

  bool list(const std::string& tag, std::vector<imap_value> args, const std::string& name) {
    // RFC 5258 selection options before the reference, RETURN options after the pattern.
    if (!args.empty() && args[0].is_list()) args.erase(args.begin());
    if (args.size() < 2 || !args[0].is_astring()) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    std::vector<std::string> patterns;
    if (args[1].is_list()) {
      for (const auto& p : args[1].items) patterns.push_back(p.text);
    } else {
      patterns.push_back(args[1].text);
    }
    for (const auto& p : patterns) {
      if (p.empty()) {
        conn_.send_line("* " + name + " (\\Noselect) \"/\" \"\"");
        continue;
      }
      if (wildcard_match(args[0].text + p, "INBOX")) {
        conn_.send_line("* " + name + " (\\HasNoChildren) \"/\" INBOX");
        break;
      }
    }
    reply(tag, "OK " + name + " completed.");
    return true;
  }

  bool status(const std::string& tag, const std::vector<imap_value>& args) {
    if (args.size() != 2 || !args[1].is_list()) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    if (!is_inbox(args[0])) {
      reply(tag, "NO Mailbox does not exist.");
      return true;
    }
    auto snap = ctx_.store.snapshot(mailbox_);
    if (!snap) {
      reply(tag, "NO [UNAVAILABLE] The mailbox cannot be opened.");
      return true;
    }
    std::string items;
    for (const auto& item : args[1].items) {
      const auto what = upper(item.text);
      std::uint64_t n = 0;
      if (what == "MESSAGES") {
        n = snap->messages.size();
      } else if (what == "RECENT") {
        n = 0;
      } else if (what == "UIDNEXT") {
        n = snap->uidnext;
      } else if (what == "UIDVALIDITY") {
        n = snap->uidvalidity;
      } else if (what == "UNSEEN") {
        n = static_cast<std::uint64_t>(
            std::count_if(snap->messages.begin(), snap->messages.end(),
                          [](const message_info& m) { return !m.has_flag("\\Seen"); }));
      } else {
        reply(tag, "BAD Command Argument Error.");
        return true;
      }
      if (!items.empty()) items.push_back(' ');
      items += what + " " + std::to_string(n);
    }
    conn_.send_line("* STATUS INBOX (" + items + ")");
    reply(tag, "OK STATUS completed.");
    return true;
  }

  bool append(const std::string& tag, const std::vector<imap_value>& args) {
    // APPEND mailbox [flag-list] [date-time] literal
    if (args.size() < 2 || args.size() > 4 || args.back().k != imap_value::kind::string) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    if (!is_inbox(args[0])) {
      reply(tag, "NO [TRYCREATE] Mailbox does not exist.");
      return true;
    }
    std::vector<std::string> flags;
    if (args.size() >= 3 && args[1].is_list())
      for (const auto& f : args[1].items)
        if (f.is_atom() && !ascii_iequals(f.text, "\\Recent")) flags.push_back(f.text);
    auto uid = ctx_.store.append(mailbox_, args.back().text, std::move(flags), unix_now());
    if (!uid) {
      reply(tag, "NO [UNAVAILABLE] The message cannot be saved.");
      return true;
    }
    const auto snap = ctx_.store.snapshot(mailbox_);
    if (state_ == state::selected) sync(true);
    reply(tag, "OK [APPENDUID " + std::to_string(snap ? snap->uidvalidity : 0) + " " +
                   std::to_string(*uid) + "] APPEND completed.");
    return true;
  }

  // The messages of a sequence set (message numbers, or UIDs for the UID commands), as
  // (message number, info) pairs; messages expunged by another session are left out.
  std::optional<std::vector<std::pair<std::size_t, message_info>>> resolve(
      const imap_value& set_text, bool uid, const mailbox_snapshot& snap) {
    if (!set_text.is_atom()) return std::nullopt;
    const std::uint32_t largest =
        uid ? (uids_.empty() ? 0 : uids_.back()) : static_cast<std::uint32_t>(uids_.size());
    const auto set = parse_sequence_set(set_text.text, largest);
    if (!set) return std::nullopt;
    std::map<std::uint32_t, const message_info*> by_uid;
    for (const auto& m : snap.messages) by_uid.emplace(m.uid, &m);
    std::vector<std::pair<std::size_t, message_info>> out;
    for (std::size_t i = 0; i < uids_.size(); ++i) {
      const auto key = uid ? uids_[i] : static_cast<std::uint32_t>(i + 1);
      if (!set->contains(key)) continue;
      const auto it = by_uid.find(uids_[i]);
      if (it != by_uid.end()) out.emplace_back(i + 1, *it->second);
    }
    return out;
  }

  struct fetch_item {
    std::string name;     // FLAGS, UID, RFC822.SIZE, INTERNALDATE, BODY, RFC822, ...
    std::string section;  // inside the brackets
    bool peek = false;
    bool has_section = false;
    std::optional<std::pair<std::size_t, std::size_t>> partial;
  };

  static std::optional<fetch_item> parse_fetch_item(const imap_value& v) {
    if (!v.is_atom()) return std::nullopt;
    fetch_item item;
    const auto bracket = v.text.find('[');
    item.name = upper(v.text.substr(0, bracket));
    if (bracket != std::string::npos) {
      const auto close = v.text.rfind(']');
      if (close == std::string::npos || close < bracket) return std::nullopt;
      item.has_section = true;
      item.section = v.text.substr(bracket + 1, close - bracket - 1);
      const auto rest = std::string_view(v.text).substr(close + 1);
      if (!rest.empty()) {
        // <origin.count>
        if (rest.front() != '<' || rest.back() != '>') return std::nullopt;
        const auto inner = rest.substr(1, rest.size() - 2);
        const auto dot = inner.find('.');
        if (dot == std::string_view::npos) return std::nullopt;
        try {
          item.partial = {std::stoul(std::string(inner.substr(0, dot))),
                          std::stoul(std::string(inner.substr(dot + 1)))};
        } catch (const std::exception&) {
          return std::nullopt;
        }
      }
      if (item.name == "BODY.PEEK") {
        item.name = "BODY";
        item.peek = true;
      }
      if (item.name != "BODY") return std::nullopt;
    } else {
      static const char* known[] = {"FLAGS",  "UID",           "RFC822.SIZE", "INTERNALDATE",
                                    "RFC822", "RFC822.HEADER", "RFC822.TEXT"};
      if (std::none_of(std::begin(known), std::end(known),
                       [&](const char* k) { return item.name == k; }))
        return std::nullopt;
    }
    return item;
  }

  // The octets a BODY[section] names in a single-part message.
  static std::optional<std::string> section_text(std::string_view message,
                                                 const std::string& section) {
    const auto [header, text] = split_message(message);
    const auto up = upper(section);
    if (up.empty()) return std::string(message);
    if (up == "HEADER") return std::string(header);
    if (up == "TEXT" || up == "1") return std::string(text);
    if (up.starts_with("HEADER.FIELDS")) {
      const bool invert = up.starts_with("HEADER.FIELDS.NOT");
      std::string why;
      auto names = parse_imap_values(std::string_view(section).substr(invert ? 17 : 13), why);
      if (!names || names->size() != 1 || !names->front().is_list()) return std::nullopt;
      std::vector<std::string> fields;
      for (const auto& n : names->front().items) fields.push_back(n.text);
      return header_fields(header, fields, invert);
    }
    return std::nullopt;
  }

  bool fetch(const std::string& tag, const std::vector<imap_value>& args, bool uid) {
    if (args.size() != 2) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    std::vector<fetch_item> items;
    std::vector<imap_value> wanted;
    if (args[1].is_list()) {
      wanted = args[1].items;
    } else {
      const auto macro = upper(args[1].text);
      if (macro == "ALL" || macro == "FAST" || macro == "FULL") {
        for (const char* n : {"FLAGS", "INTERNALDATE", "RFC822.SIZE"})
          wanted.push_back({imap_value::kind::atom, n, {}});
      } else {
        wanted.push_back(args[1]);
      }
    }
    for (const auto& w : wanted) {
      auto item = parse_fetch_item(w);
      if (!item) {
        reply(tag, "BAD Command Argument Error. Unsupported FETCH item " + w.text);
        return true;
      }
      items.push_back(std::move(*item));
    }
    // RFC 3501 section 6.4.8: UID FETCH always returns the UID.
    if (uid && std::none_of(items.begin(), items.end(),
                            [](const fetch_item& i) { return i.name == "UID"; }))
      items.insert(items.begin(), fetch_item{"UID", {}, false, false, {}});
    auto snap = sync(uid);
    auto messages = resolve(args[0], uid, snap);
    if (!messages) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    std::vector<std::pair<std::uint32_t, std::vector<std::string>>> seen_now;
    for (auto& [number, info] : *messages) {
      std::string wire = "* " + std::to_string(number) + " FETCH (";
      std::string logged = wire;
      std::optional<std::string> text;
      bool flags_sent = false;
      bool ok = true;
      auto add = [&](const std::string& s, const std::string& summary) {
        if (wire.back() != '(') wire.push_back(' '), logged.push_back(' ');
        wire += s;
        logged += summary;
      };
      for (const auto& item : items) {
        if (item.name == "UID") {
          add("UID " + std::to_string(info.uid), "UID " + std::to_string(info.uid));
        } else if (item.name == "FLAGS") {
          add("FLAGS " + flag_list(info.flags), "FLAGS " + flag_list(info.flags));
          flags_sent = true;
        } else if (item.name == "RFC822.SIZE") {
          add("RFC822.SIZE " + std::to_string(info.size),
              "RFC822.SIZE " + std::to_string(info.size));
        } else if (item.name == "INTERNALDATE") {
          const auto d = "INTERNALDATE \"" + imap_date(info.internal_date) + "\"";
          add(d, d);
        } else {
          if (!text) {
            auto r = ctx_.store.read(mailbox_, info.uid);
            if (!r) {
              ok = false;
              break;
            }
            text = std::move(*r);
          }
          std::optional<std::string> part;
          std::string label;
          bool marks_seen = false;
          if (item.name == "RFC822") {
            part = *text;
            label = "RFC822";
            marks_seen = true;
          } else if (item.name == "RFC822.HEADER") {
            part = std::string(split_message(*text).first);
            label = "RFC822.HEADER";
          } else if (item.name == "RFC822.TEXT") {
            part = std::string(split_message(*text).second);
            label = "RFC822.TEXT";
            marks_seen = true;
          } else {
            part = section_text(*text, item.section);
            label = "BODY[" + item.section + "]";
            marks_seen = !item.peek;
          }
          if (!part) {
            reply(tag, "BAD Command Argument Error. Unsupported section " + item.section);
            return true;
          }
          if (item.partial) {
            const auto [origin, count] = *item.partial;
            *part = origin >= part->size() ? std::string() : part->substr(origin, count);
            label += "<" + std::to_string(origin) + ">";
          }
          add(label + " {" + std::to_string(part->size()) + "}\r\n" + *part,
              label + " {" + std::to_string(part->size()) + "}");
          if (marks_seen && !read_only_ && !info.has_flag("\\Seen")) {
            info.flags.push_back("\\Seen");
            seen_now.emplace_back(info.uid, info.flags);
          }
        }
      }
      if (!ok) continue;  // expunged meanwhile
      if (!seen_now.empty() && seen_now.back().first == info.uid && !flags_sent)
        add("FLAGS " + flag_list(info.flags), "FLAGS " + flag_list(info.flags));
      wire += ")\r\n";
      logged += ")";
      conn_.record_server_summary(logged);
      conn_.send_raw(wire);
    }
    if (!seen_now.empty()) (void)ctx_.store.set_flags(mailbox_, seen_now);
    reply(tag, uid ? "OK UID FETCH completed." : "OK FETCH completed.");
    return true;
  }

  bool store(const std::string& tag, const std::vector<imap_value>& args, bool uid) {
    if (args.size() < 3 || !args[1].is_atom()) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    if (read_only_) {
      reply(tag, "NO The mailbox is read-only.");
      return true;
    }
    auto what = upper(args[1].text);
    const bool silent = what.ends_with(".SILENT");
    if (silent) what.resize(what.size() - 7);
    if (what != "FLAGS" && what != "+FLAGS" && what != "-FLAGS") {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    std::vector<std::string> flags;
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (args[i].is_list()) {
        for (const auto& f : args[i].items)
          if (f.is_atom()) flags.push_back(f.text);
      } else if (args[i].is_atom()) {
        flags.push_back(args[i].text);
      }
    }
    std::erase_if(flags, [](const std::string& f) { return ascii_iequals(f, "\\Recent"); });
    auto snap = sync(uid);
    auto messages = resolve(args[0], uid, snap);
    if (!messages) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    std::vector<std::pair<std::uint32_t, std::vector<std::string>>> changes;
    for (auto& [number, info] : *messages) {
      auto next = what == "FLAGS" ? std::vector<std::string>() : info.flags;
      if (what == "-FLAGS") {
        std::erase_if(next, [&](const std::string& f) {
          return std::any_of(flags.begin(), flags.end(),
                             [&](const std::string& g) { return ascii_iequals(f, g); });
        });
      } else {
        for (const auto& f : flags)
          if (std::none_of(next.begin(), next.end(),
                           [&](const std::string& g) { return ascii_iequals(f, g); }))
            next.push_back(f);
      }
      changes.emplace_back(info.uid, next);
      if (!silent)
        conn_.send_line("* " + std::to_string(number) + " FETCH (" +
                        (uid ? "UID " + std::to_string(info.uid) + " " : std::string()) + "FLAGS " +
                        flag_list(next) + ")");
    }
    if (!ctx_.store.set_flags(mailbox_, changes)) {
      reply(tag, "NO [UNAVAILABLE] The flags cannot be saved.");
      return true;
    }
    reply(tag, uid ? "OK UID STORE completed." : "OK STORE completed.");
    return true;
  }

  struct search_subject {
    std::size_t number;
    const message_info* info;
    std::optional<std::string> text;
  };

  // Evaluates one search key at args[i] for one message; advances i. nullopt: bad syntax.
  std::optional<bool> search_key(const std::vector<imap_value>& args, std::size_t& i,
                                 search_subject& s, const mailbox_snapshot& snap) {
    if (i >= args.size()) return std::nullopt;
    const auto& v = args[i++];
    if (v.is_list()) {
      bool all = true;
      std::size_t j = 0;
      while (j < v.items.size()) {
        const auto r = search_key(v.items, j, s, snap);
        if (!r) return std::nullopt;
        all = all && *r;
      }
      return all;
    }
    const auto key = upper(v.text);
    auto next_text = [&]() -> std::optional<std::string> {
      if (i >= args.size() || args[i].is_list()) return std::nullopt;
      return args[i++].text;
    };
    auto flag = [&](const char* f) { return s.info->has_flag(f); };
    auto message_text = [&]() -> const std::string& {
      if (!s.text) {
        auto r = ctx_.store.read(mailbox_, s.info->uid);
        s.text = r ? std::move(*r) : std::string();
      }
      return *s.text;
    };
    if (key == "ALL") return true;
    if (key == "SEEN") return flag("\\Seen");
    if (key == "UNSEEN") return !flag("\\Seen");
    if (key == "ANSWERED") return flag("\\Answered");
    if (key == "UNANSWERED") return !flag("\\Answered");
    if (key == "DELETED") return flag("\\Deleted");
    if (key == "UNDELETED") return !flag("\\Deleted");
    if (key == "FLAGGED") return flag("\\Flagged");
    if (key == "UNFLAGGED") return !flag("\\Flagged");
    if (key == "DRAFT") return flag("\\Draft");
    if (key == "UNDRAFT") return !flag("\\Draft");
    if (key == "RECENT" || key == "NEW") return false;
    if (key == "OLD") return true;
    if (key == "KEYWORD" || key == "UNKEYWORD") {
      const auto k = next_text();
      if (!k) return std::nullopt;
      return s.info->has_flag(*k) == (key == "KEYWORD");
    }
    if (key == "NOT") {
      const auto r = search_key(args, i, s, snap);
      if (!r) return std::nullopt;
      return !*r;
    }
    if (key == "OR") {
      const auto a = search_key(args, i, s, snap);
      const auto b = a ? search_key(args, i, s, snap) : std::nullopt;
      if (!a || !b) return std::nullopt;
      return *a || *b;
    }
    if (key == "LARGER" || key == "SMALLER") {
      const auto n = next_text();
      if (!n) return std::nullopt;
      std::uint64_t limit = 0;
      try {
        limit = std::stoull(*n);
      } catch (const std::exception&) {
        return std::nullopt;
      }
      return key == "LARGER" ? s.info->size > limit : s.info->size < limit;
    }
    if (key == "UID") {
      const auto n = next_text();
      if (!n) return std::nullopt;
      const auto set = parse_sequence_set(*n, uids_.empty() ? 0 : uids_.back());
      if (!set) return std::nullopt;
      return set->contains(s.info->uid);
    }
    if (key == "SUBJECT" || key == "FROM" || key == "TO" || key == "CC" || key == "BCC") {
      const auto needle = next_text();
      if (!needle) return std::nullopt;
      const auto header = split_message(message_text()).first;
      const auto fields = header_fields(header, {key}, false);
      const auto colon = fields.find(':');
      return colon != std::string::npos && icontains(fields.substr(colon + 1), *needle);
    }
    if (key == "HEADER") {
      const auto field = next_text();
      const auto needle = field ? next_text() : std::nullopt;
      if (!needle) return std::nullopt;
      const auto fields = header_fields(split_message(message_text()).first, {*field}, false);
      if (fields == "\r\n") return false;
      const auto colon = fields.find(':');
      return icontains(fields.substr(colon + 1), *needle);
    }
    if (key == "BODY" || key == "TEXT") {
      const auto needle = next_text();
      if (!needle) return std::nullopt;
      const auto& m = message_text();
      return icontains(key == "BODY" ? split_message(m).second : std::string_view(m), *needle);
    }
    // A bare sequence set.
    const auto set = parse_sequence_set(v.text, static_cast<std::uint32_t>(uids_.size()));
    if (!set) return std::nullopt;
    return set->contains(static_cast<std::uint32_t>(s.number));
  }

  bool search(const std::string& tag, std::vector<imap_value> args, bool uid) {
    if (args.size() >= 2 && ascii_iequals(args[0].text, "CHARSET"))
      args.erase(args.begin(), args.begin() + 2);
    if (args.empty()) {
      reply(tag, "BAD Command Argument Error.");
      return true;
    }
    auto snap = sync(uid);
    std::map<std::uint32_t, const message_info*> by_uid;
    for (const auto& m : snap.messages) by_uid.emplace(m.uid, &m);
    std::string found = "* SEARCH";
    for (std::size_t n = 0; n < uids_.size(); ++n) {
      const auto it = by_uid.find(uids_[n]);
      if (it == by_uid.end()) continue;
      search_subject s{n + 1, it->second, std::nullopt};
      bool all = true;
      std::size_t i = 0;
      while (i < args.size()) {
        const auto r = search_key(args, i, s, snap);
        if (!r) {
          reply(tag, "BAD Command Argument Error.");
          return true;
        }
        all = all && *r;
      }
      if (all) found += " " + std::to_string(uid ? uids_[n] : n + 1);
    }
    conn_.send_line(found);
    reply(tag, uid ? "OK UID SEARCH completed." : "OK SEARCH completed.");
    return true;
  }

  // Removes the \Deleted messages (of `only`, when given) and reports each EXPUNGE, unless
  // `report` is false (CLOSE).
  bool expunge_deleted(const sequence_set* only, bool report) {
    auto snap = ctx_.store.snapshot(mailbox_);
    if (!snap) return false;
    std::vector<std::uint32_t> gone;
    for (const auto& m : snap->messages)
      if (m.has_flag("\\Deleted") && (!only || only->contains(m.uid))) gone.push_back(m.uid);
    if (!ctx_.store.remove(mailbox_, gone)) return false;
    if (report) {
      sync(true);
    } else {
      std::erase_if(uids_, [&](std::uint32_t u) {
        return std::find(gone.begin(), gone.end(), u) != gone.end();
      });
    }
    return true;
  }

  bool expunge(const std::string& tag, const std::vector<imap_value>& args, bool uid) {
    if (read_only_) {
      reply(tag, "NO The mailbox is read-only.");
      return true;
    }
    std::optional<sequence_set> only;
    if (uid) {
      if (args.size() != 1 || !args[0].is_atom() ||
          !(only = parse_sequence_set(args[0].text, uids_.empty() ? 0 : uids_.back()))) {
        reply(tag, "BAD Command Argument Error.");
        return true;
      }
    }
    if (!expunge_deleted(only ? &*only : nullptr, true)) {
      reply(tag, "NO [UNAVAILABLE] The mailbox cannot be changed.");
      return true;
    }
    reply(tag, uid ? "OK UID EXPUNGE completed." : "OK EXPUNGE completed.");
    return true;
  }

  connection& conn_;
  server_context& ctx_;
  state state_ = state::not_authenticated;
  std::string mailbox_;
  bool read_only_ = false;
  std::vector<std::uint32_t> uids_;  // message number - 1 -> UID
  std::uint32_t highest_uid_ = 0;
};

}  // namespace

boost::asio::awaitable<void> run_imap_session(connection& conn, server_context& ctx) {
  imap_session s(conn, ctx);
  co_await s.run();
}

}  // namespace mailoauth::sandbox::detail
