#include "store/account_name.hpp"

namespace mailoauth::store::detail {
namespace {

bool allowed(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '@' || c == '+' || c == '-';
}

// The name as the user can read it in one line: control and non-ASCII bytes become '?'.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

bool is_account_name(std::string_view account) noexcept {
  if (account.empty() || account.size() > max_account_name || account.front() == '.') return false;
  for (char c : account) {
    if (!allowed(c)) return false;
  }
  return true;
}

result<void> check_account_name(const std::string& account) {
  if (is_account_name(account)) return {};
  if (account.empty()) {
    return make_failure(errc::invalid_argument, "the account name is empty");
  }
  return make_failure(errc::invalid_argument,
                      "invalid account name \"" + printable(account) +
                          "\": use letters, digits and . _ @ + - only, not starting with a dot, "
                          "at most " +
                          std::to_string(max_account_name) + " characters");
}

}  // namespace mailoauth::store::detail
