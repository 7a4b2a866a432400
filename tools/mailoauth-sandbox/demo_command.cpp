// `mailoauth demo`: the four steps of Microsoft's guide against a sandbox started in this process
// (issue 4, build item 4), then the token handed to real mail programs. Everything it writes
// (sandbox state, config.toml, token store) goes to a temporary folder, removed at the end, so that
// the user's own configuration and tokens are never read or touched.
#include "common/child_process.hpp"
#include "output.hpp"
#include "sandbox/sandbox.hpp"
#include "sandbox_commands.hpp"
#include "sandbox_output.hpp"

#include <mailoauth/client.hpp>
#include <mailoauth/oauth.hpp>
#include <mailoauth/sasl.hpp>

#include <fmt/core.h>
#include <openssl/rand.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

namespace mailoauth::cli {
namespace {

namespace asio = boost::asio;
using protocol::mail_protocol;
using protocol::transport_security;

struct demo_options {
  std::string state;
  bool interactive = false;
  bool strict = false;
  bool keep = false;
};

constexpr const char* account_name = "demo";

struct step_result {
  std::string label;
  bool passed = false;
  std::string note;
};

void section(int number, std::string_view title) {
  fmt::print("\n== Step {}: {} ==\n\n", number, title);
}

// How a mail program of the last step ran: its output (stdout and stderr as it wrote them) and
// "exit N", or how it ended, or why it did not start.
struct program_run {
  int exit_code = -1;
  std::string output;
  std::string status;
  [[nodiscard]] const std::string& describe() const { return status; }
};

// No shell; stdin from `input` (empty: /dev/null); killed, with what it started, after `timeout`.
program_run run_program(const std::vector<std::string>& argv, const std::filesystem::path& input,
                        std::chrono::seconds timeout) {
  program_run r;
  try {
    const auto done = process::run(argv, {.stdin_file = input, .merge_stderr = true}, timeout);
    r.exit_code = done.exit_code;
    r.output = done.out;
    r.status = done.status();
  } catch (const std::exception& e) {
    r.status = e.what();
  }
  return r;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL's byte buffer
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    return "0000";
  std::string out;
  for (const char c : raw) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

std::string url_scheme(mail_protocol p, transport_security s) {
  std::string out = p == mail_protocol::imap ? "imap" : p == mail_protocol::pop3 ? "pop3" : "smtp";
  if (s == transport_security::implicit_tls) out += "s";
  return out;
}

// The device flow's user side: shows the platform's message, then either approves the code on
// the user's behalf (the identity platform's own test hook, so that the demo needs no browser)
// or waits for the user to sign in at the printed page.
class demo_ui final : public oauth::interaction {
 public:
  demo_ui(sandbox::identity_server& identity, std::string username, bool interactive)
      : identity_(identity), username_(std::move(username)), interactive_(interactive) {}

  void open_authorization_url(const std::string& url, bool /*print_only*/) override {
    fmt::print("  open {}\n", url);
  }
  std::string read_redirect_url() override { return {}; }

  void show_device_code(const oauth::device_code_info& info) override {
    fmt::print("The identity platform answered the device authorization request. Its message:\n\n");
    fmt::print("  {}\n\n", printable(info.message.empty() ? info.verification_uri : info.message));
    fmt::print("(it polls every {} s; the code expires in {} min)\n", info.interval.count(),
               info.expires_in.count() / 60);
    if (interactive_) {
      fmt::print(
          "Open {} in a browser, enter the code {}, and sign in as {} with the password "
          "shown above.\nWaiting for the sign-in...\n",
          info.verification_uri, printable(info.user_code), username_);
      std::fflush(stdout);
      return;
    }
    const auto approved = identity_.approve_device_code(info.user_code, username_);
    if (approved) {
      fmt::print(
          "[the demo signs in as {} and consents on the user's behalf, as a user would at "
          "the device login page; `--interactive` lets you do it]\n",
          username_);
    } else {
      approval_error_ = approved.error().message;
      fmt::print("[the demo could not approve the code: {}]\n", printable(approval_error_));
    }
    std::fflush(stdout);
  }

  void device_waiting(std::chrono::seconds remaining) override {
    if (interactive_ && remaining.count() % 60 == 0)
      fmt::print("  still waiting; the code expires in {} min\n", remaining.count() / 60);
  }
  void device_done() override {}
  void notice(const std::string& text) override { fmt::print("  note: {}\n", printable(text)); }

 private:
  sandbox::identity_server& identity_;
  std::string username_;
  bool interactive_;
  std::string approval_error_;
};

class demo_run {
 public:
  demo_run(const demo_options& o, const sandbox_context& ctx) : o_(o), ctx_(ctx) {}
  ~demo_run() { finish(); }
  demo_run(const demo_run&) = delete;
  demo_run& operator=(const demo_run&) = delete;

  int run() {
    const auto started = std::chrono::steady_clock::now();
    if (const auto failed = prepare()) return *failed;
    fmt::print(
        "mailoauth demo: the steps of Microsoft's guide \"Authenticate an IMAP, POP or SMTP "
        "connection using OAuth\" against a sandbox in this process\n");
    fmt::print("  identity platform {}, mail on 127.0.0.1 (IMAP {}, POP3 {}, SMTP {})\n",
               sb_->identity_urls().authority, sb_->ports().imaps, sb_->ports().pop3s,
               sb_->ports().smtp);
    fmt::print("  sandbox state {}{}\n", sb_->options().state_dir.string(),
               o_.state.empty() && !o_.keep ? " (temporary)" : "");
    fmt::print("  config, token store {}{}\n", work_.string(), o_.keep ? "" : " (temporary)");

    registration();
    scopes();
    const bool signed_in = sign_in();
    if (signed_in) {
      authenticate_all();
      refuse_expired();
      real_programs();
    } else {
      for (const auto* label : {"4a IMAP, POP3 and SMTP authentication with the token",
                                "4b an expired token refused by each server",
                                "5  the token in real mail programs (msmtp, curl)"})
        results_.push_back({label, false, "skipped: no token"});
    }

    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    fmt::print("\n== Summary ==\n\n");
    bool all = true;
    for (const auto& r : results_) {
      fmt::print("  {}  {}{}\n", r.passed ? "PASS" : "FAIL", r.label,
                 r.note.empty() ? "" : " (" + r.note + ")");
      all = all && r.passed;
    }
    fmt::print("\n{} in {:.1f} s.\n", all ? "All steps passed" : "Some steps FAILED",
               seconds.count());
    if (o_.keep) fmt::print("Kept {} for inspection.\n", work_.string());
    return all ? 0 : 1;
  }

 private:
  // ---- setup and teardown ---------------------------------------------------------------

  // The exit code when the demo cannot even start.
  std::optional<int> prepare() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "mailoauth-demo.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      return fail(7, "cannot create a temporary folder in " +
                         std::filesystem::temp_directory_path().string());
    work_ = pattern;
    created_work_ = true;
    // The library and the `mailoauth token` that msmtp runs find the token store and the
    // configuration through these, so the user's real ones stay out of the demo.
    ::setenv("XDG_STATE_HOME", (work_ / "state").c_str(), 1);
    ::setenv("XDG_CONFIG_HOME", (work_ / "config").c_str(), 1);
    config_file_ = work_ / "config.toml";
    ::setenv("MAILOAUTH_CONFIG", config_file_.c_str(), 1);
    // The sandbox is on loopback: a proxy from the environment must not see its requests.
    for (const char* name : {"NO_PROXY", "no_proxy"}) {
      const char* now = std::getenv(name);
      const std::string value = now != nullptr && *now != '\0'
                                    ? std::string(now) + ",127.0.0.1,localhost"
                                    : std::string("127.0.0.1,localhost");
      ::setenv(name, value.c_str(), 1);
    }

    sandbox::sandbox_options so;
    so.state_dir = o_.state.empty() ? work_ / "sandbox" : std::filesystem::absolute(o_.state);
    so.strict = o_.strict;
    // Microsoft polls every 5 s; 1 s keeps the demo's sign-in to about a second.
    so.device_poll_interval = std::chrono::seconds(1);
    sb_ = std::make_unique<sandbox::sandbox>(so);
    if (auto started = sb_->start(io_); !started) {
      fmt::print(stderr, "mailoauth: error: the sandbox did not start: {}\n",
                 printable(started.error().message));
      if (ctx_.verbosity > 0 && !started.error().detail.empty())
        fmt::print(stderr, "  {}\n", printable(started.error().detail));
      sb_.reset();
      return 1;
    }
    for (int i = 0; i < 2; ++i)
      pool_.emplace_back([this] {
        io_.run();
        ++finished_threads_;
      });

    if (auto w = write_private_file(config_file_, sb_->config_account(account_name)); !w)
      return fail(7, w.error().message);
    auto cfg = config::load(config_file_);
    if (!cfg)
      return fail(1, "the sandbox's config.toml account does not load: " + cfg.error().message);
    config_ = std::move(*cfg);
    auto a = config_.find(account_name);
    if (!a) return fail(1, a.error().message);
    account_ = *a;
    return std::nullopt;
  }

