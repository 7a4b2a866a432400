// Drives the sandbox's identity platform with fuzzed requests, straight into
// detail::authority::handle (what the HTTPS server calls for every request it has read): form
// and query decoding, client authentication headers, cookies, JSON and other bodies, and the
// flows across several requests. Checks every answer besides the sanitizers.
//
// Input: requests separated by NUL bytes, each written like HTTP/1.1 without the framing:
//
//   METHOD TARGET
//   Header: value          (Content-Type, Authorization, Cookie, client-request-id;
//                           Advance: N moves the platform's clock N seconds first)
//
//   body
//
// Values the platform handed out earlier in the same input replace placeholders in the target,
// the header values and the body, so that a flow can go on past its random parts: {ctx} (the
// last page's flow context), {code}, {device_code}, {user_code}, {refresh_token}, {session}
// (the browser session cookie's value), and the fixed {password}, {secret} (the confidential
// client's) and {basic} (its Authorization header). fuzz/README.md lists the checks.
#include "common/web_form.hpp"
#include "sandbox/core/jwt.hpp"
#include "sandbox/core/pki.hpp"
#include "sandbox/identity/authority.hpp"

#include <mailoauth/sasl.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "fuzz_check.hpp"

namespace {

using namespace mailoauth;
namespace json = boost::json;
using sandbox::detail::http_in;
using sandbox::detail::http_out;

constexpr std::size_t max_requests = 16;

const std::string tenant_id = "6f1c1a52-3c6d-4b8e-9a51-0d3b0c7a2e11";
const std::string password = "Passw0rd-fuzz!";
const std::string daemon_id = "2f7d3e90-4166-4e3d-9ca0-8d304db15c03";
const std::string daemon_secret = "daemon~secret.value-1234567890";

sandbox::directory fuzz_directory() {
  sandbox::directory d;
  d.tenant = {tenant_id, "contoso.onmicrosoft.com", "Contoso (fuzz)"};
  const std::vector<std::string> delegated{"IMAP.AccessAsUser.All",
                                           "POP.AccessAsUser.All",
                                           "SMTP.Send",
                                           "offline_access",
                                           "openid",
                                           "profile",
                                           "email"};
  sandbox::app_registration mail;
  mail.client_id = "0d5b1c7e-2f44-4c1b-9a8e-6b1e2b9f3a01";
  mail.display_name = "mail <fuzz> & \"co\"";
  mail.object_id = "4b9f50b2-6388-4a5f-8ec2-af5260d37e05";
  mail.redirect_uris = {"http://localhost", "https://app.example/cb", "ms-app://s-1-15/"};
  mail.delegated_permissions = delegated;
  d.applications.push_back(mail);

  auto implicit = mail;
  implicit.client_id = "1e6c2d8f-3055-4d2c-8b9f-7c2f3ca04b02";
  implicit.display_name = "implicit (fuzz)";
  implicit.implicit_access_tokens = true;
  implicit.implicit_id_tokens = true;
  implicit.admin_consent = true;
  d.applications.push_back(implicit);

  sandbox::app_registration daemon;
  daemon.client_id = daemon_id;
  daemon.display_name = "daemon (fuzz)";
  daemon.object_id = "5ca061c3-7499-4b60-9fd3-b07371e48f06";
  daemon.confidential = true;
  daemon.client_secret = secret(daemon_secret);
  daemon.redirect_uris = {"https://daemon.example/cb"};
  daemon.delegated_permissions = delegated;
  daemon.application_permissions = sandbox::known_application_permissions();
  daemon.admin_consent = true;
  d.applications.push_back(daemon);

  d.users.push_back({"test@contoso.onmicrosoft.com", secret(password), "Test User",
                     "6db172d4-85aa-4c71-a0e4-c18482f59007"});
  return d;
}

sandbox::pki& keys() {
  static sandbox::pki k = [] {
    // Made once per process in a scratch folder that is removed at once: the fuzzer leaves
    // nothing behind.
    std::error_code ec;
    auto dir = std::filesystem::temp_directory_path(ec) /
               ("mailoauth-fuzz-identity-" + std::to_string(::getpid()));
    auto made = sandbox::load_or_create_pki(dir);
    std::filesystem::remove_all(dir, ec);
    if (!made) {
      std::fprintf(stderr, "cannot make the sandbox's keys: %s\n", made.error().message.c_str());
      std::abort();
    }
    return std::move(*made);
  }();
  return k;
}

// MAILOAUTH_FUZZ_VERBOSE=1 prints each request line and its answer's status, to read what a
// saved input makes the platform do: `MAILOAUTH_FUZZ_VERBOSE=1 fuzz_identity_request FILE`.
bool verbose() {
  static const bool on = std::getenv("MAILOAUTH_FUZZ_VERBOSE") != nullptr;
  return on;
}

std::ostringstream& log_text() {
  static std::ostringstream out;
  return out;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

bool contains(std::string_view hay, std::string_view needle) {
  return !needle.empty() && hay.find(needle) != std::string_view::npos;
}

// What the platform handed out so far, for the placeholders, and every credential, for the
// checks that none of them is logged.
struct harvest {
  std::map<std::string, std::string> values;
  std::vector<std::string> credentials;

  void keep(const std::string& name, std::string v, bool credential) {
    if (v.empty()) return;
    // What the platform hands out is long and random (32 bytes and more); a short value is
    // some other text that happened to follow the same marker, and proves nothing in the log.
    if (credential && v.size() >= 32) credentials.push_back(v);
    values[name] = std::move(v);
  }
};

std::string between(std::string_view text, std::string_view start, std::string_view end) {
  const auto at = text.find(start);
  if (at == std::string_view::npos) return {};
  const auto from = at + start.size();
  const auto to = text.find_first_of(end, from);
  return std::string(text.substr(from, to == std::string_view::npos ? to : to - from));
}

std::string substitute(std::string s, const harvest& h) {
  if (s.find('{') == std::string::npos) return s;
  for (const auto& [k, v] : h.values) replace_all(s, "{" + k + "}", v);
  return s;
}

struct parsed_request {
  http_in in;
  long advance = 0;
};

parsed_request parse_request(std::string_view text, const harvest& h) {
  parsed_request r;
  const auto line_end = text.find('\n');
  auto line = text.substr(0, line_end);
  text = line_end == std::string_view::npos ? std::string_view() : text.substr(line_end + 1);
  const auto space = line.find(' ');
  r.in.method = std::string(line.substr(0, space));
  r.in.target = space == std::string_view::npos
                    ? std::string("/")
                    : substitute(std::string(line.substr(space + 1)), h);
  while (!text.empty()) {
    const auto end = text.find('\n');
    line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty()) break;
    const auto colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    const auto name = line.substr(0, colon);
    auto value = substitute(std::string(line.substr(colon + 2)), h);
    if (name == "Content-Type") r.in.content_type = std::move(value);
    if (name == "Authorization") r.in.authorization = std::move(value);
    if (name == "Cookie") r.in.cookie = std::move(value);
    if (name == "client-request-id") r.in.client_request_id = std::move(value);
    if (name == "Advance") r.advance = std::strtol(value.c_str(), nullptr, 10) % 100000;
  }
  r.in.body = substitute(std::string(text), h);
  return r;
}

const std::string* header(const http_out& out, std::string_view name) {
  for (const auto& [k, v] : out.headers)
    if (k == name) return &v;
  return nullptr;
}

// Every piece of text the platform may read from a request: the method, the target, the
// header values, and each field name and value of the query and the body, decoded (a part
// that does not decode, raw), and the halves of Basic credentials. `own_field`'s values are
// left out: that field is where the credential belongs.
std::vector<std::string> request_texts(const http_in& in, std::string_view own_field) {
  std::vector<std::string> out{in.method, in.target, in.content_type, in.cookie,
                               in.client_request_id};
  const auto add_form = [&](std::string_view form) {
    while (!form.empty()) {
      const auto amp = form.find('&');
      const auto part = form.substr(0, amp);
      form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
      const auto eq = part.find('=');
      const auto name = mailoauth::detail::form_decode(part.substr(0, eq));
      out.push_back(name ? *name : std::string(part));
      if (eq == std::string_view::npos) continue;
      if (name && *name == own_field) continue;
      const auto value = mailoauth::detail::form_decode(part.substr(eq + 1));
      out.push_back(value ? *value : std::string(part.substr(eq + 1)));
    }
  };
  const auto q = in.target.find('?');
  if (q != std::string::npos) add_form(std::string_view(in.target).substr(q + 1));
  add_form(in.body);
  const auto& a = in.authorization;
  if (a.size() > 6 && (a.starts_with("Basic ") || a.starts_with("basic "))) {
    if (const auto decoded = sasl::base64_decode(a.substr(6))) {
      const auto colon = decoded->find(':');
      add_form("i=" + decoded->substr(0, colon));
      if (colon != std::string::npos && own_field != "client_secret")
        add_form("s=" + decoded->substr(colon + 1));
    }
  } else {
    out.push_back(a);
  }
  return out;
}

// Whether the request gives `text` anywhere but in its own field: a username box holding the
// password is shown again on the sign-in page, and a client_id holding the secret is quoted
// in the error, as Entra ID does; that is no leak.
bool carries_elsewhere(const http_in& in, const std::string& text, std::string_view own_field) {
  for (const auto& piece : request_texts(in, own_field))
    if (contains(piece, text)) return true;
  return false;
}

void check_and_harvest(const http_in& in, const http_out& out, std::int64_t now, harvest& h) {
  const bool password_given = carries_elsewhere(in, password, "passwd");
  const bool secret_given = carries_elsewhere(in, daemon_secret, "client_secret");
  MAILOAUTH_FUZZ_CHECK(out.status != 500, "an internal error (an exception or a signing failure)");
  MAILOAUTH_FUZZ_CHECK(out.status >= 200 && out.status < 600, "an HTTP status out of range");
  MAILOAUTH_FUZZ_CHECK(!out.content_type.empty(), "a response without a Content-Type");
  MAILOAUTH_FUZZ_CHECK(header(out, "x-ms-request-id") && header(out, "client-request-id"),
                       "a response without Entra ID's request ids");
  for (const auto& [k, v] : out.headers) {
    // A header value with a line break would let the request write headers of its own.
    MAILOAUTH_FUZZ_CHECK(v.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
                         "CR, LF or NUL in a response header");
    MAILOAUTH_FUZZ_CHECK(password_given || !contains(v, password), "the password in a header");
    MAILOAUTH_FUZZ_CHECK(secret_given || !contains(v, daemon_secret), "the secret in a header");
  }
  MAILOAUTH_FUZZ_CHECK(password_given || !contains(out.body, password), "the password in a body");
  MAILOAUTH_FUZZ_CHECK(secret_given || !contains(out.body, daemon_secret), "the secret in a body");

  if (out.content_type.starts_with("application/json")) {
    boost::system::error_code ec;
    const auto doc = json::parse(out.body, ec);
    MAILOAUTH_FUZZ_CHECK(!ec && doc.is_object(), "a JSON response that is not a JSON object");
    const auto& o = doc.get_object();
    if (out.status >= 400) {
      const auto* error = o.if_contains("error");
      MAILOAUTH_FUZZ_CHECK(error && error->is_string() && !error->get_string().empty(),
                           "an error response without an error code");
      if (const auto* codes = o.if_contains("error_codes")) {
        // Entra ID's shape: the description starts with the AADSTS code it lists.
        MAILOAUTH_FUZZ_CHECK(
            codes->is_array() && codes->get_array().size() == 1 && codes->get_array()[0].is_int64(),
            "error_codes is not one number");
        const auto* d = o.if_contains("error_description");
        MAILOAUTH_FUZZ_CHECK(
            d && d->is_string() &&
                d->get_string().starts_with(
                    "AADSTS" + std::to_string(codes->get_array()[0].get_int64()) + ":"),
            "error_description does not start with its AADSTS code");
      }
    }
    for (const auto* key :
         {"device_code", "user_code", "refresh_token", "access_token", "id_token"}) {
      const auto* v = o.if_contains(key);
      if (v && v->is_string())
        h.keep(key, std::string(v->get_string()), std::string_view(key) != "user_code");
    }
    if (const auto* at = o.if_contains("access_token"); at && at->is_string()) {
      // What the platform issues, the mail servers accept.
      const auto& k = keys().token_key;
      const auto claims = sandbox::verify_access_token(at->get_string(), k.public_pem, now);
      MAILOAUTH_FUZZ_CHECK(claims.has_value(), "an issued access token does not verify");
    }
  } else if (out.content_type.starts_with("text/html")) {
    // Everything the request said is escaped on a page: a tag from the request never
    // survives.
    MAILOAUTH_FUZZ_CHECK(!contains(out.body, "<x-fuzz"), "request text unescaped in a page");
    if (!out.body.empty())
      MAILOAUTH_FUZZ_CHECK(contains(out.body, "data-page=\""), "a page that does not name itself");
    h.keep("ctx", between(out.body, "name=\"ctx\" value=\"", "\""), true);
    h.keep("code", between(out.body, "name=\"code\" value=\"", "\""), true);
  }
  if (const auto* location = header(out, "Location")) {
    h.keep("code", between(*location, "code=", "&#"), true);
    h.keep("access_token", between(*location, "access_token=", "&#"), true);
  }
  if (const auto* cookie = header(out, "Set-Cookie"))
    h.keep("session", between(*cookie, "mailoauth_sandbox_session=", ";"), true);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  keys();
  // Every log line of every request, at the most verbose level, to check that none names a
  // credential.
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text());
  auto logger = std::make_shared<spdlog::logger>("fuzz", sink);
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  sandbox::identity_options o;
  o.dir = fuzz_directory();
  o.keys = keys();
  o.device_poll_interval = std::chrono::seconds(5);
  // A clock of the input's own, from a fixed start: expiry and slow_down are reachable, and
  // an input does the same whenever it runs.
  auto now = std::make_shared<std::chrono::system_clock::time_point>(
      std::chrono::sys_days(std::chrono::year(2026) / 1 / 1));
  o.clock = [now] { return *now; };
  sandbox::detail::authority auth(std::move(o));
  auth.set_origin("https://127.0.0.1:4430");

