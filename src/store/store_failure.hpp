// The wording of token store failures: every message names the file and says what to do.
#pragma once

#include <mailoauth/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace mailoauth::store::detail {

/// "run `mailoauth login ACCOUNT`", the way out of every unusable token file.
std::string login_hint(const std::string& account);

/// A system call failed on `file`: `what` (e.g. "cannot write token file"), the path, the errno
/// text, and advice that depends on the errno (free disk space, check permissions...).
failure io_failure(std::string_view what, const std::filesystem::path& file, int err);

/// A token file that cannot be used as it is: `problem` says why (never with a credential).
failure unusable_file(const std::filesystem::path& file, std::string_view problem,
                      const std::string& account);

}  // namespace mailoauth::store::detail