  void finish() {
    if (sb_) {
      sb_->stop();
      // The servers' coroutines end as io runs; do not wait on a straggler for long.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      while (finished_threads_ < pool_.size() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      io_.stop();
    }
    for (auto& t : pool_) t.join();
    pool_.clear();
    sb_.reset();
    if (created_work_ && !o_.keep) {
      std::error_code ec;
      std::filesystem::remove_all(work_, ec);
      created_work_ = false;
    }
  }

  // ---- step 1: the app registration ----------------------------------------------------

  void registration() {
    section(1, "register and configure the application (the guide's first two steps)");
    const auto& dir = sb_->identity().dir();
    const auto* app = public_app(dir);
    if (app == nullptr) {
      fmt::print("The sandbox's identity.toml has no public client registration.\n");
      results_.push_back({"1  app registration and permissions", false, "no public client"});
      return;
    }
    fmt::print(
        "The sandbox tenant holds the registration one would create in the Entra admin "
        "center:\n\n");
    fmt::print("  tenant           {} (id {})\n", dir.tenant.domain, dir.tenant.id);
    fmt::print("  application      {}\n", printable(app->display_name));
    fmt::print("  client id        {}\n", app->client_id);
    fmt::print(
        "  client type      public client: a mail program on the user's machine, no "
        "secret\n");
    fmt::print("  redirect URIs    {}\n", printable(joined(app->redirect_uris)));
    fmt::print("  implicit grant   {}\n",
               app->implicit_access_tokens ? "access tokens enabled" : "disabled");
    fmt::print("  API permissions  (delegated, Office 365 Exchange Online)\n");
    const std::vector<std::pair<std::string, std::string>> wanted{
        {"IMAP.AccessAsUser.All", "IMAP"},
        {"POP.AccessAsUser.All", "POP"},
        {"SMTP.Send", "SMTP AUTH"},
        {"offline_access", "refresh tokens, so mail programs stay signed in"}};
    bool all = true;
    for (const auto& [permission, what] : wanted) {
      const bool has =
          std::find(app->delegated_permissions.begin(), app->delegated_permissions.end(),
                    permission) != app->delegated_permissions.end();
      all = all && has;
      fmt::print("    {:<24}{}{}\n", permission, what, has ? "" : "   <- MISSING");
    }
    for (const auto& p : app->delegated_permissions)
      if (std::none_of(wanted.begin(), wanted.end(), [&](const auto& w) { return w.first == p; }))
        fmt::print("    {:<24}(also configured)\n", p);
    fmt::print("\nThe whole directory (identity.toml in the sandbox's state folder):\n\n");
    print_directory(*sb_, false);
    results_.push_back({"1  app registration and permissions", all,
                        all ? "" : "a permission of the guide's table is missing"});
  }

