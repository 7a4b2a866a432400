// HTTP requests to identity endpoints: checks and logging here, libcurl in a module that is
// loaded on the first request (curl_module.hpp says why).
#include "net/http_client.hpp"

#include "net/curl_module.hpp"

#include <mailoauth/secret.hpp>

#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>

#ifndef MAILOAUTH_HTTP_MODULE_FILE
#define MAILOAUTH_HTTP_MODULE_FILE "libmailoauth_curl.so"
#endif

namespace mailoauth::net {
namespace {

namespace urls = boost::urls;
using std::chrono::milliseconds;

/// Token responses are a few kilobytes; a megabyte means something is wrong, and a hostile or
/// broken endpoint must not make us buffer without bound.
constexpr std::size_t max_response_body = 1024 * 1024;

// ---- the module ----------------------------------------------------------------------------

struct http_module {
  const mailoauth_curl_api* api = nullptr;
  std::string error;  // why api is null
};

std::filesystem::path executable_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

http_module load_http_module() {
  // Where to look: $MAILOAUTH_MODULE_DIR alone when set (tests, unusual installs); else beside
  // the executable (the build tree) and then <prefix>/lib/mailoauth (the installed layout).
  // secure_getenv: a set-user-ID program must not load code named by its caller.
  std::vector<std::filesystem::path> dirs;
  if (const char* dir = ::secure_getenv("MAILOAUTH_MODULE_DIR"); dir != nullptr && *dir != '\0') {
    dirs.emplace_back(dir);
  } else if (const auto exe_dir = executable_dir(); !exe_dir.empty()) {
    dirs.push_back(exe_dir);
    dirs.push_back((exe_dir / ".." / "lib" / "mailoauth").lexically_normal());
  }

  std::string searched;
  for (const auto& dir : dirs) {
    const auto path = (dir / MAILOAUTH_HTTP_MODULE_FILE).string();
    searched += (searched.empty() ? "" : ", ") + dir.string();
    if (::access(path.c_str(), F_OK) != 0) continue;

    // RTLD_LOCAL: libcurl's symbols stay out of the global namespace; the module is never
    // unloaded, because libcurl keeps global state (OpenSSL, curl_global_init).
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      return {nullptr, "mailoauth's HTTP module " + path + " cannot be loaded (" +
                           (why != nullptr ? why : "unknown error") +
                           "); reinstall mailoauth and libcurl"};
    }
    void* symbol = ::dlsym(handle, MAILOAUTH_CURL_ENTRY_POINT);
    mailoauth_curl_entry_fn entry = nullptr;
    static_assert(sizeof entry == sizeof symbol);
    std::memcpy(&entry, &symbol, sizeof entry);  // POSIX: data and function pointers agree
    const mailoauth_curl_api* api = entry != nullptr ? entry(MAILOAUTH_CURL_ABI_VERSION) : nullptr;
    if (api == nullptr || api->abi_version != MAILOAUTH_CURL_ABI_VERSION ||
        api->size < sizeof(mailoauth_curl_api)) {
      return {nullptr, "mailoauth's HTTP module " + path +
                           " belongs to another version of mailoauth; reinstall mailoauth"};
    }
    spdlog::debug("http: loaded {} ({})", path, api->curl_version());
    return {api, {}};
  }
  return {nullptr, std::string("mailoauth's HTTP module (") + MAILOAUTH_HTTP_MODULE_FILE +
                       ") was not found (searched " + (searched.empty() ? "nothing" : searched) +
                       "); reinstall mailoauth, or set MAILOAUTH_MODULE_DIR to its directory"};
}

const http_module& module() {
  // Loaded once, thread-safely, on first use; a failure is remembered too.
  static const http_module instance = load_http_module();
  return instance;
}

// ---- checks --------------------------------------------------------------------------------

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (std::tolower(static_cast<unsigned char>(a[k])) !=
        std::tolower(static_cast<unsigned char>(b[k])))
      return false;
  }
  return true;
}

bool is_loopback_host(const urls::url_view& u) {
  switch (u.host_type()) {
    case urls::host_type::ipv4:
      return (u.host_ipv4_address().to_uint() >> 24) == 127;
    case urls::host_type::ipv6: {
      const auto a = u.host_ipv6_address();
      if (a.is_loopback()) return true;
      if (!a.is_v4_mapped()) return false;
      const auto bytes = a.to_bytes();
      return bytes[12] == 127;  // ::ffff:127.x.y.z
    }
    case urls::host_type::name:
      // Only the exact name: RFC 6761 reserves localhost, and curl resolves it to loopback
      // itself, without asking DNS.
      return iequals(u.encoded_host(), "localhost");
    default:
      return false;
  }
}

struct checked_url {
  std::string loopback_host;  // non-empty for http://
  std::string for_log;        // scheme://host:port/path, without userinfo, query or fragment
};

