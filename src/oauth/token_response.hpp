// Internal: token endpoint responses, success and error, in Microsoft's and RFC 6749's shapes.
#pragma once

#include <mailoauth/config.hpp>
#include <mailoauth/result.hpp>
#include <mailoauth/store.hpp>

#include "net/http_client.hpp"

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::oauth::detail {

/// Parses a body that may hold credentials (a token or device-code response) with every block,
/// the parser's own and the value's, in the wiping resource (store/wiping_resource.hpp): the
/// parsed tokens leave no copy in freed memory. Null with `ec` set when it is not JSON.
boost::json::value parse_secret_json(std::string_view body, boost::system::error_code& ec);

/// An error response's fields (RFC 6749 section 5.2, plus Microsoft's).
struct oauth_error {
  std::string error;
  std::string description;
  std::string aadsts;  // "50011" when the platform named an AADSTS code
  std::string correlation_id;
  std::string trace_id;
  std::string timestamp;
};

/// Parses an error body; nullopt when it is not one.
std::optional<oauth_error> parse_error(std::string_view body);

/// One line that says what happened and what to change, for an account (AADSTS codes mapped).
failure to_failure(const oauth_error& e, const config::account& a, std::string_view doing);

/// The failure for any non-success response of the token endpoint (or a non-JSON body).
failure response_failure(const net::http_response& r, const config::account& a,
                         std::string_view doing);

/// Parses a successful token response into a token set. `previous` supplies the refresh token
/// when a refresh response carries none (RFC 6749 section 6 lets servers keep the old one).
result<store::token_set> parse_tokens(const net::http_response& r, const config::account& a,
                                      const std::string& token_endpoint,
                                      const store::token_set* previous);

/// refresh_at for a token that expires at `expires_at`: the server's refresh_in when it sent
/// one, else the account's margin before expiry, but never more than half the lifetime early.
std::int64_t refresh_time(std::int64_t obtained, std::int64_t expires_at,
                          std::optional<std::int64_t> refresh_in, std::chrono::seconds margin);

}  // namespace mailoauth::oauth::detail
