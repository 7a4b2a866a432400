// Processes that refresh at the same time: with the refresh lock around load, modify, save, no
// update is lost (a lost update is a lost rotated refresh token), and a reader never sees a
// partial file while a writer replaces it.
#include <mailoauth/store.hpp>

#include "process_support.hpp"
#include "store_test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace mailoauth::store::test {
namespace {

constexpr int processes = 8;
constexpr int increments = 25;

// One "refresh": lock, load, bump the counter and rotate the refresh token, save, unlock.
int increment_loop(const fs::path& dir, const std::optional<encryption_key>& key, int gate_fd) {
  char c = 0;
  if (::read(gate_fd, &c, 1) < 0) return 10;  // wait until every process is ready
  const token_store store(dir, key);
  for (int i = 0; i < increments; ++i) {
    auto lock = store.lock("acct", std::chrono::seconds(60));
    if (!lock) return 1;
    auto loaded = store.load("acct");
    if (!loaded || !loaded->has_value()) return 2;
    token_set t = std::move(**loaded);
    if (t.refresh_token.reveal() != "rt-" + std::to_string(t.obtained_at)) return 4;
    t.obtained_at += 1;
    t.refresh_token = secret("rt-" + std::to_string(t.obtained_at));
    if (!store.save("acct", t)) return 3;
  }
  return 0;
}

void run_counter(const std::optional<encryption_key>& key) {
  scratch_dir scratch;
  const fs::path dir = scratch.path() / "tokens";
  const token_store store(dir, key);
  token_set start = sample_tokens();
  start.obtained_at = 0;
  start.refresh_token = secret(std::string("rt-0"));
  ASSERT_TRUE(store.save("acct", start));

  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < processes; ++p) {
    children.push_back(spawn([&] {
      ::close(gate[1]);
      return increment_loop(dir, key, gate[0]);
    }));
    ASSERT_GT(children.back(), 0);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // EOF on the gate: all start at once
  for (pid_t child : children) EXPECT_EQ(wait_for(child), 0) << "child " << child;

  auto loaded = store.load("acct");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->obtained_at, processes * increments) << "updates were lost";
  EXPECT_EQ((*loaded)->refresh_token.reveal(), "rt-" + std::to_string(processes * increments));
  EXPECT_EQ((*loaded)->access_token.reveal(), sample_access);
  EXPECT_TRUE(temp_files(dir).empty());
}

TEST(concurrency, no_lost_updates_plaintext) {
  run_counter(std::nullopt);
}

TEST(concurrency, no_lost_updates_encrypted) {
  run_counter(*encryption_key::from_material(secret(std::string("0123456789abcdef-count"))));
}

TEST(concurrency, readers_never_see_a_partial_file) {
  scratch_dir scratch;
  const fs::path dir = scratch.path() / "tokens";
  const token_store store(dir);
  token_set a = sample_tokens();
  a.access_token = secret(token_text(64 * 1024, 1));
  a.scope = "a";
  token_set b = sample_tokens();
  b.access_token = secret(token_text(32 * 1024, 2));
  b.scope = "b";
  ASSERT_TRUE(store.save("acct", a));

  const pid_t writer = spawn([&] {
    const token_store w(dir);
    for (int i = 0; i < 300; ++i) {
      if (!w.save("acct", i % 2 == 0 ? b : a)) return 3;
    }
    return 0;
  });
  ASSERT_GT(writer, 0);
  int loads = 0;
  int status = -1;
  for (;;) {
    const pid_t done = ::waitpid(writer, &status, WNOHANG);
    auto loaded = store.load("acct");
    ++loads;
    ASSERT_TRUE(loaded) << loaded.error().message;
    ASSERT_TRUE(loaded->has_value());
    const token_set& t = **loaded;
    ASSERT_TRUE(t.scope == "a" || t.scope == "b");
    ASSERT_TRUE(t.access_token == (t.scope == "a" ? a.access_token : b.access_token));
    if (done == writer) break;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(loads, 10);
}

}  // namespace
}  // namespace mailoauth::store::test
