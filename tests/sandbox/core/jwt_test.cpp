// The sandbox's access tokens: what the mail servers accept and refuse, including the forgeries
// that a JWT library's defaults let through.
#include "sandbox/core/jwt.hpp"
#include "sandbox/core/pki.hpp"

#include <gtest/gtest.h>
#include <jwt.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace mailoauth::sandbox {
namespace {

namespace fs = std::filesystem;

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "mailoauth-jwt-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const pki& shared_pki() {
  static temp_dir dir;
  static const pki keys = load_or_create_pki(dir.path() / "state").value();
  return keys;
}

access_claims delegated(std::int64_t now) {
  access_claims c;
  c.issuer = "https://sts.windows.net/00000000-0000-0000-0000-000000000001/";
  c.audience = "https://outlook.office365.com";
  c.tenant_id = "00000000-0000-0000-0000-000000000001";
  c.client_id = "11111111-1111-1111-1111-111111111111";
  c.object_id = "22222222-2222-2222-2222-222222222222";
  c.username = "test@contoso.onmicrosoft.com";
  c.scopes = {"IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send"};
  c.issued_at = now;
  c.not_before = now;
  c.expires_at = now + 3600;
  return c;
}

constexpr std::int64_t now = 1'900'000'000;

TEST(sandbox_jwt, signed_token_verifies_with_every_claim) {
  const auto& k = shared_pki().token_key;
  auto token = sign_access_token(k, delegated(now));
  ASSERT_TRUE(token) << token.error().message;
  auto claims = verify_access_token(*token, k.public_pem, now + 10);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->audience, "https://outlook.office365.com");
  EXPECT_EQ(claims->username, "test@contoso.onmicrosoft.com");
  EXPECT_EQ(claims->scopes, (std::vector<std::string>{"IMAP.AccessAsUser.All",
                                                      "POP.AccessAsUser.All", "SMTP.Send"}));
  EXPECT_TRUE(claims->roles.empty());
  EXPECT_EQ(claims->expires_at, now + 3600);
  EXPECT_EQ(claims->client_id, "11111111-1111-1111-1111-111111111111");
}

TEST(sandbox_jwt, two_tokens_with_the_same_claims_differ) {
  const auto& k = shared_pki().token_key;
  EXPECT_NE(sign_access_token(k, delegated(now)).value(),
            sign_access_token(k, delegated(now)).value());
}

TEST(sandbox_jwt, app_only_token_carries_roles_as_an_array) {
  const auto& k = shared_pki().token_key;
  auto c = delegated(now);
  c.username.clear();
  c.scopes.clear();
  c.roles = {"IMAP.AccessAsApp", "SMTP.SendAsApp"};
  auto token = sign_access_token(k, c);
  ASSERT_TRUE(token);
  auto claims = verify_access_token(*token, k.public_pem, now);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->roles, (std::vector<std::string>{"IMAP.AccessAsApp", "SMTP.SendAsApp"}));
  EXPECT_TRUE(claims->username.empty());
}

TEST(sandbox_jwt, expired_and_not_yet_valid_tokens_are_refused) {
  const auto& k = shared_pki().token_key;
  auto token = sign_access_token(k, delegated(now)).value();
  auto late = verify_access_token(token, k.public_pem, now + 3600);
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("expired"), std::string::npos);
  EXPECT_TRUE(verify_access_token(token, k.public_pem, now + 3599));
  auto early = verify_access_token(token, k.public_pem, now - 600);
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message.find("not valid yet"), std::string::npos);
  EXPECT_TRUE(verify_access_token(token, k.public_pem, now + 3600 + 30, 60));
}

TEST(sandbox_jwt, token_signed_by_another_key_is_refused) {
  temp_dir other;
  const auto other_keys = load_or_create_pki(other.path()).value();
  auto token = sign_access_token(other_keys.token_key, delegated(now)).value();
  auto r = verify_access_token(token, shared_pki().token_key.public_pem, now);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("signature"), std::string::npos);
  EXPECT_EQ(r.error().message.find(token), std::string::npos) << "the token is quoted";
}

TEST(sandbox_jwt, tampered_payload_is_refused) {
  const auto& k = shared_pki().token_key;
  auto token = sign_access_token(k, delegated(now)).value();
  // Flip one character of the payload (between the two dots).
  const auto dot = token.find('.');
  token[dot + 5] = token[dot + 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_access_token(token, k.public_pem, now));
}

struct jwt_free_deleter {
  void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};

// The forgery libjwt 1.10 would accept if it were given the key first: HS256 with the PEM of the
// public key (which anyone can fetch from the JWKS endpoint) as the HMAC secret.
TEST(sandbox_jwt, algorithm_confusion_with_the_public_key_is_refused) {
  const auto& k = shared_pki().token_key;
  jwt_t* raw = nullptr;
  ASSERT_EQ(jwt_new(&raw), 0);
  std::unique_ptr<jwt_t, jwt_free_deleter> forged(raw);
  jwt_add_grant(forged.get(), "aud", "https://outlook.office365.com");
  jwt_add_grant(forged.get(), "upn", "test@contoso.onmicrosoft.com");
  jwt_add_grant(forged.get(), "scp", "IMAP.AccessAsUser.All");
  jwt_add_grant_int(forged.get(), "exp", now + 3600);
  ASSERT_EQ(jwt_set_alg(forged.get(), JWT_ALG_HS256,
                        reinterpret_cast<const unsigned char*>(k.public_pem.data()),
                        static_cast<int>(k.public_pem.size())),
            0);
  char* text = jwt_encode_str(forged.get());
  ASSERT_NE(text, nullptr);
  const std::string token(text);
  std::free(text);  // NOLINT: libjwt's allocation
  auto r = verify_access_token(token, k.public_pem, now);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("HS256"), std::string::npos);
}

TEST(sandbox_jwt, unsigned_token_is_refused) {
  // {"alg":"none","typ":"JWT"} . {"aud":"https://outlook.office365.com","exp":1900003600} .
  const std::string token =
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
      "eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSIsImV4cCI6MTkwMDAwMzYwMH0.";
  auto r = verify_access_token(token, shared_pki().token_key.public_pem, now);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("none"), std::string::npos);
}

TEST(sandbox_jwt, garbage_is_refused_with_a_reason) {
  const auto& pem = shared_pki().token_key.public_pem;
  for (const std::string& bad :
       std::vector<std::string>{"", "not a jwt", "a.b.c", "!!!.e30.e30", std::string(70000, 'a')}) {
    auto r = verify_access_token(bad, pem, now);
    ASSERT_FALSE(r) << bad.substr(0, 20);
    EXPECT_NE(r.error().message.find("access token refused"), std::string::npos);
  }
}

TEST(sandbox_jwt, jwks_lists_the_signing_key) {
  const auto& k = shared_pki().token_key;
  auto doc = jwks_document(k);
  ASSERT_TRUE(doc) << doc.error().message;
  const auto v = boost::json::parse(*doc);
  const auto& key = v.at("keys").at(0);
  EXPECT_EQ(key.at("kty").as_string(), "RSA");
  EXPECT_EQ(key.at("kid").as_string(), k.kid);
  EXPECT_EQ(key.at("e").as_string(), "AQAB");
  // 2048-bit modulus: 256 bytes, 342 base64url characters without padding.
  EXPECT_EQ(key.at("n").as_string().size(), 342U);
}

}  // namespace
}  // namespace mailoauth::sandbox
