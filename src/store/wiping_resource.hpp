// A Boost.JSON memory resource that wipes every block it frees, so that a parsed or serialised
// token file leaves no copy of a credential behind in freed heap memory.
#pragma once

#include <boost/json/memory_resource.hpp>
#include <boost/json/storage_ptr.hpp>

#include <string>
#include <string_view>

namespace mailoauth::store::detail {

/// Storage for json values that hold credentials (a process-wide, stateless resource).
boost::json::storage_ptr wiping_storage() noexcept;

/// Appends to a string that holds a credential. When the string must grow, the old buffer is
/// wiped before it is freed (std::string would free it as it is).
void append_wiping(std::string& out, std::string_view more);

/// Wipes a string that held a credential when the scope ends, however it ends.
class wipe_on_exit {
 public:
  explicit wipe_on_exit(std::string& s) noexcept : s_(s) {}
  wipe_on_exit(const wipe_on_exit&) = delete;
  wipe_on_exit& operator=(const wipe_on_exit&) = delete;
  ~wipe_on_exit();

 private:
  std::string& s_;
};

}  // namespace mailoauth::store::detail
