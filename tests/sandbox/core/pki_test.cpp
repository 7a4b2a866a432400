// The sandbox's local CA and keys: created once, kept across restarts, private keys 0600, and
// a server certificate that a client verifying host names accepts for loopback.
#include "sandbox/core/pki.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace mailoauth::sandbox {
namespace {

namespace fs = std::filesystem;

class pki_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mailoauth-pki-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    state_ = dir_ / "state";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
  fs::path state_;
};

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777U;
}

using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

x509_ptr first_cert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return {PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free};
}

// Verifies the leaf against the CA the way a mail client does: chain and host name.
bool verifies_for(const pki& p, const char* ip_or_host) {
  auto ca = first_cert(p.ca_cert_pem);
  auto leaf = first_cert(p.server_cert_pem);
  if (!ca || !leaf) return false;
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      &X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (std::string_view(ip_or_host).find_first_not_of("0123456789.:") == std::string_view::npos)
    X509_VERIFY_PARAM_set1_ip_asc(param, ip_or_host);
  else
    X509_VERIFY_PARAM_set1_host(param, ip_or_host, 0);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  return X509_verify_cert(ctx.get()) == 1;
}

TEST_F(pki_test, creates_the_ca_server_certificate_and_signing_key) {
  auto p = load_or_create_pki(state_);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->ca_file, state_ / "ca.pem");
  EXPECT_EQ(mode_of(state_), 0700U);
  EXPECT_EQ(mode_of(state_ / "ca.pem"), 0644U);
  for (const char* secret_file : {"ca-key.pem", "server-key.pem", "token-signing-key.pem"})
    EXPECT_EQ(mode_of(state_ / secret_file), 0600U) << secret_file;
  EXPECT_TRUE(verifies_for(*p, "127.0.0.1"));
  EXPECT_TRUE(verifies_for(*p, "::1"));
  EXPECT_TRUE(verifies_for(*p, "localhost"));
  EXPECT_FALSE(verifies_for(*p, "outlook.office365.com"));
  EXPECT_FALSE(verifies_for(*p, "10.0.0.1"));
  EXPECT_EQ(p->token_key.kid.size(), 32U);
}

TEST_F(pki_test, keeps_its_keys_across_restarts) {
  auto first = load_or_create_pki(state_).value();
  auto second = load_or_create_pki(state_).value();
  EXPECT_EQ(first.ca_cert_pem, second.ca_cert_pem);
  EXPECT_EQ(first.server_cert_pem, second.server_cert_pem);
  EXPECT_EQ(first.token_key.kid, second.token_key.kid);
  EXPECT_EQ(first.token_key.public_pem, second.token_key.public_pem);
}

TEST_F(pki_test, replaces_a_corrupt_server_certificate_but_keeps_the_ca) {
  auto first = load_or_create_pki(state_).value();
  std::ofstream(state_ / "server.pem", std::ios::trunc) << "garbage";
  auto second = load_or_create_pki(state_);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(first.ca_cert_pem, second->ca_cert_pem);
  EXPECT_NE(first.server_cert_pem, second->server_cert_pem);
  EXPECT_TRUE(verifies_for(*second, "127.0.0.1"));
}

TEST_F(pki_test, a_new_ca_gets_a_new_server_certificate) {
  auto first = load_or_create_pki(state_).value();
  fs::remove(state_ / "ca-key.pem");
  auto second = load_or_create_pki(state_);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NE(first.ca_cert_pem, second->ca_cert_pem);
  EXPECT_TRUE(verifies_for(*second, "127.0.0.1"));
}

TEST_F(pki_test, a_state_folder_that_is_a_file_is_a_clear_error) {
  std::ofstream(dir_ / "file") << "not a folder";
  auto p = load_or_create_pki(dir_ / "file");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find((dir_ / "file").string()), std::string::npos)
      << p.error().message;
}

}  // namespace
}  // namespace mailoauth::sandbox