  harvest h;
  h.values["password"] = password;
  h.values["secret"] = daemon_secret;
  h.values["basic"] = "Basic " + sasl::base64_encode(daemon_id + ":" + daemon_secret);

  std::size_t count = 0;
  std::size_t pos = 0;
  while (pos <= input.size() && count++ < max_requests) {
    const auto end = std::min(input.find('\0', pos), input.size());
    const auto request = parse_request(input.substr(pos, end - pos), h);
    pos = end + 1;
    *now += std::chrono::seconds(request.advance);
    log_text().str({});
    const auto out = auth.handle(request.in);
    if (verbose()) {
      const auto* location = header(out, "Location");
      std::fprintf(stderr, "%s %s -> %u %s %s\n", request.in.method.c_str(),
                   request.in.target.substr(0, 100).c_str(), out.status, out.content_type.c_str(),
                   location ? location->substr(0, 100).c_str() : "");
    }
    check_and_harvest(request.in, out, std::chrono::system_clock::to_time_t(*now), h);

    // The log names a request by its method and path, and by nothing else it sent: a
    // credential is in the log only where the request itself put it in one of those.
    const auto log = log_text().str();
    const auto& t = request.in.target;
    const auto named = request.in.method + " " + t.substr(0, t.find('?'));
    const auto unlogged = [&](const std::string& c) {
      return contains(named, c) || !contains(log, c);
    };
    MAILOAUTH_FUZZ_CHECK(unlogged(password), "the password in the log");
    MAILOAUTH_FUZZ_CHECK(unlogged(daemon_secret), "the client secret in the log");
    for (const auto& c : h.credentials)
      MAILOAUTH_FUZZ_CHECK(unlogged(c), "an issued credential in the log");
  }
  return 0;
}