result<checked_url> check_url(const std::string& url) {
  const auto parsed = urls::parse_uri(url);
  if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty()) {
    return make_failure(errc::invalid_argument, "not an absolute http(s) URL: " + url);
  }
  const urls::url_view& u = *parsed;
  // Boost.URL 1.81 accepts a path that does not start with '/' after the authority, reading
  // "http://127.0.0.1.evil.example/" as host 127.0.0.1 and path ".evil.example/", where curl
  // (rightly) sees the host 127.0.0.1.evil.example. So the authority must be exactly what
  // follows "scheme://" up to the first '/', '?' or '#' (RFC 3986 section 3.2).
  std::string_view rest(url);
  rest.remove_prefix(std::min(rest.size(), u.scheme().size()));
  if (!rest.starts_with("://") ||
      rest.substr(3, rest.find_first_of("/?#", 3) - 3) != u.encoded_authority() ||
      (!u.encoded_path().empty() && !u.encoded_path().starts_with('/'))) {
    return make_failure(errc::invalid_argument, "not a well-formed http(s) URL: " + url);
  }
  checked_url out;
  out.for_log = std::string(u.scheme()) + "://" + std::string(u.encoded_host_and_port()) +
                std::string(u.encoded_path());
  if (u.scheme_id() == urls::scheme::https) return out;
  if (u.scheme_id() != urls::scheme::http) {
    return make_failure(errc::invalid_argument, "not an http(s) URL: " + out.for_log);
  }
  if (!is_loopback_host(u)) {
    return make_failure(errc::plaintext_refused,
                        "refusing plain http:// to " + std::string(u.encoded_host()) +
                            ", which is not a loopback address; the endpoint must use https://");
  }
  out.loopback_host = std::string(u.encoded_host());
  return out;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool valid_header(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_token_char(c)) return false;
  }
  // No CR, LF or NUL: a value must not be able to start another header.
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
}

// ---- Retry-After (RFC 9110 section 10.2.3) -------------------------------------------------

std::optional<long> parse_delay_seconds(std::string_view v) {
  if (v.empty() || v.size() > 9) return std::nullopt;  // nine digits: over 31 years
  long n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

/// IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110 requires senders to
/// use; parsed by hand because strptime() depends on the locale.
std::optional<std::time_t> parse_http_date(std::string_view v) {
  if (v.size() != 29 || v.substr(3, 2) != ", " || v.substr(25) != " GMT") return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t len) -> std::optional<int> {
    int n = 0;
    for (std::size_t k = at; k < at + len; ++k) {
      if (v[k] < '0' || v[k] > '9') return std::nullopt;
      n = n * 10 + (v[k] - '0');
    }
    return n;
  };
  static constexpr std::array<std::string_view, 12> months = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int month = -1;
  for (std::size_t k = 0; k < months.size(); ++k) {
    if (v.substr(8, 3) == months[k]) month = static_cast<int>(k);
  }
  const auto day = number(5, 2);
  const auto year = number(12, 4);
  const auto hour = number(17, 2);
  const auto minute = number(20, 2);
  const auto second = number(23, 2);
  if (month < 0 || !day || !year || !hour || !minute || !second || v[7] != ' ' || v[11] != ' ' ||
      v[16] != ' ' || v[19] != ':' || v[22] != ':' || *day < 1 || *day > 31 || *hour > 23 ||
      *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return ::timegm(&tm);
}

std::optional<long> parse_retry_after(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (auto seconds = parse_delay_seconds(v)) return seconds;
  if (auto when = parse_http_date(v)) {
    const auto delta = *when - std::time(nullptr);
    return delta > 0 ? static_cast<long>(delta) : 0L;
  }
  return std::nullopt;
}

bool unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

/// The length of form_encode(value), so that a body is allocated once, at its final size.
std::size_t encoded_size(std::string_view value) {
  std::size_t n = 0;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    n += unreserved(c) || c == ' ' ? std::size_t{1} : std::size_t{3};
  }
  return n;
}

/// Appends form_encode(value) to `out` in place: a secret is never encoded into a temporary.
template <class String>
void append_form_encoded(String& out, std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out += ch;
    } else if (c == ' ') {
      out += '+';  // RFC 6749 appendix B (HTML form encoding)
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    }
  }
}

}  // namespace

std::string_view form_field::wire_value() const noexcept {
  if (const auto* s = std::get_if<secret>(&value)) return s->reveal();
  return std::get<std::string>(value);
}

std::string form_encode(std::string_view value) {
  std::string out;
  out.reserve(encoded_size(value));
  append_form_encoded(out, value);
  return out;
}

mailoauth::detail::secret_buffer encode_form(const std::vector<form_field>& fields) {
  std::size_t size = fields.empty() ? 0 : fields.size() - 1;  // the '&'s
  for (const auto& f : fields) size += encoded_size(f.name) + 1 + encoded_size(f.wire_value());
  mailoauth::detail::secret_buffer body;
  body.reserve(size);
  for (const auto& f : fields) {
    if (!body.empty()) body += '&';
    append_form_encoded(body, f.name);
    body += '=';
    append_form_encoded(body, f.wire_value());
  }
  return body;
}

