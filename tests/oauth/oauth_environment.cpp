#include "oauth_environment.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mailoauth::oauth_test {
namespace {

namespace fs = std::filesystem;

const std::string source_dir = MAILOAUTH_SOURCE_DIR;
const std::string oidc_dir = source_dir + "/tests/support/oidc";

fs::path make_temp_dir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  return pattern;
}

struct shared_state {
  fs::path dir;  // the server's folder (log, key), and Dovecot's
  oidc_server server;
  bool server_up = false;
  std::string unavailable;
  std::optional<test::dovecot_instance> dovecot;
  fs::path dovecot_dir;
  std::string dovecot_failed;
};

shared_state& state() {
  static shared_state s;
  return s;
}

std::string base64url_decode(std::string_view in) {
  std::string std(in);
  for (auto& c : std) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (std.size() % 4 != 0) std += '=';
  std::string out(std.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(std.data()),
                                static_cast<int>(std.size()));
  if (n < 0) throw std::runtime_error("not base64url");
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding's zero bytes too.
  for (std::size_t k = std.size(); k > 0 && std[k - 1] == '='; --k) --len;
  out.resize(len);
  return out;
}

std::vector<std::string> split_jwt(const std::string& token) {
  std::vector<std::string> parts;
  std::stringstream s(token);
  std::string part;
  while (std::getline(s, part, '.')) parts.push_back(part);
  if (parts.size() != 3)
    throw std::runtime_error("not a JWT (" + std::to_string(parts.size()) +
                             " dot-separated parts)");
  return parts;
}

}  // namespace

// ---- the authorization server --------------------------------------------------------------

namespace {

// One RSA key for every test process of this build tree: the server then skips generating one
// (about half a second each time on a loaded machine). Made once, published with link(2), so
// that concurrent test processes all read a whole file (the first one made wins).
fs::path shared_signing_key(const fs::path& scratch) {
  const fs::path key = fs::path(MAILOAUTH_BUILD_DIR) / "tests" / "oauth" / "oidc-signing-key.pem";
  if (fs::exists(key)) return key;
  const fs::path made = scratch / "signing-key.pem";
  const auto r = run({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                      "-out", made.string()},
                     {}, std::chrono::seconds(120));
  if (r.exit_code != 0) return made;  // the server makes its own
  fs::create_directories(key.parent_path());
  if (::link(made.c_str(), key.c_str()) != 0 && errno != EEXIST) return made;
  return key;
}

}  // namespace

void oidc_server::start(const fs::path& dir) {
  log_file_ = dir / "token.log";
  process_ = std::make_unique<child>(
      std::vector<std::string>{"node", oidc_dir + "/server.mjs", "--port", "0", "--log",
                               log_file_.string(), "--key-file", shared_signing_key(dir).string()},
      child_options{.unset_env = {"OIDC_PORT"}});
  // Node, oidc-provider and key generation on a loaded machine: give it time.
  const bool ready = process_->wait_for(
      [](const std::string& out, const std::string&) {
        return out.find("\"ready\":true") != std::string::npos &&
               out.find('\n') != std::string::npos;
      },
      std::chrono::seconds(90));
  if (!ready) {
    auto r = process_->wait(std::chrono::seconds(1));
    process_.reset();
    throw std::runtime_error("the test authorization server did not start:\n" + r.describe());
  }
  const auto line = process_->out().substr(0, process_->out().find('\n'));
  const auto info = boost::json::parse(line).as_object();
  issuer_ = std::string(info.at("issuer").as_string());
  port_ = static_cast<std::uint16_t>(info.at("port").to_number<int>());
  initial_config_ = get("/test/config").as_object();
  const auto key = get("/test/key").as_object();
  public_pem_ = std::string(key.at("pem").as_string());
  dovecot_key_path_ = std::string(key.at("dovecot_key_path").as_string());
}

void oidc_server::stop() noexcept {
  if (!process_) return;
  process_->signal_group(SIGTERM);
  process_->wait(std::chrono::seconds(10));  // kills it after that
  process_.reset();
}