  // ---- step 2: the scope strings -------------------------------------------------------

  void scopes() {
    section(2, "the scope strings the app asks for (full Outlook resource URLs)");
    const auto list = oauth::scopes_for(*account_);
    fmt::print("mailoauth asks for these scopes for account `{}` (oauth::scopes_for):\n\n",
               account_name);
    for (const auto& s : list) fmt::print("  {}\n", s);
    bool all = true;
    for (const auto* want : {"https://outlook.office365.com/IMAP.AccessAsUser.All",
                             "https://outlook.office365.com/POP.AccessAsUser.All",
                             "https://outlook.office365.com/SMTP.Send", "offline_access"})
      all = all && std::find(list.begin(), list.end(), want) != list.end();
    fmt::print(
        "\n(a bare IMAP.AccessAsUser.All would be a Microsoft Graph scope, whose tokens the "
        "mail servers refuse)\n");
    results_.push_back(
        {"2  scope strings", all, all ? "" : "a scope string of the guide is missing"});
  }

  // ---- step 3: the device-code sign-in -------------------------------------------------

  bool sign_in() {
    section(3, "get an access token: the device authorization grant");
    const auto& a = *account_;
    fmt::print("oauth::login with flow device, over HTTPS to {} (CA {})\n\n",
               sb_->identity_urls().devicecode, a.cafile);
    if (o_.interactive) {
      const auto* user = sb_->identity().dir().find_user(a.username);
      // Shown only when asked for: the user must type it into the sign-in page.
      if (user != nullptr)
        fmt::print("Sign in as {} with the password {} (from identity.toml).\n\n", a.username,
                   user->password.reveal());
    }
    demo_ui ui(sb_->identity(), a.username, o_.interactive);
    oauth::login_options lo;
    lo.flow = config::flow_kind::device;
    const auto before = std::chrono::steady_clock::now();
    auto got = oauth::login(a, lo, ui);
    if (!got) {
      fmt::print("\nThe sign-in failed: {}\n", printable(got.error().message));
      if (!got.error().detail.empty()) fmt::print("  {}\n", printable(got.error().detail));
      results_.push_back({"3  device-code sign-in", false, "see step 3"});
      return false;
    }
    tokens_ = std::move(*got);
    auto store = oauth::store_for(a);
    if (!store) {
      fmt::print("\nThe token store is unusable: {}\n", printable(store.error().message));
      results_.push_back({"3  device-code sign-in", false, "token store"});
      return false;
    }
    store_ = std::make_unique<store::token_store>(std::move(*store));
    if (auto saved = store_->save(a.name, *tokens_); !saved) {
      fmt::print("\nCannot save the tokens: {}\n", printable(saved.error().message));
      results_.push_back({"3  device-code sign-in", false, "token store"});
      return false;
    }
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - before);
    const auto left = tokens_->expires_at != 0 ? tokens_->expires_at - oauth::now() : 0;
    fmt::print("\nSigned in as {} in {:.1f} s. The platform granted: {}\n", a.username,
               took.count(), printable(tokens_->scope));
    fmt::print(
        "  access token   [redacted] ({} bytes: a JWT for https://outlook.office365.com, "
        "valid {} min)\n",
        tokens_->access_token.size(), left / 60);
    fmt::print("  refresh token  [redacted] ({} bytes)\n", tokens_->refresh_token.size());
    fmt::print("Saved as `mailoauth login` does, in {} (mode 0600).\n",
               store_->file_for(a.name).string());
    const bool ok = !tokens_->access_token.empty() && !tokens_->refresh_token.empty();
    results_.push_back(
        {"3  device-code sign-in", ok, ok ? "" : "no refresh token: offline_access not granted"});
    return true;
  }

