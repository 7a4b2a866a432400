#include "store/wiping_resource.hpp"

#include <mailoauth/secret.hpp>

#include <openssl/crypto.h>

#include <new>

namespace mailoauth::store::detail {
namespace {

// Boost.JSON 1.81 allocates object keys with alignment 1 and frees them with the default
// alignment, so the alignment argument cannot choose between the aligned and plain operator new
// pair. Every request up to the default new alignment takes the plain pair, whatever it says.
bool over_aligned(std::size_t alignment) noexcept {
  return alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__;
}

class wiping_resource final : public boost::json::memory_resource {
 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (over_aligned(alignment)) return ::operator new(bytes, std::align_val_t(alignment));
    return ::operator new(bytes);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    OPENSSL_cleanse(p, bytes);
    if (over_aligned(alignment)) {
      ::operator delete(p, bytes, std::align_val_t(alignment));
    } else {
      ::operator delete(p, bytes);
    }
  }
  [[nodiscard]] bool do_is_equal(const memory_resource& other) const noexcept override {
    return this == &other;
  }
};

}  // namespace

boost::json::storage_ptr wiping_storage() noexcept {
  // Stateless and never destroyed, so a non-owning storage_ptr to it is always valid.
  static wiping_resource instance;
  return boost::json::storage_ptr(&instance);
}

void append_wiping(std::string& out, std::string_view more) {
  if (out.size() + more.size() > out.capacity()) {
    std::string bigger;
    bigger.reserve(2 * (out.size() + more.size()));
    bigger.append(out);
    out.resize(out.capacity());
    wipe(out);
    out.swap(bigger);
  }
  out.append(more);
}

wipe_on_exit::~wipe_on_exit() {
  // The whole capacity: the string may have held a longer value before it was shortened.
  s_.resize(s_.capacity());
  wipe(s_);
}

}  // namespace mailoauth::store::detail
