// `mailoauth check URL`: authenticate for real and show the redacted exchange, like Microsoft's
// guide.
#include "commands.hpp"
#include "output.hpp"
#include "token_source.hpp"

#include <mailoauth/client.hpp>
#include <mailoauth/oauth.hpp>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <memory>

namespace mailoauth::cli {
namespace {

using protocol::mail_protocol;
using protocol::transport_security;

struct check_options {
  std::string url;  // or an account name
  bool imap = false;
  bool pop = false;
  bool smtp = false;
  std::string user;
  token_source token;
  std::string mech;
  std::string cafile;
  double timeout = 30;
  bool json = false;
  bool insecure_plaintext = false;
  std::string initial_response = "auto";
  std::string ehlo_name = "localhost";
};

struct scheme_info {
  std::string_view scheme;
  mail_protocol protocol;
  transport_security security;
  std::uint16_t default_port;
};

// imap:// pop3:// smtp:// use STARTTLS, which is required (RFC 8314 section 3.1 prefers the
// implicit-TLS ports, and those are the s-schemes).
constexpr scheme_info schemes[] = {
    {"imap", mail_protocol::imap, transport_security::starttls, 143},
    {"imaps", mail_protocol::imap, transport_security::implicit_tls, 993},
    {"pop3", mail_protocol::pop3, transport_security::starttls, 110},
    {"pop3s", mail_protocol::pop3, transport_security::implicit_tls, 995},
    {"smtp", mail_protocol::smtp, transport_security::starttls, 587},
    {"smtps", mail_protocol::smtp, transport_security::implicit_tls, 465},
};

struct target {
  scheme_info scheme;
  std::string host;
  std::uint16_t port;
};

std::optional<target> parse_target(const std::string& text, std::string& why) {
  const auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    why = "not a URL: " + text + " (expected e.g. imaps://outlook.office365.com)";
    return std::nullopt;
  }
  const auto& u = *parsed;
  const scheme_info* found = nullptr;
  for (const auto& s : schemes)
    if (u.scheme() == s.scheme) found = &s;
  if (!found) {
    why = "unsupported scheme " + std::string(u.scheme()) +
          ": use imap, imaps, pop3, pop3s, smtp or smtps";
    return std::nullopt;
  }
  target t{*found, std::string(u.host_address()), found->default_port};
  if (t.host.empty()) {
    why = "the URL has no host: " + text;
    return std::nullopt;
  }
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) {
      why = "invalid port in " + text;
      return std::nullopt;
    }
    t.port = u.port_number();
  }
  return t;
}

const char* direction_prefix(protocol::transcript_line::direction d) {
  return d == protocol::transcript_line::direction::client ? "C: " : "S: ";
}

// If a server line is a continuation carrying the JSON error challenge, its decoded form.
std::optional<sasl::error_challenge> challenge_in(std::string_view line) {
  if (line.starts_with("+ "))
    line.remove_prefix(2);
  else if (line.starts_with("334 "))
    line.remove_prefix(4);
  else
    return std::nullopt;
  return sasl::decode_error_challenge(line);
}

// Options shared by both forms, checked once.
result<protocol::session_options> session_template(const check_options& o) {
  protocol::session_options session;
  session.client_name = o.ehlo_name;
  if (!o.mech.empty()) {
    session.mechanism = sasl::parse_mechanism(o.mech);
    if (!session.mechanism)
      return make_failure(errc::invalid_argument, "--mech must be xoauth2 or oauthbearer");
  }
  if (o.initial_response == "auto") {
    session.initial_response = protocol::initial_response_policy::automatic;
  } else if (o.initial_response == "prefer") {
    session.initial_response = protocol::initial_response_policy::prefer;
  } else if (o.initial_response == "never") {
    session.initial_response = protocol::initial_response_policy::never;
  } else {
    return make_failure(errc::invalid_argument, "--initial-response must be auto, prefer or never");
  }
  if (!(o.timeout > 0))
    return make_failure(errc::invalid_argument, "--timeout must be a positive number of seconds");
  return session;
}

