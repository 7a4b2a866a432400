#include "sandbox/mail/sessions.hpp"

#include <spdlog/spdlog.h>

#include <ctime>

namespace mailoauth::sandbox::detail {
namespace {

std::string_view continuation(mail_protocol p) {
  return p == mail_protocol::smtp ? "334 " : "+ ";
}

const char* protocol_name(mail_protocol p) {
  return p == mail_protocol::imap ? "imap" : p == mail_protocol::pop3 ? "pop3" : "smtp";
}

}  // namespace

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return out;
}

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string rfc5322_date(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string imap_date(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%d-%b-%Y %H:%M:%S +0000", &tm);
  return buf;
}

boost::asio::awaitable<sasl_result> run_sasl_exchange(
    connection& conn, server_context& ctx, mail_protocol protocol, sasl::mechanism mech,
    std::optional<std::string_view> initial_response) {
  const auto& o = ctx.options;
  std::string response;
  if (initial_response) {
    response = *initial_response;
  } else {
    conn.send_line(continuation(protocol));
    const bool asked = co_await conn.flush();
    if (!asked) co_return sasl_result{sasl_end::closed, {}};
    const auto st = co_await conn.read_line(response, o.max_auth_line, o.io_timeout);
    if (st == read_status::closed) co_return sasl_result{sasl_end::closed, {}};
    if (st == read_status::too_long) co_return sasl_result{sasl_end::too_long, {}};
    conn.record_client(response == "*" || response.empty() ? response : "[redacted]");
  }
  if (response == "*") co_return sasl_result{sasl_end::cancelled, {}};

  // "=" is the empty initial response (RFC 4959, 4954, 5034); empty is not a valid response of
  // either mechanism, so it fails below like any malformed one.
  std::optional<std::string> raw =
      response == "=" ? std::optional<std::string>(std::string()) : sasl::base64_decode(response);
  wipe(response);
  token_verdict verdict;
  bool challenge = mech == sasl::mechanism::oauthbearer || protocol == mail_protocol::pop3;
  if (!raw) {
    verdict.status = "400";
    verdict.reason = "the client response is not base64";
    challenge = false;
  } else {
    std::string why;
    auto decoded = sasl::decode_response(mech, *raw, &why);
    wipe(*raw);
    if (!decoded) {
      verdict.status = "400";
      verdict.reason = why;
      challenge = false;
    } else {
      verdict = check_token(*decoded, protocol,
                            {&o.token_public_pem, &o.domains, unix_now(), o.clock_leeway});
      if (verdict.ok) {
        spdlog::info("mail sandbox: {} session {}: {} authenticated with {} ({} token)",
                     protocol_name(protocol), conn.id(), verdict.mailbox, sasl::name(mech),
                     verdict.reason);
        co_return sasl_result{sasl_end::success, verdict.mailbox};
      }
    }
  }
  spdlog::info("mail sandbox: {} session {}: {} refused: {}", protocol_name(protocol), conn.id(),
               sasl::name(mech), verdict.reason);
  if (!challenge) co_return sasl_result{sasl_end::failure, {}};

  conn.send_line(
      std::string(continuation(protocol)) +
      sasl::base64_encode(error_challenge_json(mech, verdict, protocol, o.openid_configuration)));
  const bool challenged = co_await conn.flush();
  if (!challenged) co_return sasl_result{sasl_end::closed, {}};
  // XOAUTH2 clients answer with an empty line, OAUTHBEARER clients with ^A (AQ==); whatever
  // they send, the exchange has failed (RFC 7628 section 3.2.3).
  std::string answer;
  const auto st = co_await conn.read_line(answer, o.max_auth_line, o.io_timeout);
  if (st == read_status::closed) co_return sasl_result{sasl_end::closed, {}};
  if (st == read_status::too_long) co_return sasl_result{sasl_end::too_long, {}};
  const bool harmless = answer.empty() || answer == "*" || answer == "AQ==";
  conn.record_client(harmless ? answer : "[redacted]");
  co_return sasl_result{answer == "*" ? sasl_end::cancelled : sasl_end::failure, {}};
}

}  // namespace mailoauth::sandbox::detail
