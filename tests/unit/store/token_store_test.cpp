// The token store's plaintext files: round trip, layout, file modes whatever the umask, account
// names, removal, the default directory and the cleanup of temporary files.
#include <mailoauth/store.hpp>

#include "store/atomic_file.hpp"
#include "store_test_support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>
#include <boost/json/parse.hpp>

#include <cstdio>

namespace mailoauth::store::test {
namespace {

namespace json = boost::json;

TEST(token_store, round_trip_plaintext) {
  scratch_dir dir;
  const token_store store(dir.path());
  ASSERT_TRUE(store.save("user@contoso.com", sample_tokens()));
  auto loaded = store.load("user@contoso.com");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same_tokens(**loaded, sample_tokens());
}

TEST(token_store, round_trip_keeps_the_last_failed_refresh) {
  scratch_dir dir;
  const token_store store(dir.path());
  auto t = sample_tokens();
  t.last_failure.at_ms = 1'899'999'800'123;
  t.last_failure.not_before_ms = 1'899'999'815'123;
  t.last_failure.code = 305;
  t.last_failure.message = "refreshing the token failed: the identity platform answered HTTP 503";
  ASSERT_TRUE(store.save("acct", t));
  auto loaded = store.load("acct");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same_tokens(**loaded, t);
  // A success (or a new sign-in) saves a record without it, and the failure is gone.
  ASSERT_TRUE(store.save("acct", sample_tokens()));
  EXPECT_EQ(store.load("acct").value()->last_failure.at_ms, 0);
  EXPECT_EQ(read_file(dir.path() / "acct.json").find("last_failure"), std::string::npos);
}

TEST(token_store, round_trip_keeps_awkward_strings) {
  scratch_dir dir;
  const token_store store(dir.path());
  token_set t;
  t.access_token = secret(std::string("quote\" backslash\\ nul\0 ctrl\x01 utf8 \xc3\xa9", 37));
  t.refresh_token = secret(token_text(20000));
  t.scope = "\n\t";
  t.expires_at = -1;
  t.refresh_at = INT64_MAX;
  t.obtained_at = INT64_MIN;
  ASSERT_TRUE(store.save("a", t));
  auto loaded = store.load("a");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same_tokens(**loaded, t);
}

TEST(token_store, missing_file_is_no_tokens) {
  scratch_dir dir;
  auto in_existing = token_store(dir.path()).load("nobody");
  ASSERT_TRUE(in_existing);
  EXPECT_FALSE(in_existing->has_value());
  auto in_missing_dir = token_store(dir.path() / "not" / "there").load("nobody");
  ASSERT_TRUE(in_missing_dir);
  EXPECT_FALSE(in_missing_dir->has_value());
  EXPECT_FALSE(fs::exists(dir.path() / "not")) << "load must not create the directory";
}

TEST(token_store, file_layout) {
  scratch_dir dir;
  const token_store store(dir.path());
  ASSERT_TRUE(store.save("alice", sample_tokens()));
  EXPECT_EQ(store.file_for("alice"), dir.path() / "alice.json");
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"alice.json"});

  const json::value doc = json::parse(read_file(dir.path() / "alice.json"));
  const json::object& o = doc.as_object();
  EXPECT_EQ(o.at("version").as_int64(), 1);
  // Plaintext mode: the secrets are in the file as they are (the file is 0600 in a 0700 dir).
  EXPECT_EQ(o.at("access_token").as_string(), sample_access);
  EXPECT_EQ(o.at("refresh_token").as_string(), sample_refresh);
  EXPECT_EQ(o.at("id_token").as_string(), sample_id);
  EXPECT_EQ(o.at("token_type").as_string(), "Bearer");
  EXPECT_EQ(o.at("expires_at").as_int64(), 1'900'000'000);
  EXPECT_EQ(o.at("client_id").as_string(), "9e5f94bc-e8a4-4e73-b8be-63364c29d753");
  EXPECT_FALSE(o.contains("encryption"));
}

TEST(token_store, reads_what_a_later_minor_change_adds) {
  // Unknown fields in a version-1 file are ignored; missing ones take their defaults.
  scratch_dir dir;
  write_file(dir.path() / "a.json",
             R"({"version":1,"access_token":"x","future_field":[1,2],"expires_at":5})");
  auto loaded = token_store(dir.path()).load("a");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->access_token.reveal(), "x");
  EXPECT_EQ((*loaded)->expires_at, 5);
  EXPECT_EQ((*loaded)->token_type, "Bearer");
  EXPECT_TRUE((*loaded)->refresh_token.empty());
}

