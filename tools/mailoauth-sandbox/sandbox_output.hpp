// What `mailoauth sandbox` and `mailoauth demo` both print about a running sandbox, and the
// one file both write.
#pragma once

#include <mailoauth/result.hpp>

#include "sandbox/sandbox.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace mailoauth::cli {

/// The identity platform's URLs, the six mail URLs and the CA file.
void print_endpoints(sandbox::sandbox& sb);

/// The tenant, its users and app registrations. Passwords and client secrets are never printed:
/// the text says they are in identity.toml.
void print_directory(sandbox::sandbox& sb, bool with_permissions);

/// The public app that config_account() uses (the first public client), or null.
const sandbox::app_registration* public_app(const sandbox::directory& dir);

/// Writes `text` to `file` with mode 0600, atomically (a temporary file renamed over it).
result<void> write_private_file(const std::filesystem::path& file, std::string_view text);

/// "a, b, c".
std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ");

}  // namespace mailoauth::cli
