#include "dovecot_services.hpp"

#include "process_run.hpp"

#include <charconv>
#include <deque>
#include <fstream>
#include <stdexcept>

namespace mailoauth::test {
namespace {

const std::string services_script =
    std::string(MAILOAUTH_SOURCE_DIR) + "/tests/support/dovecot/services.sh";

// instance.env is written by dovecot-ctl.sh as NAME=value or NAME="value", one a line.
std::map<std::string, std::string> parse_env_file(std::istream& in) {
  std::map<std::string, std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    values[line.substr(0, eq)] = value;
  }
  return values;
}

}  // namespace

std::optional<dovecot_instance> dovecot_instance::load(const std::filesystem::path& dir,
                                                       std::string& why) {
  std::ifstream in(dir / "instance.env");
  if (!in) {
    why = "no " + (dir / "instance.env").string() + ": the instance was never started";
    return std::nullopt;
  }
  dovecot_instance d;
  d.dir_ = dir;
  d.values_ = parse_env_file(in);
  for (const char* required :
       {"IMAP_PORT", "IMAPS_PORT", "POP3_PORT", "POP3S_PORT", "SUBMISSION_PORT", "SUBMISSIONS_PORT",
        "CA_FILE", "OTHER_CA_FILE", "SIGNING_KEY", "OTHER_SIGNING_KEY", "KID", "LOG"}) {
    if (d.values_.count(required) == 0 || d.values_[required].empty()) {
      why = (dir / "instance.env").string() + " has no " + required;
      return std::nullopt;
    }
  }
  if (d.values_["SUPERVISOR_PID"].empty()) {
    why = "the instance in " + dir.string() + " has been stopped";
    return std::nullopt;
  }
  return d;
}

const std::string& dovecot_instance::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) throw std::out_of_range("instance.env has no " + name);
  return it->second;
}

std::uint16_t dovecot_instance::port(const std::string& name) const {
  const auto& text = get(name);
  std::uint16_t p = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
  if (ec != std::errc{} || end != text.data() + text.size() || p == 0)
    throw std::runtime_error("instance.env: " + name + " is not a port: " + text);
  return p;
}

std::string dovecot_instance::log_tail(std::size_t lines) const {
  std::ifstream in(log_file());
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string s = "--- last lines of " + log_file() + " ---\n";
  for (const auto& l : last) s += l + "\n";
  return s;
}

std::string mint_token(const dovecot_instance& instance, const token_spec& spec) {
  const auto& key = spec.key == signing_key::trusted ? instance.get("SIGNING_KEY")
                                                     : instance.get("OTHER_SIGNING_KEY");
  const auto r = run_process(
      {MAILOAUTH_MINT_JWT, "--key", key, "--kid", instance.get("KID"), "--email", spec.email,
       "--expires-in", std::to_string(spec.expires_in), "--padding", std::to_string(spec.padding)});
  if (r.exit_code != 0) throw std::runtime_error("mint_jwt failed: " + r.describe());
  auto token = r.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) throw std::runtime_error("mint_jwt printed no token");
  return token;
}

std::string start_services(const std::filesystem::path& dir, const std::filesystem::path& certs,
                           long owner_pid) {
  std::vector<std::string> argv{"bash",       services_script, "start",
                                dir.string(), "--owner-pid",   std::to_string(owner_pid)};
  if (!certs.empty()) argv.insert(argv.end(), {"--certs", certs.string()});
  const auto r = run_process(argv, {.timeout = std::chrono::seconds(120)});
  if (r.exit_code != 0)
    throw std::runtime_error("tests/support/dovecot/services.sh start failed: " + r.describe());
  return r.both();
}

void stop_services(const std::filesystem::path& dir) noexcept {
  try {
    run_process({"bash", services_script, "stop", dir.string()},
                {.timeout = std::chrono::seconds(60)});
  } catch (...) {
    // Nothing better to do on the way out; the supervisor stops the instance anyway once
    // its owner, this process, has exited.
  }
}

}  // namespace mailoauth::test