  // ---- step 4: authenticate IMAP, POP3 and SMTP ----------------------------------------

  struct probe_result {
    bool authenticated = false;
    std::error_code error;
    std::string server_line;
    std::optional<sasl::error_challenge> challenge;
  };

  probe_result probe(mail_protocol p, const secret& token) {
    const auto& a = *account_;
    auto server = oauth::server_for(a, p);
    if (!server) {
      fmt::print("  no server for {}: {}\n", protocol::name(p), printable(server.error().message));
      return {false, server.error().code, {}, {}};
    }
    protocol::session_options s;
    s.protocol = p;
    s.security = server->security;
    s.user = a.username;
    s.token = token;
    s.host = server->host;
    s.port = server->port;
    net::connect_options c;
    c.host = server->host;
    c.port = server->port;
    c.cafile = a.cafile;
    c.timeout = std::chrono::seconds(10);
    fmt::print("[connecting to {}://{}:{}]\n", url_scheme(p, server->security), server->host,
               server->port);
    const auto r = net::authenticate(c, std::move(s), [](const protocol::transcript_line& line) {
      const bool client = line.dir == protocol::transcript_line::direction::client;
      fmt::print("  {}{}\n", client ? "C: " : "S: ", printable(line.text));
      if (!client) {
        std::string_view text = line.text;
        if (text.starts_with("+ "))
          text.remove_prefix(2);
        else if (text.starts_with("334 "))
          text.remove_prefix(4);
        else
          return;
        if (auto ch = sasl::decode_error_challenge(text))
          fmt::print("     (decoded: {})\n", printable(ch->json));
      }
    });
    const auto& out = r.outcome;
    return {out.authenticated(), out.error, out.diag.server_message, out.challenge};
  }

