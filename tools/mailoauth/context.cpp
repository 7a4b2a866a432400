#include "context.hpp"

#include "output.hpp"

#include <fmt/core.h>

namespace mailoauth::cli {

result<config::config_file> context::load_config() const {
  return config::load(config_path.empty() ? config::default_path()
                                          : std::filesystem::path(config_path));
}

int report(const failure& f, const context& ctx) {
  fmt::print(stderr, "mailoauth: error: {}\n", printable(f.message));
  if (ctx.verbosity > 0 && !f.detail.empty()) {
    std::string_view rest(f.detail);
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      fmt::print(stderr, "  {}\n", printable(rest.substr(0, nl)));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  return exit_code(f.code);
}

}  // namespace mailoauth::cli
