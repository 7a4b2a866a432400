// The writer of killed_writer_test: a save of large token sets, run as its own process
// (`store_tests --save-tokens DIR I [KEY]`) so that strace can kill it at any system call.
#pragma once

#include <mailoauth/store.hpp>

#include "store_test_support.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace mailoauth::store::test {

inline constexpr std::size_t big_access_size = 128 * 1024;
inline constexpr std::size_t big_id_size = 32 * 1024;

/// Save number `i`: every field derives from i, so a file that mixed two saves is detectable.
inline token_set big_tokens(std::int64_t i) {
  const auto seed = static_cast<unsigned>(i % 61);
  token_set t;
  t.access_token = secret(token_text(big_access_size, seed));
  t.refresh_token = secret("rt-" + std::to_string(i) + "-" + token_text(4096, seed + 1));
  t.id_token = secret(token_text(big_id_size, seed + 2));
  t.scope = "iteration " + std::to_string(i);
  t.obtained_at = i;
  t.expires_at = i + 3600;
  return t;
}

/// The key of the encrypted runs, from the material given on the command line.
inline std::optional<encryption_key> writer_key(const std::string& material) {
  if (material.empty()) return std::nullopt;
  return *encryption_key::from_material(secret(material));
}

/// The writer's body: one save of big_tokens(i) into dir; 0 when it succeeded.
inline int save_tokens_once(const std::string& dir, const std::string& i,
                            const std::string& key_material) {
  const token_store writer(dir, writer_key(key_material));
  return writer.save("acct", big_tokens(std::stoll(i))) ? 0 : 3;
}

}  // namespace mailoauth::store::test
