// Encryption at rest: key derivation, AES-256-GCM files, and every way decryption must fail
// (wrong key, modified bytes, a file moved to another account, a missing key).
#include <mailoauth/sasl.hpp>
#include <mailoauth/store.hpp>

#include "store/aes_gcm.hpp"
#include "store_test_support.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace mailoauth::store::test {
namespace {

namespace json = boost::json;

encryption_key key_from(std::string material) {
  auto key = encryption_key::from_material(secret(std::move(material)));
  if (!key) throw std::runtime_error(key.error().message);
  return std::move(*key);
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

TEST(encryption_key, hkdf_sha256_known_answer) {
  // Pins the salt and info: a change would make every encrypted token file undecryptable.
  // Computed independently with `openssl kdf -keylen 32 -kdfopt digest:SHA256
  //   -kdfopt key:0123456789abcdef0123456789abcdef -kdfopt "salt:mailoauth token store"
  //   -kdfopt "info:mailoauth aes-256-gcm key v1" HKDF`.
  const encryption_key key = key_from("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(hex(key.bytes().reveal()),
            "4e50270634e65083af4c5f5a3b9c9230655a8b4c01469ce1c060e94dcc8b5a92");
}

TEST(encryption_key, deterministic_and_distinct) {
  EXPECT_TRUE(key_from("a random keyring secret").bytes() ==
              key_from("a random keyring secret").bytes());
  EXPECT_FALSE(key_from("a random keyring secret").bytes() ==
               key_from("a random keyring secreT").bytes());
  EXPECT_EQ(key_from("sixteen bytes!!!").bytes().size(), 32u);
}

TEST(encryption_key, refuses_short_material) {
  for (std::string material : {std::string(), std::string("s3cr3t"), std::string(15, 'x')}) {
    auto key = encryption_key::from_material(secret(material));
    ASSERT_FALSE(key) << material.size();
    EXPECT_EQ(key.error().code, errc::store_failed);
    EXPECT_NE(key.error().message.find("too short"), std::string::npos);
    if (!material.empty()) {
      EXPECT_EQ(key.error().message.find(material), std::string::npos);
    }
  }
}

class encrypted_store : public ::testing::Test {
 protected:
  token_store make_store(std::optional<encryption_key> key) const {
    return token_store(dir_.path(), std::move(key));
  }
  json::object file_json(const std::string& account = "alice") const {
    return json::parse(read_file(dir_.path() / (account + ".json"))).as_object();
  }
  void write_json(const json::object& doc, const std::string& account = "alice") const {
    write_file(dir_.path() / (account + ".json"), json::serialize(doc));
  }
  // Loading must fail with the "cannot decrypt" message, naming the file and the way out.
  void expect_cannot_decrypt(const std::string& account = "alice") const {
    auto loaded = make_store(key_).load(account);
    ASSERT_FALSE(loaded);
    const failure& f = loaded.error();
    EXPECT_EQ(f.code, errc::store_failed);
    EXPECT_NE(f.message.find("cannot decrypt"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("wrong key_command output, or the file was modified"),
              std::string::npos)
        << f.message;
    EXPECT_NE(f.message.find((dir_.path() / (account + ".json")).string()), std::string::npos);
    EXPECT_NE(f.message.find("mailoauth login " + account), std::string::npos) << f.message;
    expect_no_secret(f);
  }

  scratch_dir dir_;
  encryption_key key_ = key_from("correct horse battery staple, from the keyring");
};

TEST_F(encrypted_store, round_trip) {
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  auto loaded = make_store(key_).load("alice");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same_tokens(**loaded, sample_tokens());
  EXPECT_EQ(mode_of(dir_.path() / "alice.json"), 0600u);
}

TEST_F(encrypted_store, file_format_holds_no_plaintext) {
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  const std::string text = read_file(dir_.path() / "alice.json");
  for (const std::string& s : {sample_access, sample_refresh, sample_id,
                               std::string("user@contoso"), std::string("TOPSECRET")}) {
    EXPECT_EQ(text.find(s), std::string::npos) << s;
  }
  const json::object doc = file_json();
  EXPECT_EQ(doc.size(), 5u);
  EXPECT_EQ(doc.at("version").as_int64(), 1);
  EXPECT_EQ(doc.at("encryption").as_string(), "aes-256-gcm");
  EXPECT_EQ(sasl::base64_decode(doc.at("nonce").as_string())->size(), 12u);
  EXPECT_EQ(sasl::base64_decode(doc.at("tag").as_string())->size(), 16u);
  EXPECT_GT(sasl::base64_decode(doc.at("ciphertext").as_string())->size(), 100u);
}

TEST_F(encrypted_store, decrypts_a_file_made_by_another_implementation) {
  // Made with Python's `cryptography` (AESGCM) and hmac-based HKDF from the material
  // "0123456789abcdef0123456789abcdef", nonce 00..0b, additional data "kat@example.com".
  write_file(dir_.path() / "kat@example.com.json",
             R"({"version":1,"encryption":"aes-256-gcm","nonce":"AAECAwQFBgcICQoL",)"
             R"("ciphertext":"eEd0AJuDj+brfwAqsHP6W8W6mNpQ7XXQlR9dFEHJ/a13oJmFH89cuvmFxqrJJqo+)"
             R"(geFNY+/c8ejnaDHq3hOVRPk+Uik1FhFG2DLAd7Ou4iJoEA335RT92d2KRadEI3o=",)"
             R"("tag":"nv24IvjZyvNKy8ji8G7Buw=="})");
  auto loaded = make_store(key_from("0123456789abcdef0123456789abcdef")).load("kat@example.com");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->access_token.reveal(), "kat-access");
  EXPECT_EQ((*loaded)->refresh_token.reveal(), "kat-refresh");
  EXPECT_EQ((*loaded)->expires_at, 1'700'000'000);
}

TEST_F(encrypted_store, fresh_nonce_for_every_write) {
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  const json::object first = file_json();
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  const json::object second = file_json();
  EXPECT_NE(first.at("nonce"), second.at("nonce"));
  EXPECT_NE(first.at("ciphertext"), second.at("ciphertext"));
}

TEST_F(encrypted_store, wrong_key) {
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  key_ = key_from("another secret, from another keyring");
  expect_cannot_decrypt();
}

TEST_F(encrypted_store, tampered_ciphertext_tag_or_nonce) {
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  const json::object original = file_json();
  for (const char* field : {"ciphertext", "tag", "nonce"}) {
    const std::string bytes = *sasl::base64_decode(original.at(field).as_string());
    for (std::size_t at : {std::size_t{0}, bytes.size() / 2, bytes.size() - 1}) {
      std::string flipped = bytes;
      flipped[at] = static_cast<char>(flipped[at] ^ 0x01);
      json::object doc = original;
      doc[field] = sasl::base64_encode(flipped);
      write_json(doc);
      SCOPED_TRACE(std::string(field) + " byte " + std::to_string(at));
      expect_cannot_decrypt();
    }
  }
  json::object shortened = original;
  const std::string bytes = *sasl::base64_decode(original.at("ciphertext").as_string());
  shortened["ciphertext"] = sasl::base64_encode(bytes.substr(0, bytes.size() - 1));
  write_json(shortened);
  expect_cannot_decrypt();
}

TEST_F(encrypted_store, malformed_envelope) {
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  const json::object original = file_json();
  for (const char* field : {"ciphertext", "tag", "nonce"}) {
    json::object missing = original;
    missing.erase(field);
    write_json(missing);
    auto loaded = make_store(key_).load("alice");
    ASSERT_FALSE(loaded) << field;
    EXPECT_NE(loaded.error().message.find("corrupt"), std::string::npos);

    json::object not_base64 = original;
    not_base64[field] = "%%%%";
    write_json(not_base64);
    EXPECT_FALSE(make_store(key_).load("alice")) << field;
  }
  json::object short_nonce = original;
  short_nonce["nonce"] = sasl::base64_encode("12345678");
  write_json(short_nonce);
  EXPECT_FALSE(make_store(key_).load("alice"));
}

TEST_F(encrypted_store, file_moved_to_another_account_fails) {
  // The account name is the additional data: alice's file under bob's name does not decrypt,
  // so one account can never silently use another's tokens.
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  fs::rename(dir_.path() / "alice.json", dir_.path() / "bob.json");
  expect_cannot_decrypt("bob");
}

TEST_F(encrypted_store, encrypted_file_without_a_key) {
  ASSERT_TRUE(make_store(key_).save("alice", sample_tokens()));
  auto loaded = make_store(std::nullopt).load("alice");
  ASSERT_FALSE(loaded);
  const failure& f = loaded.error();
  EXPECT_EQ(f.code, errc::store_failed);
  EXPECT_NE(f.message.find("is encrypted"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("key_command"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("mailoauth login alice"), std::string::npos) << f.message;
}

TEST_F(encrypted_store, plaintext_file_with_a_key_is_accepted_then_encrypted) {
  // Encryption switched on for an account that already has tokens: no forced login; the next
  // save encrypts.
  ASSERT_TRUE(make_store(std::nullopt).save("alice", sample_tokens()));
  auto loaded = make_store(key_).load("alice");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  expect_same_tokens(**loaded, sample_tokens());
  ASSERT_TRUE(make_store(key_).save("alice", **loaded));
  EXPECT_TRUE(file_json().contains("encryption"));
  auto again = make_store(key_).load("alice");
  ASSERT_TRUE(again && again->has_value());
  expect_same_tokens(**again, sample_tokens());
}

TEST_F(encrypted_store, newer_version_inside_the_encryption) {
  // The decrypted document is versioned too.
  const encryption_key key = key_from("0123456789abcdef0123456789abcdef");
  auto box = detail::seal(key, "alice", R"({"version":9,"access_token":"ACCESS-TOPSECRET"})");
  ASSERT_TRUE(box);
  json::object doc;
  doc["version"] = 1;
  doc["encryption"] = "aes-256-gcm";
  doc["nonce"] = sasl::base64_encode(box->nonce);
  doc["ciphertext"] = sasl::base64_encode(box->ciphertext);
  doc["tag"] = sasl::base64_encode(box->tag);
  write_json(doc);
  auto loaded = make_store(key).load("alice");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("newer mailoauth"), std::string::npos);
  expect_no_secret(loaded.error());
}

TEST(encryption_key, an_empty_key_fails_instead_of_reading_past_it) {
  scratch_dir dir;
  const token_store store(dir.path(), encryption_key{});
  auto saved = store.save("alice", sample_tokens());
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, errc::store_failed);
  EXPECT_FALSE(fs::exists(dir.path() / "alice.json"));
}

}  // namespace
}  // namespace mailoauth::store::test