// The test hooks over a plain HTTP/1.1 connection (a curl process per call cost a tenth of a
// second each on a loaded machine, several times per test).
json::value oidc_server::request(const std::string& method, const std::string& path,
                                 const std::string& body) const {
  const auto fail = [&](const std::string& why) {
    return std::runtime_error(method + " " + issuer_ + path + ": " + why);
  };
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail(std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  timeval tv{60, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw fail(std::string("connect: ") + std::strerror(errno));
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                    "\r\nAccept: application/json\r\nConnection: close\r\n";
  if (!body.empty())
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  for (std::size_t done = 0; done < req.size();) {
    const auto n = ::send(fd, req.data() + done, req.size() - done, MSG_NOSIGNAL);
    if (n <= 0) throw fail(std::string("send: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[8192];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) throw fail(std::string("recv: ") + std::strerror(errno));
    if (n == 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  const auto head_end = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.1 ") || head_end == std::string::npos)
    throw fail("not an HTTP answer: " + answer.substr(0, 200));
  const auto status = answer.substr(9, 3);
  auto head = answer.substr(0, head_end);
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string payload = answer.substr(head_end + 4);
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    std::string joined;
    for (std::size_t at = 0;;) {
      const auto line_end = payload.find("\r\n", at);
      if (line_end == std::string::npos) throw fail("broken chunked body");
      const auto size = std::stoul(payload.substr(at, line_end - at), nullptr, 16);
      if (size == 0) break;
      joined += payload.substr(line_end + 2, size);
      at = line_end + 2 + size + 2;
    }
    payload = std::move(joined);
  }
  if (status.empty() || status[0] != '2') throw fail("HTTP " + status + ": " + payload);
  return boost::json::parse(payload);
}

json::value oidc_server::get(const std::string& path) const {
  return request("GET", path, {});
}

json::value oidc_server::post(const std::string& path, const json::object& body) const {
  return request("POST", path, boost::json::serialize(body));
}

json::value oidc_server::del(const std::string& path) const {
  return request("DELETE", path, {});
}

std::vector<json::object> oidc_server::log_after(std::int64_t seq) const {
  std::vector<json::object> out;
  std::ifstream in(log_file_);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    // The server writes each line whole (writeSync) before answering; a torn last line can
    // only be one still being written for a request nobody waits on.
    if (ec || !v.is_object()) continue;
    if (v.as_object().at("seq").to_number<std::int64_t>() > seq) out.push_back(v.as_object());
  }
  return out;
}

std::int64_t oidc_server::last_seq() const {
  const auto all = log_after(0);
  return all.empty() ? 0 : all.back().at("seq").to_number<std::int64_t>();
}

// ---- the environment -----------------------------------------------------------------------

void environment::SetUp() {
  auto& s = state();
  try {
    s.dir = make_temp_dir("mailoauth-oauth-env.");
    s.server.start(s.dir);
    s.server_up = true;
  } catch (const std::exception& e) {
    s.unavailable = e.what();
    // Not fatal (that would make gtest skip the tests): each test fails when it asks for the
    // server.
    ADD_FAILURE() << "the test authorization server is not available: " << e.what()
                  << "\n(is node installed, and `npm ci` done in tests/support/oidc?)";
  }
}

void environment::TearDown() {
  auto& s = state();
  s.server.stop();
  s.server_up = false;
  if (!s.dovecot_dir.empty()) {
    run({"bash", source_dir + "/tests/support/dovecot/dovecot-ctl.sh", "stop",
         s.dovecot_dir.string()},
        {}, std::chrono::seconds(60));
    s.dovecot.reset();
  }
  if (!s.dir.empty() && std::getenv("MAILOAUTH_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ignored;
    fs::remove_all(s.dir, ignored);
  }
}

oidc_server& server() {
  auto& s = state();
  if (!s.server_up)
    throw std::runtime_error("no test authorization server: " +
                             (s.unavailable.empty() ? std::string("not started") : s.unavailable));
  return s.server;
}

const test::dovecot_instance& dovecot() {
  auto& s = state();
  if (s.dovecot) return *s.dovecot;
  if (!s.dovecot_failed.empty()) throw std::runtime_error(s.dovecot_failed);
  const auto& srv = server();
  try {
    s.dovecot_dir = s.dir / "dovecot";
    std::vector<std::string> argv{
        "bash",         source_dir + "/tests/support/dovecot/dovecot-ctl.sh",
        "start",        s.dovecot_dir.string(),
        "--mechanisms", "xoauth2 oauthbearer",
        "--owner-pid",  std::to_string(::getpid())};
    const fs::path certs = fs::path(MAILOAUTH_BUILD_DIR) / "test-certs";
    if (fs::exists(certs / "ca.pem") && fs::exists(certs / "server.pem"))
      argv.insert(argv.end(), {"--certs", certs.string()});
    const auto r = run(argv, {}, std::chrono::seconds(180));
    if (r.exit_code != 0) throw std::runtime_error("dovecot-ctl.sh start failed:\n" + r.describe());
    std::string why;
    auto d = test::dovecot_instance::load(s.dovecot_dir, why);
    if (!d) throw std::runtime_error(why);
    // Dovecot validates JWTs with KEYDICT/<azp or default>/<alg>/<kid>; the server's tokens have
    // no azp and the server's kid, so its public key goes there (a new kid: nothing cached).
    const fs::path key = fs::path(d->get("RUNTIME")) / "keydict" / srv.dovecot_key_path();
    fs::create_directories(key.parent_path());
    write_file(key, srv.public_pem(), 0644);
    s.dovecot = std::move(*d);
  } catch (const std::exception& e) {
    s.dovecot_failed = std::string("the test Dovecot is not available: ") + e.what();
    throw std::runtime_error(s.dovecot_failed);
  }
  return *s.dovecot;
}

// ---- helpers -------------------------------------------------------------------------------

json::object jwt_payload(const std::string& token) {
  const auto parts = split_jwt(token);
  return boost::json::parse(base64url_decode(parts[1])).as_object();
}

bool jwt_signature_valid(const std::string& token) {
  const auto parts = split_jwt(token);
  const std::string signed_part = parts[0] + "." + parts[1];
  const std::string signature = base64url_decode(parts[2]);
  const auto& pem = server().public_pem();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) throw std::runtime_error("cannot read the server's public key");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

run_result run_browser(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"node", oidc_support("browser.mjs")};
  argv.insert(argv.end(), args.begin(), args.end());
  // Chromium under load: browser.mjs's own timeout is given in args; this is the backstop.
  return run(argv, {}, std::chrono::seconds(180));
}

std::string user_code_in(const std::string& err) {
  const auto at = err.find("Code: ");
  if (at == std::string::npos) return {};
  const auto end = err.find('\n', at);
  if (end == std::string::npos) return {};
  return err.substr(at + 6, end - at - 6);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string wait_for_file(const fs::path& p, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    // Both helpers write their one line in a single call; a file with a newline is complete.
    if (fs::exists(p, ec)) {
      auto text = read_file(p);
      if (!text.empty() && text.back() == '\n') return text;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

void write_file(const fs::path& p, const std::string& text, unsigned mode) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + p.string());
  ::chmod(p.c_str(), static_cast<mode_t>(mode));
}

std::vector<std::string> leaked(const std::string& haystack,
                                const std::vector<std::string>& secrets) {
  std::vector<std::string> found;
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    // The whole secret, and its tail: the tail of a JWT is its signature, unique to it (its head
    // is the same header for every token), and a truncated secret is still a leak.
    const auto tail = s.substr(s.size() - std::min<std::size_t>(s.size(), 20));
    if (haystack.find(s) != std::string::npos || haystack.find(tail) != std::string::npos)
      found.push_back("..." + tail);
  }
  return found;
}

// ---- the fixture ---------------------------------------------------------------------------

void oauth_test::SetUp() {
  scratch_ = make_temp_dir("mailoauth-oauth-test.");
  config_path_ = scratch_ / "config.toml";
  state_dir_ = scratch_ / "state";
  fs::create_directories(scratch_ / "home");
  auto& srv = server();
  // Each test starts from the server's initial settings, whatever the one before changed.
  srv.post("/test/reset", {});
  srv.del("/test/next-error");
  srv.post("/test/config", srv.initial_config());
  log_start_ = srv.last_seq();
}

void oauth_test::TearDown() {
  if (HasFailure()) {
    std::cerr << "scratch folder: " << scratch_ << "\nauthorization server log (this test):\n";
    try {
      for (const auto& e : log()) std::cerr << "  " << boost::json::serialize(e) << "\n";
    } catch (...) {
    }
  }
  if (std::getenv("MAILOAUTH_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ignored;
    fs::remove_all(scratch_, ignored);
  }
}

std::string oauth_test::account_toml(const account_spec& spec) {
  std::ostringstream t;
  t << "[accounts." << spec.name << "]\n"
    << "provider = \"custom\"\n"
    << "issuer = \"" << (spec.issuer.empty() ? server().issuer() : spec.issuer) << "\"\n"
    << "client_id = \"" << spec.client_id << "\"\n"
    << "username = \"" << user_name << "\"\n";
  if (!spec.flow.empty()) t << "flow = \"" << spec.flow << "\"\n";
  if (spec.client_id == "mailoauth-confidential" && spec.flow == "client-credentials") {
    t << "scopes = [\"https://outlook.office365.com/.default\"]\n";
  } else {
    t << "scopes = [\"https://outlook.office365.com/IMAP.AccessAsUser.All\", "
         "\"https://outlook.office365.com/POP.AccessAsUser.All\", "
         "\"https://outlook.office365.com/SMTP.Send\", \"offline_access\"]\n";
  }
  for (const auto& line : spec.extra) t << line << "\n";
  if (spec.mail_servers) {
    const auto& d = dovecot();
    t << "cafile = \"" << d.ca_file() << "\"\n"
      << "[accounts." << spec.name << ".imap]\nhost = \"127.0.0.1\"\nport = " << d.imaps_port()
      << "\nsecurity = \"implicit\"\n"
      << "[accounts." << spec.name << ".pop3]\nhost = \"127.0.0.1\"\nport = " << d.pop3s_port()
      << "\nsecurity = \"implicit\"\n"
      << "[accounts." << spec.name << ".smtp]\nhost = \"127.0.0.1\"\nport = " << d.submission_port()
      << "\nsecurity = \"starttls\"\n";
  } else {
    // A custom provider needs its servers; these are never contacted.
    t << "[accounts." << spec.name << ".imap]\nhost = \"127.0.0.1\"\nport = 1\n"
      << "[accounts." << spec.name << ".pop3]\nhost = \"127.0.0.1\"\nport = 1\n"
      << "[accounts." << spec.name << ".smtp]\nhost = \"127.0.0.1\"\nport = 1\n";
  }
  return t.str();
}

std::string oauth_test::microsoft_account_toml(const std::string& name) const {
  const auto& iss = server().issuer();
  const std::vector<std::string> lines = {
      "[accounts." + name + "]",
      "provider = \"microsoft\"",
      "tenant = \"contoso.example\"",
      "authority = \"" + iss + "\"",
      "authorization_endpoint = \"" + iss + "/auth\"",
      "token_endpoint = \"" + iss + "/token\"",
      "device_authorization_endpoint = \"" + iss + "/device/auth\"",
      "client_id = \"mailoauth-native\"",
      "username = \"" + user_name + "\"",
  };
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  return text;
}

void oauth_test::write_config(const std::vector<account_spec>& accounts) {
  std::string text = "default = \"" + accounts.front().name + "\"\n\n";
  for (const auto& a : accounts) text += account_toml(a) + "\n";
  write_config_text(text);
}

void oauth_test::write_config_text(const std::string& toml) {
  write_file(config_path_, toml, 0600);
}

std::vector<std::string> oauth_test::mailoauth_argv(const std::vector<std::string>& args) const {
  // $MAILOAUTH_TEST_BINARY runs the suite against another build (an installed mailoauth).
  const char* other = std::getenv("MAILOAUTH_TEST_BINARY");
  std::vector<std::string> argv{other && *other ? other : MAILOAUTH_BINARY, "--config",
                                config_path_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

child_options oauth_test::mailoauth_env(std::vector<std::string> set_env) const {
  child_options o;
  o.set_env = {"XDG_STATE_HOME=" + state_dir_.string(),
               "XDG_CONFIG_HOME=" + (scratch_ / "xdg-config").string(),
               "HOME=" + (scratch_ / "home").string()};
  o.set_env.insert(o.set_env.end(), set_env.begin(), set_env.end());
  o.unset_env = {"MAILOAUTH_CONFIG", "MAILOAUTH_TOKEN", "MAILOAUTH_MODULE_DIR",
                 "http_proxy",       "https_proxy",     "HTTP_PROXY",
                 "HTTPS_PROXY",      "ALL_PROXY",       "all_proxy",
                 "NO_PROXY",         "no_proxy"};
  bool browser_given = false;
  for (const auto& kv : set_env) browser_given = browser_given || kv.starts_with("BROWSER=");
  if (!browser_given) o.unset_env.push_back("BROWSER");
  return o;
}

run_result oauth_test::mailoauth(const std::vector<std::string>& args,
                                 std::vector<std::string> set_env,
                                 std::chrono::milliseconds timeout, const std::string& input) {
  return run(mailoauth_argv(args), mailoauth_env(std::move(set_env)), timeout, input);
}

std::unique_ptr<child> oauth_test::start_mailoauth(const std::vector<std::string>& args,
                                                   std::vector<std::string> set_env,
                                                   bool pipe_stdin) {
  auto o = mailoauth_env(std::move(set_env));
  o.pipe_stdin = pipe_stdin;
  return std::make_unique<child>(mailoauth_argv(args), o);
}

void oauth_test::login_fast(const std::string& account) {
  const auto out = scratch_ / ("http-user-" + account + ".json");
  const auto r = mailoauth({"login", account, "--flow", "browser", "--timeout", "60"},
                           {"BROWSER=node " + source_dir + "/tests/oauth/http_user.mjs",
                            "HTTP_USER_OUT=" + out.string(), "HTTP_USER_LOGIN=" + user_name});
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nhttp_user: "
                            << (fs::exists(out) ? read_file(out) : std::string("(no output)"));
  ASSERT_TRUE(fs::exists(token_file(account))) << r.describe();
}

fs::path oauth_test::token_file(const std::string& account) const {
  return state_dir_ / "mailoauth" / "tokens" / (account + ".json");
}

json::object oauth_test::stored(const std::string& account) const {
  return boost::json::parse(read_file(token_file(account))).as_object();
}

json::object oauth_test::stored_tokens(const std::string& account) const {
  auto doc = stored(account);
  doc.erase("last_failure");
  return doc;
}

std::vector<json::object> oauth_test::log() const {
  return server().log_after(log_start_);
}

int oauth_test::count_token_requests(const std::string& grant, const std::string& outcome,
                                     const std::string& error) const {
  int n = 0;
  for (const auto& e : log()) {
    if (e.at("event") != "token") continue;
    const auto* g = e.if_contains("grant_type");
    if (!g || !g->is_string() || g->as_string() != grant) continue;
    if (!outcome.empty() && e.at("outcome") != outcome.c_str()) continue;
    if (!error.empty()) {
      const auto* err = e.if_contains("error");
      if (!err || !err->is_string() || err->as_string() != error) continue;
    }
    ++n;
  }
  return n;
}

void oauth_test::configure(const json::object& settings) {
  server().post("/test/config", settings);
}

void oauth_test::queue_error(const json::object& error) {
  server().post("/test/next-error", error);
}

}  // namespace mailoauth::oauth_test
