#include "mail_fixture.hpp"

#include <mailoauth/sasl.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <fstream>
#include <random>

namespace mailoauth::sandbox::test {
namespace {

namespace fs = std::filesystem;

fs::path make_temp_dir(const std::string& stem) {
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    auto p = fs::temp_directory_path() / (stem + "-" + std::to_string(rd()));
    if (fs::create_directory(p)) return p;
  }
  throw std::runtime_error("cannot create a temporary folder");
}

// The key folders live as long as the test process, and go with it.
struct key_folders {
  std::vector<fs::path> dirs;
  ~key_folders() {
    for (const auto& d : dirs) {
      std::error_code ignored;
      fs::remove_all(d, ignored);
    }
  }
};

pki keys_in(const std::string& stem) {
  static key_folders folders;
  const auto dir = make_temp_dir(stem);
  folders.dirs.push_back(dir);
  auto p = load_or_create_pki(dir);
  if (!p) throw std::runtime_error("load_or_create_pki: " + p.error().message);
  return *p;
}

std::string b64url(std::string_view data) {
  auto s = sasl::base64_encode(data);
  for (auto& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

access_claims claims_of(const token_spec& spec) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  access_claims c;
  c.issuer = "https://sts.windows.net/00000000-0000-0000-0000-000000000001/";
  c.audience = spec.audience;
  c.tenant_id = "00000000-0000-0000-0000-000000000001";
  c.client_id = "11111111-1111-1111-1111-111111111111";
  c.object_id = "22222222-2222-2222-2222-222222222222";
  c.username = spec.user;
  if (!spec.user.empty()) c.scopes = spec.scopes;
  c.roles = spec.roles;
  c.issued_at = now - 60;
  c.not_before = now - 60;
  c.expires_at = spec.lifetime < 0 ? now + spec.lifetime : now + spec.lifetime;
  if (spec.lifetime < 0) c.issued_at = c.not_before = c.expires_at - 3600;
  return c;
}

}  // namespace

const pki& sandbox_keys() {
  static const pki keys = keys_in("mailoauth-mail-keys");
  return keys;
}

const pki& other_keys() {
  static const pki keys = keys_in("mailoauth-mail-other-keys");
  return keys;
}

std::string mint(const token_spec& spec, const signing_key& key) {
  auto t = sign_access_token(key, claims_of(spec));
  if (!t) throw std::runtime_error("sign_access_token: " + t.error().message);
  return *t;
}

std::string forged_token(const std::string& alg, const token_spec& spec) {
  // The payload of a genuine token, under a header that names another algorithm.
  const auto genuine = mint(spec);
  const auto first = genuine.find('.');
  const auto second = genuine.find('.', first + 1);
  const auto payload = genuine.substr(first + 1, second - first - 1);
  boost::json::object header{{"typ", "JWT"}, {"alg", alg}, {"kid", sandbox_keys().token_key.kid}};
  const auto signing_input = b64url(boost::json::serialize(header)) + "." + payload;
  if (alg == "none") return signing_input + ".";
  // The classic confusion: HMAC keyed with the RSA public key the server verifies with.
  const auto& secret = sandbox_keys().token_key.public_pem;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  return signing_input + "." +
         b64url(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::string xoauth2_b64(const std::string& user, const std::string& token) {
  return sasl::base64_encode(sasl::xoauth2_response(user, secret(token)).reveal());
}

std::string oauthbearer_b64(const std::string& user, const std::string& token) {
  return sasl::base64_encode(
      sasl::oauthbearer_response(user, secret(token), "127.0.0.1", 993).reveal());
}

process_result run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  process_options o;
  o.timeout = timeout;
  return run_process(argv, o);
}

void mail_fixture::SetUp() {
  dir_ = make_temp_dir("mailoauth-mail-test");
  options_ = make_mail_server_options(sandbox_keys(), dir_ / "state");
  options_.domains = {"contoso.onmicrosoft.com", "example.com", "bellred.org", "bellred.com"};
  options_.io_timeout = std::chrono::seconds(20);
  options_.on_transcript = [this](const transcript_line& l) {
    std::lock_guard lock(transcript_mutex_);
    lines_.push_back(l);
  };
  configure(options_);
  start_servers();
}

void mail_fixture::start_servers() {
  io_ = std::make_unique<boost::asio::io_context>();
  servers_ = std::make_unique<mail_servers>(options_);
  auto r = servers_->start(*io_);
  ASSERT_TRUE(r) << r.error().message;
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_->run(); });
}

void mail_fixture::stop_servers() {
  if (!servers_) return;
  servers_->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  servers_.reset();
  io_.reset();
}

void mail_fixture::TearDown() {
  stop_servers();
  if (!HasFailure()) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  } else {
    std::cerr << "kept " << dir_ << "\n--- transcripts ---\n" << all_transcripts();
  }
}

std::unique_ptr<line_client> mail_fixture::connect(mail_listener l) {
  const bool tls =
      l == mail_listener::imaps || l == mail_listener::pop3s || l == mail_listener::smtps;
  return std::make_unique<line_client>(port(l), tls, ca_file());
}

std::string mail_fixture::write_file(const std::string& name, const std::string& content) {
  const auto path = dir_ / name;
  {
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return path.string();
}

std::vector<std::string> mail_fixture::transcript(mail_listener l) {
  std::lock_guard lock(transcript_mutex_);
  std::vector<std::string> out;
  for (const auto& line : lines_)
    if (line.listener == l) out.push_back((line.from_client ? "C: " : "S: ") + line.text);
  return out;
}

std::string mail_fixture::all_transcripts() {
  std::lock_guard lock(transcript_mutex_);
  std::string out;
  for (const auto& line : lines_)
    out += std::string(scheme(line.listener)) + " #" + std::to_string(line.session) +
           (line.from_client ? " C: " : " S: ") + line.text + "\n";
  return out;
}

}  // namespace mailoauth::sandbox::test