bool url_allowed(const std::string& url) {
  const auto checked = check_url(url);
  return checked.has_value();
}

result<http_response> perform(const http_request& request) {
  const auto started = std::chrono::steady_clock::now();
  const bool post = request.method == "POST";
  if (!post && request.method != "GET") {
    return make_failure(errc::invalid_argument, "unsupported HTTP method " + request.method);
  }
  // Checked before anything else, the module included: no I/O happens for a refused URL.
  auto target = check_url(request.url);
  if (!target) return target.error();
  if (!post && !request.form.empty()) {
    return make_failure(errc::invalid_argument,
                        "a GET request carries no form (" + target->for_log + ")");
  }
  if (request.timeout.count() <= 0 || request.connect_timeout.count() <= 0) {
    return make_failure(errc::invalid_argument, "HTTP timeouts must be positive");
  }

  // Both wiped when the request is done, on every path: the body holds the form's secrets, the
  // header lines may hold an Authorization header.
  const auto body = encode_form(request.form);
  std::vector<mailoauth::detail::secret_buffer> lines;
  lines.reserve(request.headers.size() + 3);
  bool accept_given = false;
  for (const auto& [name, value] : request.headers) {
    if (!valid_header(name, value)) {
      return make_failure(errc::invalid_argument, "invalid HTTP header " + name);
    }
    accept_given = accept_given || iequals(name, "Accept");
    auto& line = lines.emplace_back();
    line.reserve(name.size() + 2 + value.size());
    line.append(name).append(": ").append(value);
  }
  if (!accept_given) lines.emplace_back("Accept: application/json");
  if (post) {
    lines.emplace_back("Content-Type: application/x-www-form-urlencoded");
    lines.emplace_back("Expect:");  // no 100-continue round trip for a small body
  }
  std::vector<const char*> header_ptrs;  // taken once `lines` no longer grows
  for (const auto& l : lines) header_ptrs.push_back(l.c_str());

  const auto& m = module();
  if (m.api == nullptr) return make_failure(errc::http_failed, m.error);

  const auto timeout = std::min(request.timeout.count(),
                                static_cast<milliseconds::rep>(std::numeric_limits<long>::max()));
  mailoauth_curl_request creq{};
  creq.method = request.method.c_str();
  creq.url = request.url.c_str();
  creq.body = body.data();
  creq.body_size = body.size();
  creq.headers = header_ptrs.data();
  creq.header_count = header_ptrs.size();
  creq.timeout_ms = static_cast<long>(timeout);
  creq.connect_timeout_ms = static_cast<long>(std::min(request.connect_timeout.count(), timeout));
  creq.cafile = request.cafile.c_str();
  creq.max_body = max_response_body;
  creq.loopback_host = target->loopback_host.empty() ? nullptr : target->loopback_host.c_str();

  mailoauth_curl_response cres{};
  const int outcome = m.api->perform(&creq, &cres);
  http_response response;
  if (outcome == mailoauth_curl_ok) {
    response.status = cres.status;
    // The module wipes its copy in release(); this one is wiped with the response.
    if (cres.body != nullptr) response.body.assign(cres.body, cres.body_size);
    if (cres.content_type != nullptr) response.content_type = cres.content_type;
    if (cres.retry_after != nullptr) response.retry_after = parse_retry_after(cres.retry_after);
  }
  const std::string curl_said = cres.error;
  m.api->release(&cres);

  const auto elapsed =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started).count();
  // Method, URL without its query, status, time: never the body or the headers (secrets).
  if (outcome == mailoauth_curl_ok) {
    spdlog::debug("http: {} {} -> {} in {} ms", request.method, target->for_log, response.status,
                  elapsed);
    return response;
  }
  spdlog::debug("http: {} {} failed in {} ms: {}", request.method, target->for_log, elapsed,
                curl_said);

  switch (outcome) {
    case mailoauth_curl_timed_out:
      return make_failure(errc::timeout,
                          "no answer from " + target->for_log + " in time (" + curl_said + ")");
    case mailoauth_curl_too_large:
      return make_failure(errc::malformed_response,
                          "the response from " + target->for_log + " is larger than 1 MiB");
    case mailoauth_curl_tls_verify_failed:
      return make_failure(
          errc::certificate_verify_failed,
          "the certificate of " + target->for_log + " could not be verified (" + curl_said + ")");
    case mailoauth_curl_tls_failed:
      return make_failure(errc::tls_handshake_failed,
                          "TLS with " + target->for_log + " failed (" + curl_said + ")");
    case mailoauth_curl_refused:
      return make_failure(
          target->loopback_host.empty() ? errc::invalid_argument : errc::plaintext_refused,
          "refused " + target->for_log + ": " + curl_said);
    default:
      return make_failure(errc::http_failed, "cannot reach " + target->for_log + ": " + curl_said);
  }
}

}  // namespace mailoauth::net
