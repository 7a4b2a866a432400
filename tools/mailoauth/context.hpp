// What every command shares: the global options and the configuration they point at.
#pragma once

#include <mailoauth/config.hpp>

#include <string>

namespace mailoauth::cli {

struct context {
  std::string config_path;  // --config; empty: config::default_path()
  int verbosity = 0;

  /// Loads the configuration file.
  [[nodiscard]] result<config::config_file> load_config() const;
};

/// Prints a failure ("mailoauth: error: ..." and, with -v, its detail) and returns its exit code.
int report(const failure& f, const context& ctx);

}  // namespace mailoauth::cli
