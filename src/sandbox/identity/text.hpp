// Internal: small text helpers of the identity platform (random identifiers, GUIDs, hashes,
// form and URL encoding, HTML escaping, base64url).
#pragma once

#include "common/web_form.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::sandbox::detail {

using form_fields = mailoauth::detail::form_fields;

/// `bytes` random bytes, base64url without padding: codes, tokens, flow contexts.
std::string random_token(std::size_t bytes);
/// A random (version 4) GUID in the lower-case 8-4-4-4-12 form Microsoft uses for ids.
std::string new_guid();
/// `length` characters from an alphabet without look-alikes (no 0/O, 1/I): device user codes.
std::string random_user_code(std::size_t length);
/// SHA-256 of `text`, base64url: the key under which codes and tokens are kept (the server
/// keeps no usable copy of a credential it handed out).
std::string digest(std::string_view text);
/// SHA-256 of `text`, raw bytes.
std::string sha256(std::string_view text);
std::string base64url(std::string_view bytes);

/// Parses application/x-www-form-urlencoded text (a query or a form body). Null when an escape
/// is broken or a name repeats (RFC 6749 section 3.1: parameters must not be repeated).
std::optional<form_fields> parse_form(std::string_view text);
/// Percent-encodes a query or fragment component (RFC 3986 unreserved characters stay).
std::string url_encode(std::string_view text);
/// "a=1&b=2", values encoded.
std::string encode_form(const std::vector<std::pair<std::string, std::string>>& fields);

std::string html_escape(std::string_view text);
std::string to_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
std::vector<std::string> split_spaces(std::string_view text);
std::string join(const std::vector<std::string>& words, std::string_view sep = " ");
/// Constant-time comparison, so that a comparison never tells a prefix by its timing.
bool same_secret(std::string_view a, std::string_view b);

/// Microsoft's error timestamp form, "2024-05-01 12:34:56Z".
std::string timestamp(std::int64_t unix_seconds);

}  // namespace mailoauth::sandbox::detail
