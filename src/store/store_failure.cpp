#include "store/store_failure.hpp"

#include <cerrno>
#include <system_error>

namespace mailoauth::store::detail {
namespace {

std::string_view advice(int err) {
  switch (err) {
    case ENOSPC:
      return "free some disk space and try again";
    case EDQUOT:
      return "the disk quota is exhausted: free some space or ask for a larger quota";
    case EFBIG:
      return "the file size limit is too low: raise it (ulimit -f)";
    case EACCES:
    case EPERM:
      return "check the owner and permissions of the file and its directory";
    case EROFS:
      return "the file system is read-only: set another token directory or remount it";
    case EIO:
      return "the disk reported an I/O error: check the disk";
    case ENOTDIR:
    case EISDIR:
      return "a path component is not a directory: move it out of the way";
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return "the system is short of resources: close some programs and try again";
    default:
      return "check that the directory exists and is writable";
  }
}

}  // namespace

std::string login_hint(const std::string& account) {
  return "run `mailoauth login " + account + "`";
}

failure io_failure(std::string_view what, const std::filesystem::path& file, int err) {
  std::string message(what);
  message += ' ';
  message += file.string();
  message += ": ";
  message += std::generic_category().message(err);
  message += "; ";
  message += advice(err);
  return make_failure(errc::store_failed, std::move(message));
}

failure unusable_file(const std::filesystem::path& file, std::string_view problem,
                      const std::string& account) {
  std::string message = "token file ";
  message += file.string();
  message += ' ';
  message += problem;
  message += "; ";
  message += login_hint(account);
  message += " to replace it";
  return make_failure(errc::store_failed, std::move(message));
}

}  // namespace mailoauth::store::detail
