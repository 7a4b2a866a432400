// A value or a failure that says what happened and what to do: the result type of every
// operation past the wire protocols (configuration, token store, OAuth flows).
#pragma once

#include <mailoauth/error.hpp>

#include <boost/system/result.hpp>

#include <string>
#include <system_error>

namespace mailoauth {

/// Why an operation failed. `message` is one line for the user (what happened, what to change);
/// `detail` holds what --verbose adds (a server's raw error description, correlation ids).
/// Neither ever holds a credential.
struct failure {
  std::error_code code;
  std::string message;
  std::string detail;
  /// Seconds the server asked us to wait before trying again (HTTP Retry-After); 0 when it did
  /// not say.
  long retry_after = 0;
};

inline failure make_failure(errc e, std::string message, std::string detail = {}) {
  return failure{make_error_code(e), std::move(message), std::move(detail)};
}

/// Found by boost::system::result through ADL when value() is called on a failure.
[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location& loc);

/// The exception thrown by result<T>::value() on a failure.
class failure_error : public std::system_error {
 public:
  explicit failure_error(failure f)
      : std::system_error(f.code, f.message), failure_(std::move(f)) {}
  [[nodiscard]] const failure& get() const noexcept { return failure_; }

 private:
  failure failure_;
};

template <class T>
using result = boost::system::result<T, failure>;

}  // namespace mailoauth
