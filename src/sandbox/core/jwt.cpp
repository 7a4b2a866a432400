#include "sandbox/core/jwt.hpp"

#include "oauth/base64url.hpp"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <boost/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

namespace mailoauth::sandbox {
namespace {

namespace json = boost::json;

struct jwt_deleter {
  void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_deleter>;

struct c_string_deleter {
  void operator()(char* s) const noexcept { std::free(s); }  // NOLINT: libjwt allocates with malloc
};

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> words;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = std::min(text.find(' ', pos), text.size());
    if (end > pos) words.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return words;
}

failure refused(std::string why) {
  return make_failure(errc::authentication_failed, "access token refused: " + std::move(why));
}

// The header's alg, read before libjwt is given the key: libjwt 1.10 verifies with whatever
// algorithm the token names, so an HS256 token "signed" with our public key as its HMAC secret
// would pass (the classic algorithm-confusion forgery).
result<std::string> header_alg(std::string_view token) {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return refused("it is not a JWT (no header)");
  auto header = oauth::base64url_decode(token.substr(0, dot));
  if (!header) return refused("its header is not base64url");
  boost::system::error_code ec;
  const auto doc = json::parse(*header, ec);
  if (ec || !doc.is_object()) return refused("its header is not a JSON object");
  const auto* alg = doc.get_object().if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return refused("its header names no algorithm");
  return std::string(alg->get_string());
}

std::string text_claim(jwt_t* j, const char* name) {
  const char* v = jwt_get_grant(j, name);
  return v != nullptr ? std::string(v) : std::string();
}

std::optional<std::int64_t> int_claim(jwt_t* j, const char* name) {
  errno = 0;
  const long v = jwt_get_grant_int(j, name);
  if (errno != 0) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

// `roles` is a JSON array in Microsoft's tokens; libjwt hands arrays back as JSON text.
std::vector<std::string> roles_claim(jwt_t* j) {
  std::vector<std::string> roles;
  std::unique_ptr<char, c_string_deleter> text(jwt_get_grants_json(j, "roles"));
  if (!text) return roles;
  boost::system::error_code ec;
  const auto doc = json::parse(text.get(), ec);
  if (ec || !doc.is_array()) return roles;
  for (const auto& r : doc.get_array())
    if (r.is_string()) roles.emplace_back(r.get_string());
  return roles;
}

// The one RS256 signer of the sandbox: access tokens and ID tokens alike get the header
// {"typ":"JWT","alg":"RS256","kid":...} and a PKCS#1 v1.5 SHA-256 signature (RFC 7518 section
// 3.3). The claims are serialized as given, in the caller's order. Not libjwt: its JSON loader
// refuses a \u0000 or invalid UTF-8 in a claim, and an ID token's nonce is the client's text.
result<std::string> sign_jwt(const signing_key& key, const json::object& claims,
                             std::string_view what) {
  const json::object header{{"typ", "JWT"}, {"alg", "RS256"}, {"kid", key.kid}};
  const auto input = oauth::base64url_encode(json::serialize(header)) + "." +
                     oauth::base64url_encode(json::serialize(claims));
  const auto fail = [&](std::string_view why) {
    return make_failure(errc::invalid_argument,
                        "could not sign the " + std::string(what) + " (" + std::string(why) + ")");
  };
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(key.private_pem.data(), static_cast<int>(key.private_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &EVP_PKEY_free);
  if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_RSA)
    return fail("the signing key is not an RSA private key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1)
    return fail("RS256 failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     input.size()) != 1)
    return fail("RS256 failed");
  sig.resize(len);
  return input + "." + oauth::base64url_encode(sig);
}

}  // namespace

result<std::string> sign_access_token(const signing_key& key, const access_claims& c) {
  // uti: Microsoft's unique token id. Without it two tokens issued in the same second for the
  // same grant would be byte-identical, and a rotation could not be told from a replay.
  unsigned char id[16];
  if (RAND_bytes(id, sizeof id) != 1)
    return make_failure(errc::invalid_argument, "no randomness for the token id");
  // Microsoft's v1.0 access tokens for Exchange Online carry these claims; the mail servers read
  // aud, scp or roles, upn and exp. In name order, as the tokens have always been written.
  json::object claims;
  claims["appid"] = c.client_id;
  claims["aud"] = c.audience;
  claims["exp"] = c.expires_at;
  claims["iat"] = c.issued_at;
  claims["iss"] = c.issuer;
  claims["nbf"] = c.not_before;
  claims["oid"] = c.object_id;
  if (!c.roles.empty()) {
    json::array roles;
    for (const auto& r : c.roles) roles.emplace_back(r);
    claims["roles"] = std::move(roles);
  }
  if (!c.scopes.empty()) claims["scp"] = join(c.scopes);
  claims["sub"] = c.object_id;
  claims["tid"] = c.tenant_id;
  if (!c.username.empty()) {
    claims["unique_name"] = c.username;
    claims["upn"] = c.username;
  }
  claims["uti"] =
      oauth::base64url_encode(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
  claims["ver"] = "1.0";
  return sign_jwt(key, claims, "access token");
}

result<std::string> sign_id_token(const signing_key& key, const id_claims& c) {
  json::object claims;
  claims["aud"] = c.audience;
  claims["iss"] = c.issuer;
  claims["iat"] = c.issued_at;
  claims["nbf"] = c.not_before;
  claims["exp"] = c.expires_at;
  if (!c.name.empty()) claims["name"] = c.name;
  claims["oid"] = c.object_id;
  claims["preferred_username"] = c.preferred_username;
  if (!c.email.empty()) claims["email"] = c.email;
  claims["sub"] = c.subject;
  claims["tid"] = c.tenant_id;
  claims["ver"] = "2.0";
  if (!c.nonce.empty()) claims["nonce"] = c.nonce;
  return sign_jwt(key, claims, "ID token");
}

result<access_claims> verify_access_token(std::string_view token, const std::string& public_pem,
                                          std::int64_t now, std::int64_t leeway_seconds) {
  // Bounded before parsing: Exchange's tokens are a few KB; nothing honest comes near this.
  if (token.empty()) return refused("it is empty");
  if (token.size() > 64 * 1024) return refused("it is longer than 64 KiB");
  auto alg = header_alg(token);
  if (!alg) return alg.error();
  if (*alg != "RS256") return refused("it is signed with " + *alg + ", not RS256");

  jwt_t* raw = nullptr;
  const std::string copy(token);  // libjwt wants a NUL-terminated string
  const int rc =
      jwt_decode(&raw, copy.c_str(), reinterpret_cast<const unsigned char*>(public_pem.data()),
                 static_cast<int>(public_pem.size()));
  jwt_ptr decoded(raw);
  if (rc != 0 || !decoded) return refused("its signature does not verify with the sandbox's key");
  if (jwt_get_alg(decoded.get()) != JWT_ALG_RS256) return refused("it is not signed with RS256");

  access_claims c;
  c.issuer = text_claim(decoded.get(), "iss");
  c.audience = text_claim(decoded.get(), "aud");
  c.tenant_id = text_claim(decoded.get(), "tid");
  c.client_id = text_claim(decoded.get(), "appid");
  c.object_id = text_claim(decoded.get(), "oid");
  c.username = text_claim(decoded.get(), "upn");
  c.scopes = split(text_claim(decoded.get(), "scp"));
  c.roles = roles_claim(decoded.get());
  const auto exp = int_claim(decoded.get(), "exp");
  if (!exp) return refused("it has no expiry (exp)");
  c.expires_at = *exp;
  c.issued_at = int_claim(decoded.get(), "iat").value_or(0);
  c.not_before = int_claim(decoded.get(), "nbf").value_or(0);
  if (now >= c.expires_at + leeway_seconds)
    return refused("it expired " + std::to_string(now - c.expires_at) + " s ago");
  if (c.not_before != 0 && now + leeway_seconds < c.not_before)
    return refused("it is not valid yet (nbf is " + std::to_string(c.not_before - now) +
                   " s ahead)");
  return c;
}

result<std::string> jwks_document(const signing_key& key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(key.public_pem.data(), static_cast<int>(key.public_pem.size())), &BIO_free);
  if (!bio) return make_failure(errc::invalid_argument, "out of memory reading the public key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!pkey)
    return make_failure(errc::invalid_argument, "the signing key's public half is not PEM");
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
      EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
    BN_free(n);
    BN_free(e);
    return make_failure(errc::invalid_argument, "the signing key is not an RSA key");
  }
  auto to_b64 = [](const BIGNUM* bn) {
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    return oauth::base64url_encode(bytes);
  };
  json::object jwk;
  jwk["kty"] = "RSA";
  jwk["use"] = "sig";
  jwk["alg"] = "RS256";
  jwk["kid"] = key.kid;
  jwk["n"] = to_b64(n);
  jwk["e"] = to_b64(e);
  BN_free(n);
  BN_free(e);
  json::array keys;
  keys.emplace_back(std::move(jwk));
  json::object doc;
  doc["keys"] = std::move(keys);
  return json::serialize(doc);
}

}  // namespace mailoauth::sandbox
