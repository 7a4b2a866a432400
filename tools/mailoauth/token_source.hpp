// Where `check` gets its token: a file, a command's output, or $MAILOAUTH_TOKEN.
#pragma once

#include <mailoauth/secret.hpp>

#include <optional>
#include <string>

namespace mailoauth::cli {

struct token_source {
  std::string file;
  std::string command;
};

/// Reads the token; on failure returns nullopt and says why (never quoting the token).
std::optional<secret> read_token(const token_source& from, std::string& why);

}  // namespace mailoauth::cli
