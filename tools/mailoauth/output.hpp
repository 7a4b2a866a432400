// Printing helpers shared by the commands.
#pragma once

#include <mailoauth/error.hpp>

#include <string>
#include <string_view>
#include <system_error>

namespace mailoauth::cli {

/// Shows control bytes as \xNN (and the SASL separator ^A as \x01), so that a server cannot
/// drive the terminal and the transcript can be pasted back as a test.
std::string printable(std::string_view text);

/// The exit code for an error (README, "Exit codes").
int exit_code(const std::error_code& ec) noexcept;

/// Prints "mailoauth: error: ..." to stderr and returns `code`.
int fail(int code, std::string_view message);

}  // namespace mailoauth::cli
