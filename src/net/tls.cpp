#include "net/tls.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace mailoauth::net::detail {

std::string configure_client_context(boost::asio::ssl::context& ctx, const std::string& cafile) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(boost::asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (cafile.empty()) {
    ctx.set_default_verify_paths(ec);
    if (ec) return "cannot load the system's CA certificates: " + ec.message();
  } else {
    ctx.load_verify_file(cafile, ec);
    if (ec) return "cannot load CA file " + cafile + ": " + ec.message();
  }
  return {};
}

std::string configure_server_context(boost::asio::ssl::context& ctx,
                                     std::string_view cert_chain_pem, std::string_view key_pem) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(boost::asio::ssl::context::default_workarounds);
  boost::system::error_code ec;
  ctx.use_certificate_chain(boost::asio::buffer(cert_chain_pem.data(), cert_chain_pem.size()), ec);
  if (ec) return "cannot use the server certificate: " + ec.message();
  ctx.use_private_key(boost::asio::buffer(key_pem.data(), key_pem.size()),
                      boost::asio::ssl::context::pem, ec);
  if (ec) return "cannot use the server's private key: " + ec.message();
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    return "the server's private key does not match its certificate";
  return {};
}

void configure_peer_name(tls_stream& stream, const std::string& host) {
  SSL* ssl = stream.native_handle();
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) {
    // SSL_set_tlsext_host_name() is a macro with a C cast; this is what it expands to.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
    SSL_set1_host(ssl, host.c_str());
    // RFC 6125 section 6.4.3: a wildcard matches one whole label only.
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  }
  stream.set_verify_mode(boost::asio::ssl::verify_peer);
}

std::string describe_handshake_failure(tls_stream& stream, const boost::system::error_code& ec,
                                       bool& certificate_problem) {
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    certificate_problem = true;
    return std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
  }
  certificate_problem = false;
  return "TLS handshake failed: " + ec.message();
}

std::string tls_version(tls_stream& stream) {
  return SSL_get_version(stream.native_handle());
}

std::string tls_cipher(tls_stream& stream) {
  const char* name = SSL_get_cipher_name(stream.native_handle());
  return name ? name : "";
}

std::string peer_subject(tls_stream& stream) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      SSL_get1_peer_certificate(stream.native_handle()), &X509_free);
  if (!cert) return {};
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), buf, sizeof buf);
  return buf;
}

}  // namespace mailoauth::net::detail
