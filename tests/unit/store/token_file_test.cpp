// Token files that cannot be used: corrupt, truncated, of another type, from a newer version.
// Each failure names the file, says what to do, and never quotes a credential.
#include <mailoauth/store.hpp>

#include "store_test_support.hpp"

#include <gtest/gtest.h>

namespace mailoauth::store::test {
namespace {

class token_file : public ::testing::Test {
 protected:
  failure load_failure(std::string_view content) {
    write_file(file_, content);
    auto loaded = token_store(dir_.path()).load("acct");
    EXPECT_FALSE(loaded) << "loaded: " << content;
    if (loaded) return {};
    const failure& f = loaded.error();
    EXPECT_EQ(f.code, errc::store_failed);
    EXPECT_NE(f.message.find(file_.string()), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("mailoauth login acct"), std::string::npos) << f.message;
    expect_no_secret(f);
    return f;
  }

  std::string valid_file() {
    EXPECT_TRUE(token_store(dir_.path()).save("acct", sample_tokens()));
    return read_file(file_);
  }

  scratch_dir dir_;
  fs::path file_ = dir_.path() / "acct.json";
};

TEST_F(token_file, corrupt_json) {
  const failure f = load_failure("{not json at all");
  EXPECT_NE(f.message.find("not valid JSON"), std::string::npos) << f.message;
  load_failure("");
  load_failure(std::string_view("\x00\x01\x02", 3));
  load_failure(R"({"version":1,"access_token":"ACCESS-TOPSECRET"} trailing)");
}

TEST_F(token_file, every_truncation_of_a_valid_file_fails_cleanly) {
  // What a non-atomic writer would leave after a crash: every prefix must be refused, none may
  // crash the parser or come back as tokens.
  const std::string whole = valid_file();
  for (std::size_t n = 0; n + 1 < whole.size(); ++n) {
    // The last byte is the newline: without it the document is still complete.
    load_failure(std::string_view(whole).substr(0, n));
    if (HasFailure()) break;
  }
}

TEST_F(token_file, not_an_object) {
  EXPECT_NE(load_failure("[1,2,3]").message.find("not a JSON object"), std::string::npos);
  load_failure("\"ACCESS-TOPSECRET\"");
  load_failure("null");
}

TEST_F(token_file, fields_of_the_wrong_type) {
  const failure f = load_failure(R"({"version":1,"access_token":42})");
  EXPECT_NE(f.message.find("access_token"), std::string::npos) << f.message;
  const failure g =
      load_failure(R"({"version":1,"access_token":"ACCESS-TOPSECRET","expires_at":"soon"})");
  EXPECT_NE(g.message.find("expires_at"), std::string::npos) << g.message;
  load_failure(R"({"version":1,"refresh_token":["REFRESH-TOPSECRET"]})");
  load_failure(R"({"version":1,"expires_at":1.5})");
  load_failure(R"({"version":1,"expires_at":18446744073709551615})");
}

TEST_F(token_file, missing_or_invalid_version) {
  EXPECT_NE(load_failure(R"({"access_token":"ACCESS-TOPSECRET"})").message.find("version"),
            std::string::npos);
  load_failure(R"({"version":"1","access_token":"ACCESS-TOPSECRET"})");
  load_failure(R"({"version":0,"access_token":"ACCESS-TOPSECRET"})");
  load_failure(R"({"version":-3})");
  load_failure(R"({"version":1.0})");
}

TEST_F(token_file, unknown_future_version) {
  const failure f = load_failure(R"({"version":2,"access_token":"ACCESS-TOPSECRET","new":{}})");
  EXPECT_NE(f.message.find("newer mailoauth"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("version 2"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("upgrade mailoauth"), std::string::npos) << f.message;
  // A future version may change anything, even the meaning of "encryption".
  load_failure(R"({"version":7,"encryption":"aes-512-xyz","ciphertext":"AAAA"})");
}

TEST_F(token_file, unknown_encryption) {
  const failure f = load_failure(R"({"version":1,"encryption":"rot13","ciphertext":"AAAA"})");
  EXPECT_NE(f.message.find("encryption"), std::string::npos) << f.message;
  load_failure(R"({"version":1,"encryption":7})");
}

TEST_F(token_file, messages_are_single_lines) {
  const failure f = load_failure("{\"version\":1,\n\"access_token\":\n");
  EXPECT_EQ(f.message.find('\n'), std::string::npos) << f.message;
}

}  // namespace
}  // namespace mailoauth::store::test
