#include <mailoauth/error.hpp>

namespace mailoauth {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mailoauth"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::invalid_argument:
        return "invalid argument";
      case errc::config_invalid:
        return "invalid configuration";
      case errc::unknown_account:
        return "no such account";
      case errc::login_required:
        return "sign-in required";
      case errc::oauth_rejected:
        return "the identity platform refused the request";
      case errc::authorization_declined:
        return "the sign-in was declined";
      case errc::authorization_expired:
        return "the sign-in code expired";
      case errc::http_failed:
        return "the identity platform could not be reached";
      case errc::malformed_response:
        return "malformed response from the identity platform";
      case errc::store_failed:
        return "the token store cannot be read or written";
      case errc::store_locked:
        return "the token store is locked by another process";
      case errc::authentication_failed:
        return "the server rejected the credentials";
      case errc::tls_handshake_failed:
        return "TLS handshake failed";
      case errc::certificate_verify_failed:
        return "the server's certificate could not be verified";
      case errc::starttls_not_offered:
        return "the server does not offer STARTTLS";
      case errc::starttls_refused:
        return "the server refused STARTTLS";
      case errc::starttls_injection:
        return "the server sent data behind its STARTTLS go-ahead (possible injection attack)";
      case errc::preauth_without_tls:
        return "the server pre-authenticated the connection before TLS (PREAUTH)";
      case errc::plaintext_refused:
        return "refusing to send a token without TLS";
      case errc::resolve_failed:
        return "the host name could not be resolved";
      case errc::connect_failed:
        return "could not connect";
      case errc::timeout:
        return "timed out";
      case errc::connection_closed:
        return "the server closed the connection";
      case errc::server_unavailable:
        return "the server refused service";
      case errc::malformed_reply:
        return "malformed server reply";
      case errc::line_too_long:
        return "server line too long";
      case errc::unexpected_reply:
        return "unexpected server reply";
      case errc::mechanism_not_offered:
        return "the server does not offer the SASL mechanism";
      case errc::preauthenticated:
        return "the server pre-authenticated the connection (PREAUTH); the token was not used";
      case errc::too_many_lines:
        return "server reply has too many lines";
    }
    return "unknown mailoauth error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

failure_kind classify(const std::error_code& ec) noexcept {
  if (!ec) return failure_kind::none;
  if (ec.category() != error_category()) return failure_kind::protocol;
  const int v = ec.value();
  if (v < 100) return failure_kind::usage;
  if (v < 200) return failure_kind::rejected;
  if (v < 300) return failure_kind::security;
  if (v < 400) return failure_kind::connection;
  if (v < 500) return failure_kind::protocol;
  return failure_kind::local;
}

}  // namespace mailoauth

#include <mailoauth/result.hpp>

namespace mailoauth {

void throw_exception_from_error(const failure& f, const boost::source_location&) {
  throw failure_error(f);
}

}  // namespace mailoauth
