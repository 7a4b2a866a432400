// Internal: what the identity platform remembers between requests (codes, refresh token
// families, device codes, flows between the pages, browser sessions, consents), and the
// questions every endpoint asks of it (which tenant, which app, what was consented). Guarded by
// the authority's mutex: nothing here locks. Credentials are kept only as SHA-256 digests.
#pragma once

#include "sandbox/identity/aadsts.hpp"
#include "sandbox/identity/authority.hpp"
#include "sandbox/identity/scopes.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mailoauth::sandbox::detail {

using clock_type = std::chrono::system_clock;
using time_point = clock_type::time_point;

/// Flows, codes and device codes at once: bounded memory.
inline constexpr std::size_t max_pending = 10000;

std::int64_t unix_seconds(time_point t);

/// Who signed in, to which app, with which permissions: what codes and refresh tokens carry.
struct grant {
  std::string client_id;
  std::string username;
  std::string user_oid;
  std::set<std::string> outlook;
  std::set<std::string> oidc;
};

struct code_record {
  grant g;
  std::string redirect_uri;
  std::string challenge;
  std::string challenge_method;
  std::string nonce;
  time_point expires;
  bool redeemed = false;
  std::string family;  // the refresh token family its redemption started
};

struct refresh_record {
  std::string family;
  grant g;
  time_point expires;
  bool used = false;
};

enum class device_status { pending, approved, declined, redeemed };

struct device_record {
  std::string client_id;
  std::string user_code;
  scope_set scopes;
  time_point expires;
  std::chrono::seconds interval{5};
  time_point last_poll;
  device_status status = device_status::pending;
  grant g;
};

/// An authorization request as checked at /authorize.
struct auth_request {
  std::string tenant;
  std::string client_id;
  std::string redirect_uri;
  bool want_code = false;
  bool want_token = false;
  bool want_id_token = false;
  std::string response_mode;  // query, fragment, form_post
  std::string state;
  std::string nonce;
  std::string challenge;
  std::string challenge_method;
  std::string prompt;
  std::string login_hint;
  scope_set scopes;
};

/// One browser flow between the pages: an authorization request or a device code being
/// approved.
struct flow_context {
  bool device = false;
  auth_request req;        // !device
  std::string device_key;  // device
  std::string username;    // once signed in
  bool signed_in = false;
  int failed_passwords = 0;
  time_point expires;
};

struct session {
  std::string username;
  time_point expires;
};

enum class tenant_kind { ours, consumers, unknown };

struct authority::state {
  identity_options o;
  std::string origin;
  mutable std::mutex mutex;

  std::map<std::string, code_record> codes;
  std::map<std::string, refresh_record> refresh_tokens;
  std::set<std::string> revoked_families;
  std::map<std::string, device_record> devices;
  std::map<std::string, std::string> user_codes;  // user code -> device key
  std::map<std::string, flow_context> flows;
  std::map<std::string, session> sessions;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> consents;
  time_point last_purge{};

  explicit state(identity_options opts);

  [[nodiscard]] time_point now() const { return o.clock(); }
  [[nodiscard]] const directory& dir() const { return o.dir; }

  /// The ids an error names: a new trace id, and the client's client-request-id as the
  /// correlation id when it looks like a GUID (as Entra ID does).
  [[nodiscard]] error_context context(const http_in& in) const;

  [[nodiscard]] tenant_kind resolve_tenant(std::string_view t) const;
  /// The application for a request's client_id after the tenant checks, or the error.
  [[nodiscard]] std::variant<const app_registration*, aad_error> client_for(
      std::string_view tenant, const std::string* client_id) const;

  /// Permissions `user_oid` has consented to for `app`, with the tenant-wide admin consent.
  [[nodiscard]] std::set<std::string> consented(const app_registration& app,
                                                const std::string& user_oid) const;
  static bool covers(const std::set<std::string>& have, const scope_set& want);
  void record_consent(const std::string& client_id, const std::string& user_oid,
                      const scope_set& s);

  /// iss of ID tokens and of authorization responses (RFC 9207): AUTHORITY/{tid}/v2.0.
  [[nodiscard]] std::string issuer_v2() const;
  /// iss of access tokens: https://sts.windows.net/{tid}/, as Exchange Online's v1.0 tokens.
  [[nodiscard]] std::string access_token_issuer() const;

  /// Revokes a sign-in: its refresh tokens stay known (until they expire), so that they are
  /// answered "revoked" (AADSTS50173) rather than "malformed".
  void revoke_family(const std::string& family);

  /// Forgets what has expired, at most every 5 s unless memory is full.
  void purge();
  [[nodiscard]] bool full() const;
};

using platform_state = authority::state;

}  // namespace mailoauth::sandbox::detail