// Runs one authentication and prints it (the transcript and the verdict, or one JSON object).
// Returns the exit code.
int probe(const check_options& o, const target& where, protocol::session_options session,
          const std::string& cafile) {
  session.protocol = where.scheme.protocol;
  session.security = o.insecure_plaintext ? transport_security::none : where.scheme.security;
  session.host = where.host;
  session.port = where.port;

  net::connect_options connect;
  connect.host = where.host;
  connect.port = where.port;
  connect.cafile = cafile;
  connect.timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout * 1000));

  boost::json::array transcript;
  auto sink = [&](const protocol::transcript_line& line) {
    if (o.json) {
      transcript.push_back(boost::json::string(direction_prefix(line.dir) + line.text));
      return;
    }
    fmt::print("{}{}\n", direction_prefix(line.dir), printable(line.text));
    if (line.dir == protocol::transcript_line::direction::server) {
      if (auto ch = challenge_in(line.text)) fmt::print("   (decoded: {})\n", printable(ch->json));
    }
    std::fflush(stdout);
  };

  const auto user = session.user;
  const auto label =
      std::string(where.scheme.scheme) + "://" +
      (where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host) + ":" +
      std::to_string(where.port);
  if (!o.json) fmt::print("[connecting to {}]\n", label);
  const auto result = net::authenticate(connect, std::move(session), sink);
  const auto& out = result.outcome;
  const int code = exit_code(out.error);

  if (o.json) {
    boost::json::object j;
    j["url"] = label;
    j["user"] = user;
    j["authenticated"] = out.authenticated();
    j["exit_code"] = code;
    if (out.error) j["error"] = out.error.message();
    j["message"] = out.diag.client_message;
    j["server_message"] = out.diag.server_message;
    if (out.mechanism) j["mechanism"] = std::string(sasl::name(*out.mechanism));
    j["initial_response"] = out.used_initial_response;
    if (out.challenge) {
      boost::json::object c;
      c["json"] = out.challenge->json;
      c["status"] = out.challenge->status;
      c["schemes"] = out.challenge->schemes;
      c["scope"] = out.challenge->scope;
      j["challenge"] = std::move(c);
    }
    boost::json::array caps;
    for (const auto& w : out.capabilities) caps.push_back(boost::json::string(w));
    j["capabilities"] = std::move(caps);
    j["peer"] = result.connection.peer;
    j["tls_version"] = result.connection.tls_version;
    j["transcript"] = std::move(transcript);
    fmt::print("{}\n", boost::json::serialize(j));
    return code;
  }

  if (out.authenticated()) {
    fmt::print("verdict: OK, authenticated as {} with {}{} ({})\n", printable(user),
               sasl::name(*out.mechanism), out.used_initial_response ? " (initial response)" : "",
               result.connection.tls_version.empty() ? "no TLS" : result.connection.tls_version);
    return 0;
  }
  std::string verdict = fmt::format("verdict: FAILED ({}): {}", out.error.message(),
                                    printable(out.diag.client_message));
  if (!out.diag.server_message.empty())
    verdict += fmt::format("\n  server said: {}", printable(out.diag.server_message));
  if (out.challenge)
    verdict += fmt::format("\n  decoded challenge: status {} ({})",
                           printable(out.challenge->status), printable(out.challenge->json));
  fmt::print("{}\n", verdict);
  return code;
}

int run_check(check_options& o) {
  std::string why;
  const auto where = parse_target(o.url, why);
  if (!where) return fail(2, why);
  if (o.user.empty()) return fail(2, "--user is required with a URL");
  auto session = session_template(o);
  if (!session) return fail(2, session.error().message);
  session->user = o.user;
  auto token = read_token(o.token, why);
  if (!token) return fail(2, why);
  session->token = std::move(*token);
  return probe(o, *where, std::move(*session), o.cafile);
}

scheme_info scheme_for(protocol::mail_protocol p, transport_security s) {
  for (const auto& sch : schemes)
    if (sch.protocol == p && sch.security == s) return sch;
  return schemes[0];
}

