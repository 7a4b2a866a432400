// SASL XOAUTH2 and OAUTHBEARER (RFC 7628) client responses, their decoders, the decoder of the
// JSON error challenge that servers send when they refuse a token, and the PLAIN (RFC 4616)
// decoder that the server side needs for password-only clients. Pure functions, no I/O.
#pragma once

#include <mailoauth/secret.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace mailoauth::sasl {

/// The SASL mechanisms mailoauth speaks: the two OAuth 2.0 ones that mail servers offer, and the
/// two password ones (PLAIN, RFC 4616; LOGIN, draft-murchison-sasl-login) that password-only
/// mail programs send to a server session (the proxy's local login). A client session uses only
/// the OAuth ones.
enum class mechanism { xoauth2, oauthbearer, plain, login };

/// The mechanism's name as it appears in capabilities and commands ("XOAUTH2", "OAUTHBEARER",
/// "PLAIN", "LOGIN").
std::string_view name(mechanism m) noexcept;

/// True for XOAUTH2 and OAUTHBEARER, whose credential is a bearer token.
[[nodiscard]] constexpr bool is_bearer(mechanism m) noexcept {
  return m == mechanism::xoauth2 || m == mechanism::oauthbearer;
}

/// Why a user name or host cannot go into a client response, or empty when it can: ^A ends an
/// item of XOAUTH2 and OAUTHBEARER, and CR, LF and NUL would corrupt the command line or the
/// response, so a value holding one would let its author add items of their own.
std::string invalid_field(std::string_view user, std::string_view host = {});

/// Parses a mechanism name, case-insensitively.
std::optional<mechanism> parse_mechanism(std::string_view text) noexcept;

/// Standard base64 (RFC 4648 section 4), padded, on one line.
std::string base64_encode(std::string_view bytes);

/// Strict base64 decoding: rejects characters outside the alphabet, bad padding and
/// whitespace. Returns nullopt on any of them.
std::optional<std::string> base64_decode(std::string_view text);

/// The raw (unencoded) XOAUTH2 client response: "user=" U ^A "auth=Bearer " T ^A ^A. Throws
/// std::invalid_argument when invalid_field(user) is not empty or the token holds ^A, CR or LF:
/// callers check first and report the error in their own terms.
secret xoauth2_response(std::string_view user, const secret& token);

/// The raw (unencoded) OAUTHBEARER client response (RFC 7628 section 3.1):
/// "n,a=" U "," ^A ["host=" H ^A] ["port=" P ^A] "auth=Bearer " T ^A ^A. Throws as
/// xoauth2_response() does, for the host too.
secret oauthbearer_response(std::string_view user, const secret& token, std::string_view host = {},
                            std::optional<std::uint16_t> port = {});

/// The raw client response of either OAuth mechanism; std::invalid_argument for PLAIN and LOGIN.
secret client_response(mechanism m, std::string_view user, const secret& token,
                       std::string_view host = {}, std::optional<std::uint16_t> port = {});

/// A client response taken apart, as a server (the proxy, the sandbox) needs it.
struct decoded_response {
  mechanism mech = mechanism::xoauth2;
  /// The user (XOAUTH2 "user=", OAUTHBEARER gs2 "a=" authzid; may be empty for OAUTHBEARER).
  std::string user;
  /// The bearer token.
  secret token;
  /// OAUTHBEARER only: the "host" and "port" key-values, when present.
  std::string host;
  std::optional<std::uint16_t> port;
};

/// Decodes a raw XOAUTH2 response. Errors name what is malformed, never the token.
std::optional<decoded_response> decode_xoauth2(std::string_view raw, std::string* why = nullptr);

/// Decodes a raw OAUTHBEARER response (RFC 7628 section 3.1 grammar).
std::optional<decoded_response> decode_oauthbearer(std::string_view raw,
                                                   std::string* why = nullptr);

/// Decodes a raw response of the given OAuth mechanism (PLAIN: decode_plain()).
std::optional<decoded_response> decode_response(mechanism m, std::string_view raw,
                                                std::string* why = nullptr);

/// A PLAIN response taken apart (RFC 4616 section 2: [authzid] NUL authcid NUL passwd).
struct plain_credentials {
  std::string authzid;  // empty when the client acts as itself
  std::string authcid;
  secret password;
};

/// Decodes a raw PLAIN response. Errors name what is malformed, never the password.
std::optional<plain_credentials> decode_plain(std::string_view raw, std::string* why = nullptr);

/// The raw PLAIN response, for tests and clients of a local proxy.
secret plain_response(std::string_view authcid, const secret& password,
                      std::string_view authzid = {});

/// The JSON error a server sends as a challenge when it refuses a token (XOAUTH2: Google's
/// format; OAUTHBEARER: RFC 7628 section 3.2.2).
struct error_challenge {
  /// "status": an HTTP-like code ("401", "400") for XOAUTH2, "invalid_token" etc. for OAUTHBEARER.
  std::string status;
  /// "schemes", e.g. "Bearer".
  std::string schemes;
  /// "scope": the scope the server wanted.
  std::string scope;
  /// "openid-configuration": where the server says to find the issuer (OAUTHBEARER).
  std::string openid_configuration;
  /// The decoded JSON as the server sent it.
  std::string json;
};

/// Decodes the base64 payload of an error challenge. nullopt when it is not base64 of a JSON
/// object; the caller then cancels the exchange with "*".
std::optional<error_challenge> decode_error_challenge(std::string_view base64_payload);

/// Explains a challenge status in one sentence a user can act on.
std::string explain(const error_challenge& challenge);

}  // namespace mailoauth::sasl
