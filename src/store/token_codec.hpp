// The token file format (version 1), plaintext and encrypted:
//   {"version":1,"access_token":"...","refresh_token":"...",...}                      plaintext
//   {"version":1,"encryption":"aes-256-gcm","nonce":b64,"ciphertext":b64,"tag":b64}  encrypted
// where the ciphertext decrypts to the plaintext document.
#pragma once

#include "store/aes_gcm.hpp"

#include <mailoauth/result.hpp>
#include <mailoauth/store.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

namespace mailoauth::store::detail {

/// The newest format this build reads and the one it writes.
inline constexpr std::int64_t format_version = 1;

/// The plaintext document for `tokens`, newline-terminated. It holds credentials: wipe it.
std::string encode_tokens(const token_set& tokens);

/// The encrypted document (holds no credential).
std::string encode_sealed(const sealed_box& box);

/// The file and account that failures name.
struct decode_context {
  const std::filesystem::path& file;
  const std::string& account;
};

/// Parses a token file: either the tokens or a sealed box to decrypt. A failure names the file
/// and never quotes the file's content.
result<std::variant<token_set, sealed_box>> decode_file(std::string_view text,
                                                        const decode_context& ctx);

}  // namespace mailoauth::store::detail
