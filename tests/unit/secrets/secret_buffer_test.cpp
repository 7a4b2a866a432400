// secret_buffer and secret_fields: strings and maps that wipe every block they free, and the
// heap scan that the other tests of this program rely on.
#include "common/secret_buffer.hpp"

#include "freed_memory.hpp"

#include <gtest/gtest.h>

#include <new>
#include <string>
#include <utility>

namespace mailoauth::detail {
namespace {

using test::freed_memory_scan;

constexpr std::string_view marker = "MARKER-b2f1c7e4";

TEST(freed_memory_scan, sees_a_plain_string_that_is_not_wiped) {
  // The control: without it, "no leaks" below could mean a scan that sees nothing.
  freed_memory_scan scan(marker);
  {
    std::string plain(marker);
    plain.append(64, 'x');  // past the in-object buffer: the block is on the heap
  }
  EXPECT_EQ(scan.leaks(), 1u);
  EXPECT_GE(scan.blocks(), 1u);
}

TEST(freed_memory_scan, a_wiped_string_leaves_nothing) {
  freed_memory_scan scan(marker);
  {
    std::string plain(marker);
    plain.append(64, 'x');
    plain.resize(4);  // the marker's tail is past the end now: wipe() must take the capacity
    wipe(plain);
    plain.shrink_to_fit();
  }
  EXPECT_EQ(scan.leaks(), 0u);
}

TEST(secret, its_buffer_is_wiped_when_destroyed_and_when_reassigned) {
  freed_memory_scan scan(marker);
  {
    std::string value(marker);
    value.append(64, 'x');
    secret s(std::move(value));
    secret t(s);
    t = secret(std::string("another value that is long enough for the heap"));
    secret u(std::move(s));
  }
  EXPECT_EQ(scan.leaks(), 0u);
  EXPECT_GE(scan.blocks(), 3u);
}

TEST(secret_buffer, wipes_what_it_frees_when_it_grows_and_when_it_goes) {
  freed_memory_scan scan(marker);
  std::size_t grew = 0;
  {
    secret_buffer b;
    b.append(marker);
    const auto* first = b.data();
    for (int k = 0; k < 100; ++k) b.append("0123456789abcdef");
    grew = first != b.data() ? 1 : 0;
    secret_buffer copy(b);
    secret_buffer moved(std::move(copy));
    moved.resize(3);  // shortened: the destructor still takes the whole capacity
  }
  EXPECT_EQ(grew, 1u);
  EXPECT_EQ(scan.leaks(), 0u);
  EXPECT_GE(scan.blocks(), 3u);
}

TEST(secret_buffer, wipes_its_in_object_bytes) {
  // A short value lives inside the object (no heap block): the destructor wipes it there too.
  alignas(secret_buffer) unsigned char storage[sizeof(secret_buffer)];
  auto* b = new (storage) secret_buffer("short");
  const auto* inside = reinterpret_cast<const unsigned char*>(b->data());
  ASSERT_TRUE(inside >= storage && inside < storage + sizeof storage);  // not on the heap
  b->~secret_buffer();
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(storage), sizeof storage).find("short"),
            std::string_view::npos);
}

TEST(secret_buffer, compares_with_every_string_type) {
  const secret_buffer b("abc");
  EXPECT_TRUE(b == "abc");
  EXPECT_TRUE(b == std::string("abc"));
  EXPECT_TRUE(b == std::string_view("abc"));
  EXPECT_TRUE(b == secret_buffer("abc"));
  EXPECT_TRUE(std::string("abc") == b);
  EXPECT_TRUE(b != "abd");
  EXPECT_TRUE(b != std::string("ab"));
  EXPECT_EQ(b.view(), "abc");
  EXPECT_EQ(b.find('c'), 2u);
}

TEST(secret_fields, wipes_every_value_when_it_goes) {
  freed_memory_scan scan(marker);
  {
    secret_fields f;
    std::string code(marker);
    code.append(64, 'c');
    f.emplace("code", std::move(code));
    f.emplace("state", "not a secret, and short");
    secret_fields copy(f);
    secret_fields moved(std::move(copy));
    secret_fields assigned;
    assigned = moved;
    assigned = secret_fields{};  // the copy's values are wiped before they are replaced
  }
  EXPECT_EQ(scan.leaks(), 0u);
}

TEST(secret_fields, clear_wipes_and_empties) {
  freed_memory_scan scan(marker);
  secret_fields f;
  std::string token(marker);
  token.append(64, 't');
  f["access_token"] = std::move(token);
  f.clear();
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(scan.leaks(), 0u);
}

}  // namespace
}  // namespace mailoauth::detail
