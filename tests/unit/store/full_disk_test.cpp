// A save that fails half-way (a full disk, a file size limit) leaves the old tokens as they were,
// removes its temporary file, and says which file and what to do.
//
// The disk is filled for real: a 64 KiB tmpfs mounted in a private mount namespace of this test
// process. As root (CI) that is a plain mount namespace; any other user gets one inside a new user
// namespace, where it may mount a tmpfs (as `unshare -rm` does). A machine that allows neither
// fails the tmpfs tests, saying so (issue 8: no skips). The RLIMIT_FSIZE test needs no privilege
// and runs the same code path with EFBIG from write(2) instead of ENOSPC.
#include <mailoauth/store.hpp>

#include "store_test_support.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>

namespace mailoauth::store::test {
namespace {

// The access token of a save that cannot fit.
token_set too_big_for(std::size_t limit) {
  token_set t = sample_tokens();
  t.access_token = secret(token_text(4 * limit, 1));
  return t;
}

void expect_old_tokens_intact(const token_store& store, const fs::path& dir) {
  auto loaded = store.load("acct");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same_tokens(**loaded, sample_tokens());
  EXPECT_TRUE(temp_files(dir).empty()) << "the failed save must remove its temporary file";
  EXPECT_EQ(mode_of(dir / "acct.json"), 0600u);
}

bool write_proc(const char* file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// A user namespace in which this process keeps its uid and gid and holds the capabilities to
// mount in a new mount namespace of its own. Empty on success, else why not.
std::string enter_user_namespace() {
  const auto uid = std::to_string(::getuid());
  const auto gid = std::to_string(::getgid());
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
    return std::string("unshare(CLONE_NEWUSER | CLONE_NEWNS): ") + std::strerror(errno);
  // setgroups must be denied before an unprivileged process may write its gid_map.
  if (!write_proc("/proc/self/setgroups", "deny") ||
      !write_proc("/proc/self/uid_map", uid + " " + uid + " 1\n") ||
      !write_proc("/proc/self/gid_map", gid + " " + gid + " 1\n"))
    return "cannot write the user namespace's uid_map and gid_map";
  return {};
}

// Mounts a tmpfs of `size` on `dir` in a mount namespace private to this process, so that the
// mount can neither leak into the host's namespace nor outlive the test process.
std::string mount_tiny_tmpfs(const fs::path& dir, const char* size) {
  if (::unshare(CLONE_NEWNS) != 0) {
    const std::string plain = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    if (auto why = enter_user_namespace(); !why.empty()) return plain + "; " + why;
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("make / private: ") + std::strerror(errno);
  }
  const std::string options = std::string("size=") + size + ",mode=0700";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    return std::string("mount tmpfs: ") + std::strerror(errno);
  }
  return {};
}

TEST(full_disk, enospc_keeps_the_old_file) {
  scratch_dir scratch;
  const fs::path mount_point = scratch.path() / "disk";
  fs::create_directory(mount_point);
  const auto why = mount_tiny_tmpfs(mount_point, "64k");
  ASSERT_EQ(why, "") << "cannot mount a 64 KiB tmpfs to fill: this test needs root (CAP_SYS_ADMIN) "
                        "or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1"
                        " or user.max_user_namespaces > 0)";
  struct unmount {
    const fs::path& p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount_at_end{mount_point};

  const fs::path dir = mount_point / "tokens";
  for (const bool encrypted : {false, true}) {
    SCOPED_TRACE(encrypted ? "encrypted" : "plaintext");
    std::optional<encryption_key> key;
    if (encrypted) key = *encryption_key::from_material(secret(std::string(32, 'k')));
    const token_store store(dir, key);
    ASSERT_TRUE(store.save("acct", sample_tokens()));

    auto saved = store.save("acct", too_big_for(64 * 1024));
    ASSERT_FALSE(saved) << "a save larger than the file system succeeded";
    const failure& f = saved.error();
    EXPECT_EQ(f.code, errc::store_failed);
    EXPECT_NE(f.message.find((dir / "acct.json").string()), std::string::npos) << f.message;
    EXPECT_NE(f.message.find(std::strerror(ENOSPC)), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("free some disk space"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("previous tokens are unchanged"), std::string::npos) << f.message;
    expect_no_secret(f);
    std::cout << "[ message  ] " << f.message << "\n";
    expect_old_tokens_intact(store, dir);

    // The space the failed write took is given back: a normal save works again at once.
    token_set rotated = sample_tokens();
    rotated.refresh_token = secret(std::string("rotated-after-enospc"));
    ASSERT_TRUE(store.save("acct", rotated));
    auto loaded = store.load("acct");
    ASSERT_TRUE(loaded && loaded->has_value());
    EXPECT_EQ((*loaded)->refresh_token.reveal(), "rotated-after-enospc");
    ASSERT_TRUE(store.save("acct", sample_tokens()));
  }
}

TEST(full_disk, enospc_when_the_disk_is_already_full) {
  // The disk filled up by someone else: even creating the temporary file or writing its first
  // byte fails.
  scratch_dir scratch;
  const fs::path mount_point = scratch.path() / "disk";
  fs::create_directory(mount_point);
  const auto why = mount_tiny_tmpfs(mount_point, "64k");
  ASSERT_EQ(why, "") << "cannot mount a 64 KiB tmpfs to fill: this test needs root (CAP_SYS_ADMIN) "
                        "or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1"
                        " or user.max_user_namespaces > 0)";
  struct unmount {
    const fs::path& p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount_at_end{mount_point};

  const fs::path dir = mount_point / "tokens";
  const token_store store(dir);
  ASSERT_TRUE(store.save("acct", sample_tokens()));
  {
    std::ofstream filler(mount_point / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    for (int i = 0; i < 64 && filler; ++i)
      filler.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
  auto saved = store.save("acct", sample_tokens());
  ASSERT_FALSE(saved);
  EXPECT_NE(saved.error().message.find(std::strerror(ENOSPC)), std::string::npos)
      << saved.error().message;
  EXPECT_NE(saved.error().message.find("acct.json"), std::string::npos);
  expect_old_tokens_intact(store, dir);
  fs::remove(mount_point / "filler");
  EXPECT_TRUE(store.save("acct", sample_tokens()));
}

TEST(full_disk, file_size_limit_keeps_the_old_file) {
  scratch_dir scratch;
  const fs::path dir = scratch.path() / "tokens";
  const token_store store(dir);
  ASSERT_TRUE(store.save("acct", sample_tokens()));

  // Past RLIMIT_FSIZE, write(2) fails with EFBIG once SIGXFSZ (which would kill us) is ignored.
  constexpr rlim_t limit = 16 * 1024;
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  rlimit small = old_limit;
  small.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto saved = store.save("acct", too_big_for(limit));
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::sigaction(SIGXFSZ, &old_action, nullptr);

  ASSERT_FALSE(saved);
  const failure& f = saved.error();
  EXPECT_EQ(f.code, errc::store_failed);
  EXPECT_NE(f.message.find((dir / "acct.json").string()), std::string::npos) << f.message;
  EXPECT_NE(f.message.find(std::strerror(EFBIG)), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("ulimit -f"), std::string::npos) << f.message;
  expect_no_secret(f);
  expect_old_tokens_intact(store, dir);
}

}  // namespace
}  // namespace mailoauth::store::test
