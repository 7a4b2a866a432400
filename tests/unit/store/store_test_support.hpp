// Helpers shared by the token store tests: scratch directories, sample token sets, file access.
#pragma once

#include <mailoauth/store.hpp>

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace mailoauth::store::test {

namespace fs = std::filesystem;

/// A fresh directory under $TMPDIR, removed with everything in it when destroyed.
class scratch_dir {
 public:
  scratch_dir() {
    std::string pattern = (fs::temp_directory_path() / "mailoauth-store-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

/// Sets the umask for the scope.
class umask_guard {
 public:
  explicit umask_guard(mode_t mask) : old_(::umask(mask)) {}
  umask_guard(const umask_guard&) = delete;
  umask_guard& operator=(const umask_guard&) = delete;
  ~umask_guard() { ::umask(old_); }

 private:
  mode_t old_;
};

/// Sets or unsets an environment variable for the scope.
class env_guard {
 public:
  env_guard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  env_guard(const env_guard&) = delete;
  env_guard& operator=(const env_guard&) = delete;
  ~env_guard() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// A token-like string of `n` characters, different for each `seed`.
inline std::string token_text(std::size_t n, unsigned seed = 0) {
  static constexpr std::string_view chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = chars[(i * 7 + i / 3 + seed * 13) % chars.size()];
  return out;
}

/// Secrets that must never show up in a failure message.
inline const std::string sample_access = "eyJ0eXAiOiJKV1Q.ACCESS-TOPSECRET.sig";
inline const std::string sample_refresh = "M.C105_BAY.REFRESH-TOPSECRET";
inline const std::string sample_id = "eyJhbGciOiJSUzI1NiJ9.ID-TOPSECRET.sig";

inline token_set sample_tokens() {
  token_set t;
  t.access_token = secret(sample_access);
  t.refresh_token = secret(sample_refresh);
  t.id_token = secret(sample_id);
  t.token_type = "Bearer";
  t.scope = "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access";
  t.expires_at = 1'900'000'000;
  t.refresh_at = 1'899'999'700;
  t.obtained_at = 1'899'996'400;
  t.token_endpoint = "https://login.microsoftonline.com/common/oauth2/v2.0/token";
  t.client_id = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";
  t.username = "user@contoso.onmicrosoft.com";
  return t;
}

inline void expect_same_tokens(const token_set& a, const token_set& b) {
  EXPECT_EQ(a.access_token.reveal(), b.access_token.reveal());
  EXPECT_EQ(a.refresh_token.reveal(), b.refresh_token.reveal());
  EXPECT_EQ(a.id_token.reveal(), b.id_token.reveal());
  EXPECT_EQ(a.token_type, b.token_type);
  EXPECT_EQ(a.scope, b.scope);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.refresh_at, b.refresh_at);
  EXPECT_EQ(a.obtained_at, b.obtained_at);
  EXPECT_EQ(a.token_endpoint, b.token_endpoint);
  EXPECT_EQ(a.client_id, b.client_id);
  EXPECT_EQ(a.username, b.username);
  EXPECT_EQ(a.last_failure.at_ms, b.last_failure.at_ms);
  EXPECT_EQ(a.last_failure.not_before_ms, b.last_failure.not_before_ms);
  EXPECT_EQ(a.last_failure.code, b.last_failure.code);
  EXPECT_EQ(a.last_failure.message, b.last_failure.message);
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

/// The permission bits of a file or directory (not following a symlink).
inline mode_t mode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return static_cast<mode_t>(-1);
  return st.st_mode & 07777;
}

/// Names of the files in `dir`, sorted.
inline std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

/// Temporary files of the store in `dir` (hidden, ending in ".tmp").
inline std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& n : list_dir(dir)) {
    if (n.front() == '.' && n.size() > 4 && n.substr(n.size() - 4) == ".tmp") out.push_back(n);
  }
  return out;
}

/// The failure's message and detail, for checks that no secret leaks into them.
inline std::string failure_text(const failure& f) {
  return f.message + "\n" + f.detail;
}

inline void expect_no_secret(const failure& f) {
  const std::string text = failure_text(f);
  for (const auto& s : {sample_access, sample_refresh, sample_id}) {
    EXPECT_EQ(text.find(s), std::string::npos) << "a secret leaked into: " << f.message;
  }
  EXPECT_EQ(text.find("TOPSECRET"), std::string::npos) << f.message;
}

}  // namespace mailoauth::store::test
