// Which account names may become file names in the token directory.
#pragma once

#include <mailoauth/result.hpp>

#include <string>

namespace mailoauth::store::detail {

/// The longest account name: the name, plus ".json" and the temporary file's decoration, must
/// fit in one 255-byte file name.
inline constexpr std::size_t max_account_name = 200;

/// Succeeds for names made of [A-Za-z0-9._@+-] that do not start with a dot (so that no name
/// can climb out of the directory, or collide with our hidden temporary files).
result<void> check_account_name(const std::string& account);

/// True for a name that check_account_name accepts.
bool is_account_name(std::string_view account) noexcept;

}  // namespace mailoauth::store::detail