  void authenticate_all() {
    section(4, "authenticate IMAP, POP3 and SMTP connections with the token (SASL XOAUTH2)");
    fmt::print("net::authenticate, as `mailoauth check` runs it; the token is shown [redacted].\n");
    int ok = 0;
    for (const auto p : {mail_protocol::imap, mail_protocol::pop3, mail_protocol::smtp}) {
      fmt::print("\n{}:\n", protocol::name(p));
      const auto r = probe(p, tokens_->access_token);
      if (r.authenticated) {
        ++ok;
        fmt::print("verdict: OK, authenticated as {}\n", account_->username);
      } else {
        fmt::print("verdict: FAILED ({})\n", r.error.message());
      }
    }
    results_.push_back({"4a IMAP, POP3 and SMTP authentication with the token", ok == 3,
                        fmt::format("{} of 3", ok)});
  }

  void refuse_expired() {
    fmt::print(
        "\n-- the same with an expired token: each server refuses it as the guide shows --\n");
    sandbox::mint_request m;
    m.username = account_->username;
    m.client_id = account_->client_id;
    m.issued_at = std::chrono::system_clock::now() - std::chrono::hours(2);
    m.lifetime = std::chrono::hours(1);
    auto expired = sb_->identity().mint_access_token(m);
    if (!expired) {
      fmt::print("The sandbox could not mint a token: {}\n", printable(expired.error().message));
      results_.push_back({"4b an expired token refused by each server", false, "no token"});
      return;
    }
    fmt::print("(a token signed by the sandbox, issued two hours ago, expired an hour ago)\n");
    int refused = 0;
    for (const auto p : {mail_protocol::imap, mail_protocol::pop3, mail_protocol::smtp}) {
      fmt::print("\n{}:\n", protocol::name(p));
      const auto r = probe(p, *expired);
      const bool as_expected = !r.authenticated && classify(r.error) == failure_kind::rejected;
      if (as_expected) ++refused;
      fmt::print("verdict: {}\n", as_expected ? "refused, as expected"
                                  : r.authenticated
                                      ? "ACCEPTED (wrong)"
                                      : "failed for another reason: " + r.error.message());
      if (!r.server_line.empty())
        fmt::print("  the server's final line: {}\n", printable(r.server_line));
      if (r.challenge)
        fmt::print("  decoded JSON status: {} ({})\n", printable(r.challenge->status),
                   printable(r.challenge->json));
    }
    results_.push_back({"4b an expired token refused by each server", refused == 3,
                        fmt::format("{} of 3", refused)});
  }

