// A writer killed at any moment never leaves a truncated, mixed or world-readable token file
// (issue 3: "a writer killed in the middle never leaves a truncated or world-readable token
// file"). A child saves large token sets in a loop and is SIGKILLed at random moments, 200 times;
// after each kill the file, if there is one, must load completely and consistently, be 0600, and
// at most one temporary file (the killed save's) may be left over: each save removes the
// temporary files of dead writers before it writes its own.
#include <mailoauth/store.hpp>

#include "process_support.hpp"
#include "store_test_support.hpp"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <iostream>
#include <random>

namespace mailoauth::store::test {
namespace {

constexpr std::size_t access_size = 128 * 1024;
constexpr std::size_t id_size = 32 * 1024;
constexpr int kills = 200;

// Save number `i`: every field derives from i, so a file that mixed two saves is detectable.
token_set big_tokens(std::int64_t i) {
  const auto seed = static_cast<unsigned>(i % 61);
  token_set t;
  t.access_token = secret(token_text(access_size, seed));
  t.refresh_token = secret("rt-" + std::to_string(i) + "-" + token_text(4096, seed + 1));
  t.id_token = secret(token_text(id_size, seed + 2));
  t.scope = "iteration " + std::to_string(i);
  t.obtained_at = i;
  t.expires_at = i + 3600;
  return t;
}

::testing::AssertionResult consistent(const token_set& t) {
  const token_set expected = big_tokens(t.obtained_at);
  if (t.access_token == expected.access_token && t.refresh_token == expected.refresh_token &&
      t.id_token == expected.id_token && t.scope == expected.scope &&
      t.expires_at == expected.expires_at) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "the token file mixes saves (obtained_at "
                                       << t.obtained_at << ", scope \"" << t.scope << "\")";
}

void sleep_for_us(long us) {
  timespec ts{us / 1'000'000, (us % 1'000'000) * 1000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void kill_writers(const std::optional<encryption_key>& key) {
  scratch_dir scratch;
  const fs::path dir = scratch.path() / "tokens";
  const token_store store(dir, key);

  // Kill within about two saves' time after the fork, so that kills land before the first save,
  // inside saves (before and after the rename) and between them.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store.save("acct", big_tokens(i)));
  const auto per_save = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start) /
                        5;
  ASSERT_TRUE(store.remove("acct"));
  const long window_us = 500 + 2 * static_cast<long>(per_save.count());

  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  std::uniform_int_distribution<long> delay(0, window_us);
  int with_file = 0;
  int with_temp = 0;
  std::int64_t next = 1000;
  for (int round = 0; round < kills; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    const std::int64_t first = next;
    const pid_t child = spawn([&] {
      const token_store writer(dir, key);
      for (std::int64_t i = first;; ++i) {
        if (!writer.save("acct", big_tokens(i))) return 3;
      }
    });
    ASSERT_GT(child, 0);
    sleep_for_us(delay(random));
    ::kill(child, SIGKILL);
    ASSERT_EQ(wait_for(child), 128 + SIGKILL) << "the writer failed instead of being killed";
    next += 100'000;

    const auto temps = temp_files(dir);
    EXPECT_LE(temps.size(), 1u) << "temporary files accumulate";
    with_temp += temps.empty() ? 0 : 1;
    for (const auto& name : list_dir(dir)) {
      EXPECT_TRUE(name == "acct.json" || (!temps.empty() && name == temps.front()))
          << "unexpected file " << name;
    }
    if (fs::exists(dir / "acct.json")) {
      ++with_file;
      EXPECT_EQ(mode_of(dir / "acct.json"), 0600u);
      auto loaded = store.load("acct");
      ASSERT_TRUE(loaded) << loaded.error().message;
      ASSERT_TRUE(loaded->has_value());
      EXPECT_TRUE(consistent(**loaded));
    }
    if (::testing::Test::HasFailure()) break;
  }
  std::cout << "[ stats    ] " << kills << " kills within " << window_us
            << " us: token file present " << with_file
            << " times, a killed save's temporary file left " << with_temp << " times (seed "
            << seed << ")\n";
  // The kills must have hit saves in flight, or the test proved nothing.
  EXPECT_GT(with_temp, 0);
  EXPECT_GT(with_file, 0);

  // The next save cleans up after the last killed writer.
  ASSERT_TRUE(store.save("acct", big_tokens(1)));
  EXPECT_TRUE(temp_files(dir).empty());
  auto loaded = store.load("acct");
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_TRUE(consistent(**loaded));
}

TEST(killed_writer, plaintext) {
  kill_writers(std::nullopt);
}

TEST(killed_writer, encrypted) {
  kill_writers(*encryption_key::from_material(secret(std::string("0123456789abcdef-kill"))));
}

}  // namespace
}  // namespace mailoauth::store::test
