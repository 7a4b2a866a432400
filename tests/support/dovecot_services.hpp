// The private Dovecot instances of tests/support/dovecot (services.sh, dovecot-ctl.sh) as the
// C++ tests see them: their ports and files, and tokens signed for them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace mailoauth::test {

/// One running instance, read from the instance.env that dovecot-ctl.sh writes.
class dovecot_instance {
 public:
  /// Reads DIR/instance.env; nullopt (with the reason) if it is missing or incomplete.
  static std::optional<dovecot_instance> load(const std::filesystem::path& dir, std::string& why);

  /// A value of instance.env, e.g. "IMAPS_PORT"; throws if it is missing.
  [[nodiscard]] const std::string& get(const std::string& name) const;
  [[nodiscard]] std::uint16_t port(const std::string& name) const;

  [[nodiscard]] std::uint16_t imap_port() const { return port("IMAP_PORT"); }
  [[nodiscard]] std::uint16_t imaps_port() const { return port("IMAPS_PORT"); }
  [[nodiscard]] std::uint16_t pop3_port() const { return port("POP3_PORT"); }
  [[nodiscard]] std::uint16_t pop3s_port() const { return port("POP3S_PORT"); }
  [[nodiscard]] std::uint16_t submission_port() const { return port("SUBMISSION_PORT"); }
  [[nodiscard]] std::uint16_t submissions_port() const { return port("SUBMISSIONS_PORT"); }
  [[nodiscard]] const std::string& ca_file() const { return get("CA_FILE"); }
  [[nodiscard]] const std::string& other_ca_file() const { return get("OTHER_CA_FILE"); }
  [[nodiscard]] const std::string& log_file() const { return get("LOG"); }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

  /// The last lines of Dovecot's log, for failure messages.
  [[nodiscard]] std::string log_tail(std::size_t lines = 20) const;

 private:
  std::filesystem::path dir_;
  std::map<std::string, std::string> values_;
};

/// Which key signs a token.
enum class signing_key {
  trusted,  ///< the key whose public half Dovecot validates with
  other,    ///< a key Dovecot has never seen, with the same kid: a bad signature
};

struct token_spec {
  std::string email;
  long expires_in = 3600;  ///< seconds from now; negative for an expired token
  signing_key key = signing_key::trusted;
  long padding = 0;  ///< characters of filler claim, for long tokens
};

/// Signs a JWT with tests/support/mint_jwt for this instance; throws if minting fails.
std::string mint_token(const dovecot_instance& instance, const token_spec& spec);

/// services.sh start DIR (both instances, shared keys; test certificates from `certs`, or made
/// in DIR when it is empty); returns its output, throws on failure.
std::string start_services(const std::filesystem::path& dir, const std::filesystem::path& certs,
                           long owner_pid);
/// services.sh stop DIR; never throws (it runs on the way out of failing tests too).
void stop_services(const std::filesystem::path& dir) noexcept;

}  // namespace mailoauth::test
