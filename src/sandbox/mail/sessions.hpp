// Internal: what the three protocol sessions share, and their entry points. Each session is one
// coroutine that owns its connection's protocol state and returns when the client is done.
//
// In this folder a co_await never sits inside a condition or a logical operator
// (`if (!co_await f())`, `a || co_await f()`): GCC 12 miscompiled such coroutines here, with
// crashes (a dangling frame, SIGILL) that went away once every co_await became a statement of
// its own.
#pragma once

#include "sandbox/mail/connection.hpp"
#include "sandbox/mail/mailbox_store.hpp"
#include "sandbox/mail/token_check.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::sandbox::detail {

struct server_context {
  const mail_server_options& options;
  mailbox_store& store;
};

boost::asio::awaitable<void> run_imap_session(connection& conn, server_context& ctx);
boost::asio::awaitable<void> run_pop3_session(connection& conn, server_context& ctx);
boost::asio::awaitable<void> run_smtp_session(connection& conn, server_context& ctx);

enum class sasl_end { success, failure, cancelled, closed, too_long };

struct sasl_result {
  sasl_end end = sasl_end::failure;
  std::string mailbox;  // on success
};

/// The SASL steps shared by the three protocols, from the AUTH command's mechanism (and initial
/// response, "=" meaning empty) to the point where the protocol sends its final line: the
/// empty continuation, the client response, the token check, and on failure the JSON error
/// challenge and the client's answer to it. Office 365 sends that challenge for OAUTHBEARER
/// (RFC 7628 requires it) and, as Microsoft's guide shows, for XOAUTH2 over POP3 only; over IMAP
/// and SMTP a refused XOAUTH2 token gets the final NO or 535 straight away.
boost::asio::awaitable<sasl_result> run_sasl_exchange(
    connection& conn, server_context& ctx, mail_protocol protocol, sasl::mechanism mech,
    std::optional<std::string_view> initial_response);

/// The time now, in unix seconds.
std::int64_t unix_now();

/// RFC 5322 date for headers and the IMAP INTERNALDATE form.
std::string rfc5322_date(std::int64_t unix_seconds);
std::string imap_date(std::int64_t unix_seconds);

/// Case-insensitive ASCII comparisons for commands.
bool ascii_iequals(std::string_view a, std::string_view b) noexcept;
std::string upper(std::string_view s);

}  // namespace mailoauth::sandbox::detail
