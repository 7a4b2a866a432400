#include "sandbox/mail/mailbox_store.hpp"

#include "store/atomic_file.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

namespace mailoauth::sandbox::detail {
namespace {

namespace fs = std::filesystem;

// Addresses become folder names: safe characters as they are, anything else %XX, so that no
// address can name "..", a slash or a hidden file.
std::string folder_name(std::string_view address) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : address) {
    const auto u = static_cast<unsigned char>(c);
    const bool safe = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '-' ||
                      c == '_' || c == '+' || (c == '.' && !out.empty());
    if (safe) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

std::string message_file(std::uint32_t uid) {
  return std::to_string(uid) + ".eml";
}

failure io_failure(const std::string& what) {
  return make_failure(errc::store_failed, "mailbox store: " + what);
}

}  // namespace

bool message_info::has_flag(std::string_view flag) const {
  return std::any_of(flags.begin(), flags.end(), [&](const std::string& f) {
    return f.size() == flag.size() &&
           std::equal(f.begin(), f.end(), flag.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  });
}

struct mailbox_store::mailbox {
  fs::path dir;
  mailbox_snapshot state;
};

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out.append("\r\n");
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out.append("\r\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

mailbox_store::mailbox_store(fs::path root) : root_(std::move(root)) {}

mailbox_store::~mailbox_store() = default;

result<mailbox_store::mailbox*> mailbox_store::open(const std::string& address) {
  if (auto it = open_.find(address); it != open_.end()) return it->second.get();
  auto m = std::make_unique<mailbox>();
  m->dir = root_ / folder_name(address);
  if (auto r = store::detail::ensure_directory(m->dir); !r) return r.error();
  std::ifstream in(m->dir / "mailbox.json", std::ios::binary);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    const auto v = boost::json::parse(text.str(), ec);
    if (ec || !v.is_object())
      return io_failure("cannot parse " + (m->dir / "mailbox.json").string());
    try {
      const auto& o = v.as_object();
      m->state.uidvalidity =
          static_cast<std::uint32_t>(o.at("uidvalidity").to_number<std::int64_t>());
      m->state.uidnext = static_cast<std::uint32_t>(o.at("uidnext").to_number<std::int64_t>());
      for (const auto& item : o.at("messages").as_array()) {
        const auto& mo = item.as_object();
        message_info info;
        info.uid = static_cast<std::uint32_t>(mo.at("uid").to_number<std::int64_t>());
        info.internal_date = mo.at("date").to_number<std::int64_t>();
        info.size = static_cast<std::uint64_t>(mo.at("size").to_number<std::int64_t>());
        for (const auto& f : mo.at("flags").as_array())
          info.flags.emplace_back(f.as_string().c_str());
        // An index entry whose message file is gone would make FETCH fail forever.
        if (fs::exists(m->dir / message_file(info.uid)))
          m->state.messages.push_back(std::move(info));
      }
    } catch (const std::exception&) {
      return io_failure("malformed " + (m->dir / "mailbox.json").string());
    }
  } else {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    m->state.uidvalidity =
        static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
    m->state.uidnext = 1;
    if (auto r = save(*m); !r) return r.error();
  }
  auto* raw = m.get();
  open_.emplace(address, std::move(m));
  return raw;
}

result<void> mailbox_store::save(const mailbox& m) {
  boost::json::object o;
  o["uidvalidity"] = m.state.uidvalidity;
  o["uidnext"] = m.state.uidnext;
  boost::json::array messages;
  for (const auto& info : m.state.messages) {
    boost::json::array flags;
    for (const auto& f : info.flags) flags.emplace_back(f);
    messages.emplace_back(boost::json::object{{"uid", info.uid},
                                              {"date", info.internal_date},
                                              {"size", info.size},
                                              {"flags", std::move(flags)}});
  }
  o["messages"] = std::move(messages);
  return store::detail::replace_file(m.dir, "mailbox.json", boost::json::serialize(o));
}

result<mailbox_snapshot> mailbox_store::snapshot(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto m = open(address);
  if (!m) return m.error();
  return (*m)->state;
}

result<std::uint32_t> mailbox_store::append(const std::string& address, std::string_view message,
                                            std::vector<std::string> flags,
                                            std::int64_t internal_date) {
  const auto data = to_crlf(message);
  std::lock_guard lock(mutex_);
  auto m = open(address);
  if (!m) return m.error();
  auto& box = **m;
  const auto uid = box.state.uidnext;
  if (auto r = store::detail::replace_file(box.dir, message_file(uid), data); !r) return r.error();
  box.state.uidnext = uid + 1;
  box.state.messages.push_back({uid, std::move(flags), internal_date, data.size()});
  if (auto r = save(box); !r) {
    box.state.messages.pop_back();
    return r.error();
  }
  return uid;
}

result<std::string> mailbox_store::read(const std::string& address, std::uint32_t uid) {
  fs::path file;
  {
    std::lock_guard lock(mutex_);
    auto m = open(address);
    if (!m) return m.error();
    file = (*m)->dir / message_file(uid);
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return io_failure("message " + std::to_string(uid) + " is gone");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

result<void> mailbox_store::set_flags(
    const std::string& address,
    const std::vector<std::pair<std::uint32_t, std::vector<std::string>>>& changes) {
  std::lock_guard lock(mutex_);
  auto m = open(address);
  if (!m) return m.error();
  auto& box = **m;
  bool changed = false;
  for (const auto& [uid, flags] : changes) {
    auto it = std::find_if(box.state.messages.begin(), box.state.messages.end(),
                           [&](const message_info& i) { return i.uid == uid; });
    if (it == box.state.messages.end() || it->flags == flags) continue;
    it->flags = flags;
    changed = true;
  }
  if (!changed) return {};
  return save(box);
}

result<std::vector<std::uint32_t>> mailbox_store::remove(const std::string& address,
                                                         const std::vector<std::uint32_t>& uids) {
  std::lock_guard lock(mutex_);
  auto m = open(address);
  if (!m) return m.error();
  auto& box = **m;
  std::vector<std::uint32_t> removed;
  std::erase_if(box.state.messages, [&](const message_info& i) {
    if (std::find(uids.begin(), uids.end(), i.uid) == uids.end()) return false;
    removed.push_back(i.uid);
    return true;
  });
  if (removed.empty()) return removed;
  if (auto r = save(box); !r) return r.error();
  for (const auto uid : removed) {
    std::error_code ignored;
    fs::remove(box.dir / message_file(uid), ignored);
  }
  return removed;
}

}  // namespace mailoauth::sandbox::detail
