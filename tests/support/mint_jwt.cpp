// mint_jwt: signs an RS256 access token for the test Dovecot, which validates it locally
// (passdb oauth2, introspection_mode = local). Test-only: the integration tests and the
// benchmark call it to get valid, expired, wrong-user and badly signed tokens.
//
//   mint_jwt --key PRIVATE.pem --email USER [--sub S] [--kid K] [--expires-in SECONDS]
//            [--iss ISSUER] [--azp CLIENT] [--padding BYTES]
//
// Prints the compact JWT on stdout. --expires-in may be negative (an expired token).
// --padding adds a claim of that many characters, for the long tokens real providers issue
// (Office 365's are 1.5-3 KB and have been seen above 4 KB).
#include <jwt.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::test {
namespace {

struct mint_options {
  std::string key_file;
  std::string email;
  std::string sub;
  std::string kid;
  std::string iss;
  std::string azp;
  long expires_in = 3600;
  long padding = 0;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "mint_jwt: %s\nusage: mint_jwt --key PRIVATE.pem --email USER [--sub S] [--kid K] "
               "[--expires-in SECONDS] [--iss ISSUER] [--azp CLIENT] [--padding BYTES]\n",
               why);
  return 2;
}

std::optional<mint_options> parse(int argc, char** argv, std::string& why) {
  mint_options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) {
      why = "missing value after " + std::string(arg);
      return std::nullopt;
    }
    const std::string value = argv[++i];
    if (arg == "--key") {
      o.key_file = value;
    } else if (arg == "--email") {
      o.email = value;
    } else if (arg == "--sub") {
      o.sub = value;
    } else if (arg == "--kid") {
      o.kid = value;
    } else if (arg == "--iss") {
      o.iss = value;
    } else if (arg == "--azp") {
      o.azp = value;
    } else if (arg == "--expires-in" || arg == "--padding") {
      char* end = nullptr;
      errno = 0;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (errno != 0 || end == value.c_str() || *end != '\0' || (arg == "--padding" && n < 0)) {
        why = std::string(arg) + " needs a whole number";
        return std::nullopt;
      }
      (arg == "--padding" ? o.padding : o.expires_in) = n;
    } else {
      why = "unknown option " + std::string(arg);
      return std::nullopt;
    }
  }
  if (o.key_file.empty() || o.email.empty()) {
    why = "--key and --email are required";
    return std::nullopt;
  }
  // Dovecot 2.3.19 requires `sub` even when the user name comes from another claim.
  if (o.sub.empty()) o.sub = o.email;
  return o;
}

struct jwt_deleter {
  void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};
struct c_string_deleter {
  void operator()(char* s) const noexcept { std::free(s); }
};

int mint(const mint_options& o) {
  std::ifstream in(o.key_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "mint_jwt: cannot read %s: %s\n", o.key_file.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const std::string key{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return 1;
  std::unique_ptr<jwt_t, jwt_deleter> token(raw);

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const long exp = static_cast<long>(now) + o.expires_in;
  // An expired token was also issued in the past, as a real one would have been.
  const long iat = o.expires_in < 0 ? exp - 3600 : static_cast<long>(now);

  int rc = 0;
  rc |= jwt_add_grant(token.get(), "sub", o.sub.c_str());
  rc |= jwt_add_grant(token.get(), "email", o.email.c_str());
  rc |= jwt_add_grant_int(token.get(), "iat", iat);
  rc |= jwt_add_grant_int(token.get(), "exp", exp);
  if (!o.iss.empty()) rc |= jwt_add_grant(token.get(), "iss", o.iss.c_str());
  if (!o.azp.empty()) rc |= jwt_add_grant(token.get(), "azp", o.azp.c_str());
  if (o.padding > 0) {
    const std::string pad(static_cast<std::size_t>(o.padding), 'p');
    rc |= jwt_add_grant(token.get(), "pad", pad.c_str());
  }
  if (!o.kid.empty()) rc |= jwt_add_header(token.get(), "kid", o.kid.c_str());
  // libjwt writes `"typ":"JWT"` itself for signed tokens; Dovecot 2.3.19 rejects tokens
  // without it.
  rc |= jwt_set_alg(token.get(), JWT_ALG_RS256, reinterpret_cast<const unsigned char*>(key.data()),
                    static_cast<int>(key.size()));
  if (rc != 0) {
    std::fprintf(stderr, "mint_jwt: cannot build the token (is %s an RSA private key?)\n",
                 o.key_file.c_str());
    return 1;
  }
  std::unique_ptr<char, c_string_deleter> encoded(jwt_encode_str(token.get()));
  if (!encoded) {
    std::fprintf(stderr, "mint_jwt: signing failed (is %s an RSA private key in PEM?)\n",
                 o.key_file.c_str());
    return 1;
  }
  std::printf("%s\n", encoded.get());
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mailoauth::test

int main(int argc, char** argv) {
  std::string why;
  const auto options = mailoauth::test::parse(argc, argv, why);
  if (!options) return mailoauth::test::usage(why.c_str());
  return mailoauth::test::mint(*options);
}