  // ---- step 5: real mail programs ------------------------------------------------------

  static std::filesystem::path mailoauth_binary() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    // The build tree keeps both programs in one folder; installed, this one is in
    // <prefix>/lib/mailoauth and mailoauth in <prefix>/bin.
    for (const auto& candidate :
         {exe.parent_path() / "mailoauth", exe.parent_path() / ".." / ".." / "bin" / "mailoauth"})
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.lexically_normal();
    return {};
  }

  void real_programs() {
    section(5, "the token in real mail programs: msmtp sends, curl reads it back over IMAP");
    const char* label = "5  the token in real mail programs (msmtp, curl)";
    const auto mailoauth = mailoauth_binary();
    const auto msmtp = process::find_program("msmtp");
    const auto curl = process::find_program("curl");
    std::string missing;
    if (mailoauth.empty()) missing += " the mailoauth program (build or install it)";
    if (msmtp.empty()) missing += " msmtp (apt-get install msmtp)";
    if (curl.empty()) missing += " curl (apt-get install curl)";
    if (!missing.empty()) {
      fmt::print("Missing:{}\n", missing);
      results_.push_back({label, false, "missing:" + missing});
      return;
    }
    const auto& a = *account_;
    const auto ports = sb_->ports();
    const auto subject = "mailoauth-demo-" + random_hex(6);

    // msmtp asks `mailoauth token` for the token on every connection, as a user would set it up.
    const auto token_command = fmt::format("'{}' --config '{}' token {}", mailoauth.string(),
                                           config_file_.string(), account_name);
    const auto msmtprc = work_ / "msmtprc";
    const auto rc_text = fmt::format(
        "defaults\ntls on\ntls_trust_file {}\ntimeout 20\n\naccount demo\nhost 127.0.0.1\n"
        "port {}\ntls_starttls on\nfrom {}\nuser {}\nauth xoauth2\npasswordeval \"{}\"\n",
        a.cafile, ports.smtp, a.username, a.username, token_command);
    const auto message = work_ / "message.eml";
    const auto body = fmt::format(
        "From: {0}\nTo: {0}\nSubject: {1}\n\nSent by msmtp with a token from `mailoauth token`.\n",
        a.username, subject);
    if (auto w = write_private_file(msmtprc, rc_text); !w) {
      results_.push_back({label, false, w.error().message});
      return;
    }
    if (auto w = write_private_file(message, body); !w) {
      results_.push_back({label, false, w.error().message});
      return;
    }
    fmt::print("{}:\n", msmtprc.string());
    std::istringstream rc(rc_text);
    for (std::string line; std::getline(rc, line);) fmt::print("  {}\n", line);
    fmt::print("\n$ msmtp -C {} -a demo {} < message.eml   (Subject: {})\n", msmtprc.string(),
               a.username, subject);
    const auto sent =
        run_program({msmtp.string(), "-C", msmtprc.string(), "-a", "demo", a.username}, message,
                    std::chrono::seconds(30));
    print_indented(sent.output);
    if (sent.exit_code != 0) {
      fmt::print("msmtp failed ({})\n", sent.describe());
      results_.push_back({label, false, "msmtp: " + sent.describe()});
      return;
    }
    fmt::print("msmtp: sent (exit 0)\n");

    // curl reads the token from a -K file (mode 0600, removed right after), so that it never
    // shows in a process list as --oauth2-bearer TOKEN in argv would.
    auto fresh = oauth::fresh_tokens(a, *store_);
    if (!fresh) {
      results_.push_back({label, false, "no fresh token: " + fresh.error().message});
      return;
    }
    const auto imap_base = fmt::format("imaps://127.0.0.1:{}/INBOX", ports.imaps);
    const auto curl_config = [&](const std::string& url) {
      return fmt::format(
          "url = \"{}\"\nuser = \"{}:\"\noauth2-bearer = \"{}\"\ncacert = \"{}\"\nsilent\n"
          "show-error\nmax-time = 20\n",
          url, a.username, fresh->access_token.reveal(), a.cafile);
    };
    const auto curl_with = [&](const std::string& url) {
      const auto k = work_ / "curl.conf";
      program_run r;
      if (auto w = write_private_file(k, curl_config(url)); !w) {
        r.status = w.error().message;
        return r;
      }
      r = run_program({curl.string(), "-K", k.string()}, {}, std::chrono::seconds(30));
      std::error_code ec;
      std::filesystem::remove(k, ec);
      return r;
    };
    const auto search_url = imap_base + "?SUBJECT%20" + subject;
    fmt::print("\n$ curl -K curl.conf   (url {}, oauth2-bearer from the token store)\n",
               search_url);
    const auto searched = curl_with(search_url);
    print_indented(searched.output);
    std::string index;
    {
      std::istringstream in(searched.output);
      for (std::string word; in >> word;)
        if (!word.empty() && std::all_of(word.begin(), word.end(), ::isdigit)) index = word;
    }
    if (searched.exit_code != 0 || index.empty()) {
      fmt::print("curl did not find the message ({})\n", searched.describe());
      results_.push_back({label, false, "the message did not arrive"});
      return;
    }
    const auto fetch_url = imap_base + ";MAILINDEX=" + index;
    fmt::print("\n$ curl -K curl.conf   (url {})\n", fetch_url);
    const auto fetched = curl_with(fetch_url);
    print_indented(fetched.output);
    const bool arrived =
        fetched.exit_code == 0 && fetched.output.find("Subject: " + subject) != std::string::npos;
    fmt::print("{}\n",
               arrived ? "The message sent with msmtp arrived over IMAP."
                       : "The fetched message is not the one sent (" + fetched.describe() + ")");
    results_.push_back({label, arrived, arrived ? "" : "the message did not arrive"});
  }

  static void print_indented(const std::string& text) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      fmt::print("  | {}\n", printable(line));
    }
  }

  const demo_options& o_;
  const sandbox_context& ctx_;
  std::filesystem::path work_;
  bool created_work_ = false;
  std::filesystem::path config_file_;
  asio::io_context io_;
  std::unique_ptr<sandbox::sandbox> sb_;
  std::vector<std::thread> pool_;
  std::atomic<std::size_t> finished_threads_{0};
  config::config_file config_;
  const config::account* account_ = nullptr;
  std::optional<store::token_set> tokens_;
  std::unique_ptr<store::token_store> store_;
  std::vector<step_result> results_;
};

}  // namespace

sandbox_runner add_demo_command(CLI::App& app, const sandbox_context& ctx) {
  auto o = std::make_shared<demo_options>();
  auto* cmd = app.add_subcommand(
      "demo", "Walk through the four steps of Microsoft's guide against the sandbox");
  cmd->add_option("--state", o->state,
                  "Use (and keep) this sandbox state folder instead of a temporary one");
  cmd->add_flag("--interactive", o->interactive,
                "Sign in yourself at the device login page instead of the demo approving it");
  cmd->add_flag("--strict", o->strict, "Servers refuse POP3's one-line AUTH, as Office 365 today");
  cmd->add_flag("--keep", o->keep, "Keep the temporary folder (config, tokens, logs) afterwards");
  return [o, &ctx]() { return demo_run(*o, ctx).run(); };
}

}  // namespace mailoauth::cli
