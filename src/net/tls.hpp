// Internal: the TLS settings every connection uses, client and server side, and what to tell
// the user when the handshake fails.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <string>
#include <string_view>
#include <system_error>

namespace mailoauth::net::detail {

using tls_stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

/// A client context: TLS 1.2 or later, peer verification on, CAs from `cafile` or the system.
/// Returns an error message when the CA file cannot be loaded.
std::string configure_client_context(boost::asio::ssl::context& ctx, const std::string& cafile);

/// A server context (tcp_server): TLS 1.2 or later, the certificate chain (PEM, leaf first)
/// and its private key (PEM). Returns an error message when either cannot be used.
std::string configure_server_context(boost::asio::ssl::context& ctx,
                                     std::string_view cert_chain_pem, std::string_view key_pem);

/// Sets SNI (for names, never for address literals, RFC 6066 section 3) and the name or
/// address that the certificate must match.
void configure_peer_name(tls_stream& stream, const std::string& host);

/// Why a handshake failed, in words: the verification error when there was one.
std::string describe_handshake_failure(tls_stream& stream, const boost::system::error_code& ec,
                                       bool& certificate_problem);

/// "TLSv1.3", the cipher and the certificate's subject, once the handshake is done.
std::string tls_version(tls_stream& stream);
std::string tls_cipher(tls_stream& stream);
std::string peer_subject(tls_stream& stream);

}  // namespace mailoauth::net::detail
