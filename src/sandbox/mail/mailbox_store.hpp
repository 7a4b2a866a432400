// Internal: the sandbox's mailboxes, one INBOX per address, kept in <state>/mail/<address>/:
// mailbox.json (UIDVALIDITY, UIDNEXT, each message's UID, flags, date and size) and one
// <uid>.eml per message, every file replaced atomically. A message file is written before the
// index names it and removed after the index forgets it, so a crash leaves at worst an orphan
// file, never an index entry without its message. Shared by every session; thread-safe.
#pragma once

#include <mailoauth/result.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::sandbox::detail {

struct message_info {
  std::uint32_t uid = 0;
  std::vector<std::string> flags;  // system flags ("\\Seen") and keywords, as clients wrote them
  std::int64_t internal_date = 0;  // unix seconds
  std::uint64_t size = 0;          // octets, CRLF line ends

  [[nodiscard]] bool has_flag(std::string_view flag) const;
};

struct mailbox_snapshot {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uidnext = 1;
  std::vector<message_info> messages;  // in UID order
};

class mailbox_store {
 public:
  explicit mailbox_store(std::filesystem::path root);
  ~mailbox_store();
  mailbox_store(const mailbox_store&) = delete;
  mailbox_store& operator=(const mailbox_store&) = delete;

  /// The mailbox of `address` (lower-case), created empty on first use.
  result<mailbox_snapshot> snapshot(const std::string& address);
  /// Stores a message (line ends normalised to CRLF); returns its UID.
  result<std::uint32_t> append(const std::string& address, std::string_view message,
                               std::vector<std::string> flags, std::int64_t internal_date);
  /// The message's octets; a failure when it was expunged meanwhile.
  result<std::string> read(const std::string& address, std::uint32_t uid);
  /// Replaces the flags of the messages in `uids` (those still there).
  result<void> set_flags(const std::string& address,
                         const std::vector<std::pair<std::uint32_t, std::vector<std::string>>>&);
  /// Removes the messages in `uids`; returns the UIDs actually removed.
  result<std::vector<std::uint32_t>> remove(const std::string& address,
                                            const std::vector<std::uint32_t>& uids);

 private:
  struct mailbox;
  result<mailbox*> open(const std::string& address);
  result<void> save(const mailbox& m);

  std::filesystem::path root_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<mailbox>> open_;
};

/// Converts bare LF (and bare CR) line ends to CRLF.
std::string to_crlf(std::string_view text);

}  // namespace mailoauth::sandbox::detail