// `check ACCOUNT`: the account's token and servers. When a server rejects a token that looked
// valid (revoked, or the clocks disagree), refresh once and try again before reporting.
int run_account_check(check_options& o, const context& ctx) {
  if (!o.user.empty() || !o.token.file.empty() || !o.token.command.empty())
    return fail(2, "--user and --token-* go with a URL; an account has its own");
  auto cfg = ctx.load_config();
  if (!cfg) return report(cfg.error(), ctx);
  auto account = cfg->find(o.url);
  if (!account) return report(account.error(), ctx);
  const auto& a = **account;
  auto tmpl = session_template(o);
  if (!tmpl) return fail(2, tmpl.error().message);
  if (o.timeout == 30) o.timeout = static_cast<double>(a.timeout.count());

  std::vector<protocol::mail_protocol> wanted;
  if (o.imap) wanted.push_back(protocol::mail_protocol::imap);
  if (o.pop) wanted.push_back(protocol::mail_protocol::pop3);
  if (o.smtp) wanted.push_back(protocol::mail_protocol::smtp);
  if (wanted.empty()) wanted = a.protocols;

  auto store = oauth::store_for(a);
  if (!store) return report(store.error(), ctx);
  auto tokens = oauth::fresh_tokens(a, *store);
  if (!tokens) return report(tokens.error(), ctx);

  int worst = 0;
  for (const auto p : wanted) {
    auto server = oauth::server_for(a, p);
    if (!server) return report(server.error(), ctx);
    const target where{scheme_for(p, server->security), server->host, server->port};
    auto session = *tmpl;
    session.user = a.username;
    session.token = tokens->access_token;
    int code = probe(o, where, session, o.cafile.empty() ? a.cafile : o.cafile);
    if (code == static_cast<int>(failure_kind::rejected)) {
      if (!o.json)
        fmt::print(
            "[the server rejected a token that looked valid: refreshing it once and "
            "trying again]\n");
      oauth::fresh_options force;
      force.force_refresh = true;
      auto renewed = oauth::fresh_tokens(a, *store, force);
      if (!renewed) return report(renewed.error(), ctx);
      tokens = std::move(renewed);
      session.token = tokens->access_token;
      code = probe(o, where, session, o.cafile.empty() ? a.cafile : o.cafile);
    }
    // The most serious failure decides the exit code; all protocols are tried.
    if (code != 0 && (worst == 0 || code > worst)) worst = code;
  }
  return worst;
}

}  // namespace

runner add_check_command(CLI::App& app, const context& ctx) {
  auto o = std::make_shared<check_options>();
  auto* cmd = app.add_subcommand(
      "check", "Authenticate to a mail server for real and show the redacted exchange");
  cmd->add_option("target", o->url,
                  "An account name (default: the default account), or a URL: imap:// imaps:// "
                  "pop3:// pop3s:// smtp:// smtps:// HOST[:PORT]");
  cmd->add_option("--user,-u", o->user, "User name (mailbox address), with a URL");
  cmd->add_flag("--imap", o->imap, "With an account: check IMAP");
  cmd->add_flag("--pop", o->pop, "With an account: check POP3");
  cmd->add_flag("--smtp", o->smtp, "With an account: check SMTP");
  auto* f = cmd->add_option("--token-file", o->token.file, "Read the access token from a file");
  auto* c = cmd->add_option("--token-command", o->token.command,
                            "Run a command and use its output as the access token");
  f->excludes(c);
  cmd->add_option("--mech", o->mech,
                  "Force xoauth2 or oauthbearer (default: what the server offers)");
  cmd->add_option("--cafile", o->cafile, "Verify the server with these CA certificates");
  cmd->add_option("--timeout", o->timeout, "Seconds allowed for each network step (default 30)");
  cmd->add_option("--initial-response", o->initial_response,
                  "auto (default), prefer (POP3 too) or never");
  cmd->add_option("--ehlo-name", o->ehlo_name, "Name to give in SMTP EHLO (default localhost)");
  cmd->add_flag("--json", o->json, "Print one JSON object instead of the transcript");
  cmd->add_flag("--insecure-plaintext", o->insecure_plaintext,
                "Send the token without TLS (loopback hosts only; for test servers)");
  return [o, &ctx]() {
    if (o->url.find("://") != std::string::npos) return run_check(*o);
    return run_account_check(*o, ctx);
  };
}

}  // namespace mailoauth::cli