TEST(token_store, save_replaces_the_old_tokens) {
  scratch_dir dir;
  const token_store store(dir.path());
  ASSERT_TRUE(store.save("a", sample_tokens()));
  token_set rotated = sample_tokens();
  rotated.refresh_token = secret(std::string("rotated"));
  ASSERT_TRUE(store.save("a", rotated));
  auto loaded = store.load("a");
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ((*loaded)->refresh_token.reveal(), "rotated");
  EXPECT_TRUE(temp_files(dir.path()).empty());
}

class token_store_umask : public ::testing::TestWithParam<mode_t> {};

TEST_P(token_store_umask, modes_are_0600_and_0700_whatever_the_umask) {
  scratch_dir scratch;
  const fs::path dir = scratch.path() / "state" / "mailoauth" / "tokens";
  umask_guard mask(GetParam());
  const token_store store(dir);
  ASSERT_TRUE(store.save("a", sample_tokens()));
  EXPECT_EQ(mode_of(dir / "a.json"), 0600u);
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir.parent_path()), 0700u) << "created parents are private too";
  EXPECT_EQ(mode_of(dir.parent_path().parent_path()), 0700u);
  auto lock = store.lock("a", std::chrono::milliseconds(0));
  ASSERT_TRUE(lock) << lock.error().message;
  EXPECT_EQ(mode_of(dir / "a.lock"), 0600u);
}

INSTANTIATE_TEST_SUITE_P(umasks, token_store_umask,
                         ::testing::Values(mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0777}),
                         [](const ::testing::TestParamInfo<mode_t>& param_info) {
                           char name[16];
                           std::snprintf(name, sizeof name, "umask_%04o", param_info.param);
                           return std::string(name);
                         });

TEST(token_store, load_tightens_a_loose_file) {
  scratch_dir dir;
  const token_store store(dir.path());
  ASSERT_TRUE(store.save("a", sample_tokens()));
  ASSERT_EQ(::chmod((dir.path() / "a.json").c_str(), 0644), 0);
  auto loaded = store.load("a");
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ(mode_of(dir.path() / "a.json"), 0600u);
}

TEST(token_store, lock_directory_is_created_too) {
  scratch_dir scratch;
  const token_store store(scratch.path() / "new");
  auto lock = store.lock("a", std::chrono::milliseconds(0));
  ASSERT_TRUE(lock) << lock.error().message;
  EXPECT_EQ(mode_of(scratch.path() / "new"), 0700u);
}

TEST(token_store, accepts_usual_account_names) {
  scratch_dir dir;
  const token_store store(dir.path());
  for (const std::string& name : std::vector<std::string>{"user@contoso.onmicrosoft.com", "a",
                                                          "work", "first.last+mail@example.co.uk",
                                                          "x_y-z", "9", std::string(200, 'a')}) {
    EXPECT_TRUE(store.save(name, sample_tokens())) << name;
    auto loaded = store.load(name);
    EXPECT_TRUE(loaded && loaded->has_value()) << name;
    EXPECT_TRUE(store.remove(name)) << name;
  }
}

TEST(token_store, refuses_invalid_account_names) {
  scratch_dir scratch;
  const fs::path dir = scratch.path() / "tokens";
  const token_store store(dir);
  for (const std::string& name : std::vector<std::string>{
           std::string(), std::string("."), std::string(".."), std::string(".hidden"),
           std::string("a/b"), std::string("../escape"), std::string("/abs"), std::string("a b"),
           std::string("tab\there"), std::string("new\nline"), std::string("caf\xc3\xa9"),
           std::string("nul\0x", 5), std::string("a*"), std::string("a:b"),
           std::string(201, 'a')}) {
    auto saved = store.save(name, sample_tokens());
    ASSERT_FALSE(saved) << name;
    EXPECT_EQ(saved.error().code, errc::invalid_argument);
    if (!name.empty()) {
      EXPECT_NE(saved.error().message.find("invalid account name"), std::string::npos);
    }
    EXPECT_FALSE(store.load(name)) << name;
    EXPECT_FALSE(store.remove(name)) << name;
    EXPECT_FALSE(store.lock(name, std::chrono::milliseconds(0))) << name;
  }
  EXPECT_FALSE(fs::exists(dir)) << "nothing may be written for an invalid name";
  EXPECT_FALSE(fs::exists(scratch.path() / "escape.json"));
}

TEST(token_store, invalid_name_message_is_one_printable_line) {
  auto saved = token_store("/nonexistent").save("evil\n\x1b[31mname", sample_tokens());
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(saved.error().message.find('\x1b'), std::string::npos);
}

TEST(token_store, remove_deletes_the_file_and_tolerates_none) {
  scratch_dir dir;
  const token_store store(dir.path());
  ASSERT_TRUE(store.save("a", sample_tokens()));
  ASSERT_TRUE(store.save("b", sample_tokens()));
  EXPECT_TRUE(store.remove("a"));
  EXPECT_FALSE(fs::exists(dir.path() / "a.json"));
  auto loaded = store.load("a");
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->has_value());
  EXPECT_TRUE(store.remove("a")) << "removing twice is fine";
  EXPECT_TRUE(token_store(dir.path() / "missing").remove("a")) << "no directory is fine";
  EXPECT_TRUE(fs::exists(dir.path() / "b.json")) << "other accounts untouched";
}

