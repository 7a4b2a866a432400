// Replaces the global operator new and delete of this test program (the replacement the
// standard allows, [replacement.functions]) with malloc and free around a small header that
// remembers each block's size, so that operator delete can search the whole block.
#include "freed_memory.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

// Keeps the block's payload aligned as operator new's must be.
constexpr std::size_t header = __STDCPP_DEFAULT_NEW_ALIGNMENT__;
static_assert(header >= sizeof(std::size_t));

std::atomic<const char*> marker_data{nullptr};
std::atomic<std::size_t> marker_size{0};
std::atomic<std::size_t> leak_count{0};
std::atomic<std::size_t> block_count{0};

void* allocate(std::size_t n) {
  void* raw = std::malloc(header + (n == 0 ? 1 : n));
  if (raw == nullptr) throw std::bad_alloc();
  std::memcpy(raw, &n, sizeof n);
  return static_cast<char*>(raw) + header;
}

void release(void* p) noexcept {
  if (p == nullptr) return;
  char* raw = static_cast<char*>(p) - header;
  std::size_t n = 0;
  std::memcpy(&n, raw, sizeof n);
  const char* m = marker_data.load();
  const std::size_t m_size = marker_size.load();
  if (m != nullptr) {
    block_count.fetch_add(1);
    if (::memmem(p, n, m, m_size) != nullptr) leak_count.fetch_add(1);
  }
  std::free(raw);
}

}  // namespace

void* operator new(std::size_t n) {
  return allocate(n);
}
void* operator new[](std::size_t n) {
  return allocate(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}

namespace mailoauth::test {

freed_memory_scan::freed_memory_scan(std::string_view marker) noexcept {
  leak_count = 0;
  block_count = 0;
  marker_size = marker.size();
  marker_data = marker.data();
}

freed_memory_scan::~freed_memory_scan() {
  marker_data = nullptr;
}

std::size_t freed_memory_scan::leaks() const noexcept {
  return leak_count.load();
}

std::size_t freed_memory_scan::blocks() const noexcept {
  return block_count.load();
}

}  // namespace mailoauth::test
