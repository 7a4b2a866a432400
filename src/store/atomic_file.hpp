// Crash-safe replacement of a file: temporary file, fsync, rename, fsync of the directory.
#pragma once

#include <mailoauth/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace mailoauth::store::detail {

/// Creates `dir` and its missing parents with mode 0700 (whatever the umask). An existing
/// directory is used as it is.
result<void> ensure_directory(const std::filesystem::path& dir);

/// Replaces `dir/name` with `data` (mode 0600): a crash or kill leaves the old file or the new
/// one, never a mix; on failure (ENOSPC, EDQUOT, EIO...) the old file is untouched and the
/// temporary file removed. Temporary files left by killed writers are removed first.
result<void> replace_file(const std::filesystem::path& dir, const std::string& name,
                          std::string_view data);

/// The name of a temporary file for `name`: ".NAME.<16 hex digits>.tmp". Hidden (account names
/// cannot start with a dot), so it never collides with a token file.
bool is_temporary_name(std::string_view file_name) noexcept;

/// Removes the temporary files in the directory `dir_fd` whose writer is gone (best effort,
/// errors ignored).
void remove_stale_temporaries(int dir_fd);

}  // namespace mailoauth::store::detail