TEST(token_store, default_dir_follows_xdg) {
  {
    env_guard state("XDG_STATE_HOME", "/xdg/state");
    EXPECT_EQ(token_store::default_dir(), fs::path("/xdg/state/mailoauth/tokens"));
  }
  {
    env_guard state("XDG_STATE_HOME", nullptr);
    env_guard home("HOME", "/home/u");
    EXPECT_EQ(token_store::default_dir(), fs::path("/home/u/.local/state/mailoauth/tokens"));
  }
  {
    // The XDG spec: a relative path in $XDG_STATE_HOME is invalid and must be ignored.
    env_guard state("XDG_STATE_HOME", "relative/state");
    env_guard home("HOME", "/home/u");
    EXPECT_EQ(token_store::default_dir(), fs::path("/home/u/.local/state/mailoauth/tokens"));
  }
  {
    env_guard state("XDG_STATE_HOME", "");
    env_guard home("HOME", nullptr);
    const fs::path dir = token_store::default_dir();
    EXPECT_TRUE(dir.is_absolute()) << dir << " (from the password database)";
    EXPECT_EQ(dir.filename(), "tokens");
  }
}

TEST(token_store, temporary_file_names) {
  EXPECT_TRUE(detail::is_temporary_name(".a.json.0123456789abcdef.tmp"));
  EXPECT_TRUE(detail::is_temporary_name(".user@x.org.json.ffffffffffffffff.tmp"));
  EXPECT_FALSE(detail::is_temporary_name("a.json"));
  EXPECT_FALSE(detail::is_temporary_name(".a.json.0123456789ABCDEF.tmp"));
  EXPECT_FALSE(detail::is_temporary_name(".a.json.0123456789abcde.tmp"));
  EXPECT_FALSE(detail::is_temporary_name(".a.lock.0123456789abcdef.tmp"));
  EXPECT_FALSE(detail::is_temporary_name("..json.0123456789abcdef.tmp"));
  EXPECT_FALSE(detail::is_temporary_name("..a.json.0123456789abcdef.tmp"));
  EXPECT_FALSE(detail::is_temporary_name(".a.json.0123456789abcdef.tmp~"));
  EXPECT_FALSE(detail::is_temporary_name(".mine.tmp"));
}

TEST(token_store, save_removes_dead_writers_temporaries_but_not_live_ones) {
  scratch_dir dir;
  const fs::path dead = dir.path() / ".b.json.00000000000000aa.tmp";
  const fs::path live = dir.path() / ".c.json.00000000000000bb.tmp";
  const fs::path foreign = dir.path() / ".notes.tmp";
  write_file(dead, "{\"version\":1,\"access_");
  write_file(live, "{\"version\":1,\"access_");
  write_file(foreign, "not ours");
  // A writer in progress holds a flock on its temporary file: another open file description
  // (even in this process) conflicts with it, exactly as another process would.
  const int live_fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(live_fd, 0);
  ASSERT_EQ(::flock(live_fd, LOCK_EX), 0);

  ASSERT_TRUE(token_store(dir.path()).save("a", sample_tokens()));
  EXPECT_FALSE(fs::exists(dead)) << "a temporary file nobody holds is a dead writer's";
  EXPECT_TRUE(fs::exists(live)) << "a locked temporary file is a live writer's";
  EXPECT_TRUE(fs::exists(foreign)) << "files that are not ours are left alone";
  ::close(live_fd);

  ASSERT_TRUE(token_store(dir.path()).save("a", sample_tokens()));
  EXPECT_FALSE(fs::exists(live)) << "once its writer is gone, it goes too";
}

TEST(token_store, refuses_a_symlink_and_a_directory_in_place_of_the_file) {
  scratch_dir dir;
  const token_store store(dir.path());
  ASSERT_TRUE(store.save("real", sample_tokens()));
  fs::create_symlink(dir.path() / "real.json", dir.path() / "link.json");
  auto via_link = store.load("link");
  ASSERT_FALSE(via_link);
  EXPECT_EQ(via_link.error().code, errc::store_failed);
  EXPECT_NE(via_link.error().message.find("link.json"), std::string::npos);
  EXPECT_NE(via_link.error().message.find("symbolic link"), std::string::npos);

  fs::create_directory(dir.path() / "dir.json");
  auto dir_file = store.load("dir");
  ASSERT_FALSE(dir_file);
  EXPECT_NE(dir_file.error().message.find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace mailoauth::store::test
