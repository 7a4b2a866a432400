#include "sandbox/core/pki.hpp"

#include "store/atomic_file.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

namespace mailoauth::sandbox {
namespace {

namespace fs = std::filesystem;

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;

constexpr long day = 24L * 60 * 60;
constexpr long ca_lifetime = 5 * 365 * day;
// Short enough that a leaked sandbox certificate is soon worthless, long enough for a CI run
// that keeps its state folder; renewed on start when less than a day is left.
constexpr long server_lifetime = 90 * day;

failure pki_failure(const std::string& what) {
  return make_failure(errc::store_failed, "sandbox PKI: " + what);
}

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bio_ptr memory_bio(const std::string& text) {
  return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free};
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return {data, static_cast<std::size_t>(size)};
}

pkey_ptr new_rsa_key() {
  return {EVP_RSA_gen(2048), &EVP_PKEY_free};
}

std::string private_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio.get());
}

std::string public_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  return bio_text(bio.get());
}

std::string cert_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  return bio_text(bio.get());
}

pkey_ptr parse_private(const std::string& pem) {
  auto bio = memory_bio(pem);
  return {PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free};
}

x509_ptr parse_cert(const std::string& pem) {
  auto bio = memory_bio(pem);
  return {PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free};
}

bool valid_for_a_day(X509* cert) {
  std::time_t tomorrow = std::time(nullptr) + day;
  return X509_cmp_time(X509_get0_notAfter(cert), &tomorrow) > 0;
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `subject_key` named `common_name`, signed by `issuer_key` (self-signed
// when `issuer` is null).
x509_ptr make_cert(EVP_PKEY* subject_key, const char* common_name, X509* issuer,
                   EVP_PKEY* issuer_key, long lifetime, bool is_ca) {
  x509_ptr cert(X509_new(), &X509_free);
  if (!cert) return cert;
  X509_set_version(cert.get(), 2);
  // Random serials: a browser or client that cached an older sandbox certificate with the same
  // issuer and serial would otherwise refuse the new one.
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr),
                                                 &BN_free);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60);  // tolerate clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), lifetime);
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mailoauth sandbox"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (is_ca) {
    ok = ok &&
         add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    ok = ok && add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
    ok = ok && add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && add_extension(cert.get(), signer, NID_key_usage,
                             "critical,digitalSignature,keyEncipherment");
    ok = ok && add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    ok = ok && add_extension(cert.get(), signer, NID_subject_alt_name,
                             "DNS:localhost,IP:127.0.0.1,IP:::1");
  }
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) cert.reset();
  return cert;
}

// The key id: the first 16 bytes of the SHA-256 of the public key, hex, stable across restarts
// so that tokens issued before a restart still name a key the JWKS lists.
std::string key_id(const std::string& public_key_pem) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(public_key_pem.data(), public_key_pem.size(), digest, &size, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 16 && i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

result<void> write(const fs::path& dir, const std::string& name, const std::string& data) {
  return store::detail::replace_file(dir, name, data);
}

}  // namespace

result<pki> load_or_create_pki(const fs::path& state_dir) {
  if (auto ok = store::detail::ensure_directory(state_dir); !ok) return ok.error();
  pki out;
  out.ca_file = state_dir / "ca.pem";

  // The CA: kept while it is valid, so that users who trusted it once keep trusting it.
  pkey_ptr ca_key(nullptr, &EVP_PKEY_free);
  x509_ptr ca_cert(nullptr, &X509_free);
  if (auto k = read_file(state_dir / "ca-key.pem"), c = read_file(out.ca_file); k && c) {
    ca_key = parse_private(*k);
    ca_cert = parse_cert(*c);
    if (ca_cert && !valid_for_a_day(ca_cert.get())) ca_cert.reset();
    if (ca_cert && ca_key && X509_check_private_key(ca_cert.get(), ca_key.get()) != 1)
      ca_cert.reset();
  }
  bool new_ca = false;
  if (!ca_key || !ca_cert) {
    ca_key = new_rsa_key();
    if (!ca_key) return pki_failure("could not generate the CA key");
    ca_cert =
        make_cert(ca_key.get(), "mailoauth sandbox CA", nullptr, ca_key.get(), ca_lifetime, true);
    if (!ca_cert) return pki_failure("could not create the CA certificate");
    if (auto ok = write(state_dir, "ca-key.pem", private_pem(ca_key.get())); !ok) return ok.error();
    if (auto ok = write(state_dir, "ca.pem", cert_pem(ca_cert.get())); !ok) return ok.error();
    new_ca = true;
  }
  // Public: users hand it to their mail programs, which may run as other users.
  ::chmod(out.ca_file.c_str(), 0644);
  out.ca_cert_pem = cert_pem(ca_cert.get());

  // The server certificate, renewed with a new CA or when it is about to expire.
  pkey_ptr server_key(nullptr, &EVP_PKEY_free);
  x509_ptr server_cert(nullptr, &X509_free);
  if (!new_ca) {
    if (auto k = read_file(state_dir / "server-key.pem"), c = read_file(state_dir / "server.pem");
        k && c) {
      server_key = parse_private(*k);
      server_cert = parse_cert(*c);
      if (server_cert &&
          (!valid_for_a_day(server_cert.get()) ||
           X509_verify(server_cert.get(), X509_get0_pubkey(ca_cert.get())) != 1 || !server_key ||
           X509_check_private_key(server_cert.get(), server_key.get()) != 1))
        server_cert.reset();
    }
  }
  if (!server_key || !server_cert) {
    server_key = new_rsa_key();
    if (!server_key) return pki_failure("could not generate the server key");
    server_cert = make_cert(server_key.get(), "localhost", ca_cert.get(), ca_key.get(),
                            server_lifetime, false);
    if (!server_cert) return pki_failure("could not create the server certificate");
    if (auto ok = write(state_dir, "server-key.pem", private_pem(server_key.get())); !ok)
      return ok.error();
    if (auto ok = write(state_dir, "server.pem", cert_pem(server_cert.get()) + out.ca_cert_pem);
        !ok)
      return ok.error();
  }
  out.server_cert_pem = cert_pem(server_cert.get()) + out.ca_cert_pem;
  out.server_key_pem = private_pem(server_key.get());

  // The token-signing key: kept across restarts so that cached tokens stay valid.
  pkey_ptr token_key(nullptr, &EVP_PKEY_free);
  if (auto k = read_file(state_dir / "token-signing-key.pem")) token_key = parse_private(*k);
  if (!token_key || EVP_PKEY_get_base_id(token_key.get()) != EVP_PKEY_RSA) {
    token_key = new_rsa_key();
    if (!token_key) return pki_failure("could not generate the token-signing key");
    if (auto ok = write(state_dir, "token-signing-key.pem", private_pem(token_key.get())); !ok)
      return ok.error();
  }
  out.token_key.private_pem = private_pem(token_key.get());
  out.token_key.public_pem = public_pem(token_key.get());
  out.token_key.kid = key_id(out.token_key.public_pem);
  return out;
}

}  // namespace mailoauth::sandbox
