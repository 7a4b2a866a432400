// The sandbox's keys and certificates, generated on first start and kept in its state folder: a
// local CA (which users pass to their mail programs as the CA file), a server certificate for
// localhost, 127.0.0.1 and ::1 signed by it (for the identity platform's HTTPS and the mail
// servers' TLS), and the identity platform's token-signing key.
#pragma once

#include <mailoauth/result.hpp>

#include "sandbox/core/jwt.hpp"

#include <filesystem>
#include <string>

namespace mailoauth::sandbox {

struct pki {
  std::filesystem::path ca_file;  // <state>/ca.pem, the file users trust (mode 0644)
  std::string ca_cert_pem;
  std::string server_cert_pem;  // leaf first, then the CA
  std::string server_key_pem;   // a secret (file mode 0600)
  signing_key token_key;        // (file mode 0600)
};

/// Loads the CA, server certificate and signing key from `state_dir`, creating any that are
/// missing or expire within a day (the directory is created with mode 0700; private keys are
/// written 0600, atomically). A CA that is recreated gets a new server certificate too.
result<pki> load_or_create_pki(const std::filesystem::path& state_dir);

}  // namespace mailoauth::sandbox
