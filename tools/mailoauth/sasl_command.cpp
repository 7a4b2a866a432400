// `mailoauth sasl encode|decode`: the XOAUTH2 format of Microsoft's guide (and OAUTHBEARER), both
// ways.
#include "commands.hpp"
#include "output.hpp"
#include "token_source.hpp"

#include <mailoauth/sasl.hpp>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <memory>

namespace mailoauth::cli {
namespace {

struct encode_options {
  std::string user;
  std::string token;
  std::string token_file;
  std::string mech = "xoauth2";
  std::string host;
  std::optional<std::uint16_t> port;
};

struct decode_options {
  std::string payload;
  bool reveal = false;
};

int run_encode(encode_options& o) {
  const auto mech = sasl::parse_mechanism(o.mech);
  if (!mech) return fail(2, "--mech must be xoauth2 or oauthbearer");
  secret token;
  if (!o.token.empty()) {
    token = secret(std::move(o.token));
    wipe(o.token);
  } else {
    std::string why;
    auto t = read_token(token_source{o.token_file, {}}, why);
    if (!t) return fail(2, why);
    token = std::move(*t);
  }
  if (o.user.empty()) return fail(2, "--user must not be empty");
  // One line, never folded: the guide's line breaks are "for readability" only.
  fmt::print("{}\n", sasl::base64_encode(
                         sasl::client_response(*mech, o.user, token, o.host, o.port).reveal()));
  return 0;
}

int run_decode(const decode_options& o) {
  const auto raw = sasl::base64_decode(o.payload);
  if (!raw) return fail(6, "not base64 (RFC 4648, padded, no line breaks)");
  auto show_token = [&](const secret& t) {
    return o.reveal ? std::string(t.reveal())
                    : fmt::format("[redacted, {} bytes; --reveal shows it]", t.size());
  };
  if (!raw->empty() && raw->front() == '{') {
    const auto ch = sasl::decode_error_challenge(o.payload);
    if (!ch) return fail(6, "looks like JSON but is not a JSON object");
    fmt::print("kind: error challenge\njson: {}\n", printable(ch->json));
    if (!ch->status.empty()) fmt::print("status: {}\n", printable(ch->status));
    if (!ch->schemes.empty()) fmt::print("schemes: {}\n", printable(ch->schemes));
    if (!ch->scope.empty()) fmt::print("scope: {}\n", printable(ch->scope));
    if (!ch->openid_configuration.empty())
      fmt::print("openid-configuration: {}\n", printable(ch->openid_configuration));
    fmt::print("meaning: {}\n", sasl::explain(*ch));
    return 0;
  }
  if (*raw == "\x01") {
    fmt::print("kind: OAUTHBEARER failure acknowledgement (a single ^A, RFC 7628 section 3.2.3)\n");
    return 0;
  }
  const auto mech =
      raw->starts_with("user=") ? sasl::mechanism::xoauth2 : sasl::mechanism::oauthbearer;
  std::string why;
  const auto decoded = sasl::decode_response(mech, *raw, &why);
  if (!decoded) return fail(6, why);
  fmt::print("kind: {} client response\n", sasl::name(mech));
  fmt::print("user: {}\n", printable(decoded->user));
  if (!decoded->host.empty()) fmt::print("host: {}\n", printable(decoded->host));
  if (decoded->port) fmt::print("port: {}\n", *decoded->port);
  fmt::print("token: {}\n", show_token(decoded->token));
  return 0;
}

}  // namespace

runner add_sasl_command(CLI::App& app) {
  auto* sasl_cmd =
      app.add_subcommand("sasl", "Encode or decode SASL XOAUTH2 / OAUTHBEARER messages");
  sasl_cmd->require_subcommand(1);

  auto enc = std::make_shared<encode_options>();
  auto* encode =
      sasl_cmd->add_subcommand("encode", "Print the base64 client response, on one line");
  encode->add_option("--user", enc->user, "User name (mailbox address)")->required();
  auto* token_opt = encode->add_option("--token", enc->token, "Access token");
  auto* file_opt =
      encode->add_option("--token-file", enc->token_file, "Read the token from a file");
  token_opt->excludes(file_opt);
  encode->add_option("--mech", enc->mech, "xoauth2 (default) or oauthbearer");
  encode->add_option("--host", enc->host, "OAUTHBEARER host field");
  encode->add_option("--port", enc->port, "OAUTHBEARER port field");

  auto dec = std::make_shared<decode_options>();
  auto* decode = sasl_cmd->add_subcommand(
      "decode", "Show the fields of a base64 client response or error challenge");
  decode->add_option("payload", dec->payload, "The base64 text")->required();
  decode->add_flag("--reveal", dec->reveal, "Show the token instead of redacting it");

  return [=]() -> int {
    if (encode->parsed()) {
      if (enc->token.empty() && enc->token_file.empty())
        return fail(2, "give --token or --token-file");
      return run_encode(*enc);
    }
    return run_decode(*dec);
  };
}

}  // namespace mailoauth::cli
