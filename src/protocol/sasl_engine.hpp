// Internal: the one SASL engine (RFC 4422 as the mail protocols profile it), for the client side
// and the server side of IMAP, POP3 and SMTP. What differs between the protocols is data, in a
// table (as curl's lib/curl_sasl.h has SASLproto): the continuation marker, the longest command
// line, whether an initial response may go on the command line. The engine knows nothing of
// tags, reply codes or sockets; the sessions wrap its lines in their protocol's syntax.
#pragma once

#include <mailoauth/error.hpp>
#include <mailoauth/protocol.hpp>
#include <mailoauth/sasl.hpp>
#include <mailoauth/secret.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailoauth::protocol::detail {

/// How one mail protocol carries SASL.
struct sasl_profile {
  mail_protocol protocol;
  /// What starts a server challenge line, payload after it: "+ " (IMAP, POP3) or "334 " (SMTP).
  std::string_view continuation;
  /// The longest command line, CRLF included, that the protocol lets a client send: IMAP 8192
  /// (RFC 7162 section 4's advice, which servers honour), POP3 255 (RFC 2449 section 4), SMTP
  /// 512 (RFC 5321 section 4.5.3.1.4, which RFC 4954 section 4 applies to AUTH).
  std::size_t command_line_limit;
  /// IMAP sends an initial response only when the server lists SASL-IR (RFC 4959); POP3 (RFC
  /// 5034) and SMTP (RFC 4954) always may.
  bool initial_response_needs_capability;
  /// Whether initial_response_policy::automatic sends one: not over POP3, where Microsoft
  /// requires the two-step form ("-ERR Protocol error." otherwise).
  bool initial_response_by_default;
};

/// The table's row for a protocol.
const sasl_profile& profile(mail_protocol p) noexcept;

/// The client's answer to a server's error challenge, by mechanism: XOAUTH2 an empty line
/// (Google's documentation), OAUTHBEARER a single ^A (RFC 7628 section 3.2.3).
std::string_view error_challenge_answer(sasl::mechanism m) noexcept;

/// The client side of one exchange: which line goes where, and what a challenge is answered
/// with. The session sends the AUTH command and reads the replies; this decides their content.
class sasl_client {
 public:
  /// `user`, `host` must pass sasl::invalid_field(); the mechanism must be an OAuth one.
  sasl_client(const sasl_profile& profile, sasl::mechanism mech, std::string_view user,
              const secret& token, std::string_view host, std::optional<std::uint16_t> port);

  /// Whether the response goes on the command line, given the server's capabilities, the
  /// policy and the length of the command line that would carry it (CRLF included).
  [[nodiscard]] bool use_initial_response(bool sasl_ir_offered, initial_response_policy policy,
                                          std::size_t command_length) const noexcept;

  /// The base64 client response.
  [[nodiscard]] const secret& response() const noexcept { return encoded_; }

  /// What to do with a continuation from the server.
  struct step {
    enum class kind {
      send_response,  // the empty continuation of the two-step form: send response()
      answer,         // an error challenge: send `line` (not secret), then expect the verdict
      cancel,         // a challenge that cannot be decoded: send "*" (RFC 4954 section 4)
      fail,           // another challenge after the exchange should have ended
    };
    kind k = kind::fail;
    std::string line;
  };
  /// `sent_response`: whether the response already went out (on the command line or earlier).
  step on_continuation(std::string_view payload, bool sent_response);

  /// The decoded error challenge, once one arrived.
  [[nodiscard]] const std::optional<sasl::error_challenge>& challenge() const noexcept {
    return challenge_;
  }
  /// True once a challenge could not be decoded and the exchange was cancelled.
  [[nodiscard]] bool cancelled() const noexcept { return cancelled_; }

 private:
  const sasl_profile& profile_;
  sasl::mechanism mech_;
  secret encoded_;
  bool challenged_ = false;
  bool cancelled_ = false;
  std::optional<sasl::error_challenge> challenge_;
};

/// A credential a client presented to a server session; the verifier decides it.
struct credential {
  sasl::mechanism mechanism = sasl::mechanism::xoauth2;
  /// True for IMAP LOGIN and POP3 USER/PASS, which carry a password outside SASL.
  bool password_command = false;
  /// The authentication identity: XOAUTH2's user=, OAUTHBEARER's a= (may be empty), PLAIN's
  /// authcid, LOGIN's user name, IMAP LOGIN's or POP3 USER's argument.
  std::string user;
  /// PLAIN's authorization identity, when it differs from `user`; empty otherwise.
  std::string authzid;
  /// The bearer token or the password.
  secret proof;
  /// OAUTHBEARER's host and port key-values, when sent.
  std::string host;
  std::optional<std::uint16_t> port;
};

/// The verifier's decision.
struct verdict {
  enum class kind {
    accept,     // authenticated as `identity`
    reject,     // wrong credential: the protocol's failure reply
    temporary,  // the verifier could not decide now (a store or network outage)
  };
  kind k = kind::reject;
  /// Who is authenticated, on accept (a mailbox, an account).
  std::string identity;
  /// On reject of a bearer mechanism: the JSON error sent as a SASL challenge before the
  /// failure reply (RFC 7628 section 3.2.2; Google's XOAUTH2). Empty: no challenge.
  std::string error_challenge;
  /// For the log, never a secret.
  std::string reason;
};

/// The server side of one exchange, from the AUTH command's mechanism and initial response to
/// the point where the protocol sends its final reply.
class sasl_server {
 public:
  /// What the session does next.
  struct step {
    enum class kind {
      challenge,  // send continuation + `line`, then feed the client's next line to on_line()
      verify,     // decide credential() and pass the verdict to on_verdict()
      success,    // send the protocol's success reply
      failure,    // the protocol's failure reply
      temporary,  // the protocol's temporary-failure reply
      cancelled,  // the client sent "*": the protocol's cancellation reply
      malformed,  // the response was not base64 or not the mechanism's syntax
    };
    kind k = kind::failure;
    std::string line;  // challenge payload (base64, or empty)
    std::string why;   // malformed: what was wrong, never a secret
  };

  sasl_server(const sasl_profile& profile, sasl::mechanism mech);

  /// Starts the exchange; `initial_response` as the command line had it ("=" is the empty
  /// one, RFC 4954 section 4), or nullopt for the two-step form.
  step start(std::optional<std::string_view> initial_response);
  /// A line the client sent in answer to a challenge (CRLF removed).
  step on_line(std::string_view line);
  /// The verifier's decision on credential().
  step on_verdict(const verdict& v);

  /// Valid after a step of kind verify, until on_verdict().
  [[nodiscard]] const credential& pending() const noexcept { return credential_; }
  /// Who was authenticated, after success.
  [[nodiscard]] const std::string& identity() const noexcept { return identity_; }
  [[nodiscard]] sasl::mechanism mechanism() const noexcept { return mech_; }
  /// Whether the client's last line may show in a transcript: "*", "" and "AQ==" carry nothing.
  [[nodiscard]] static bool harmless(std::string_view line) noexcept;

 private:
  enum class state { start, response, login_password, challenged, verifying, done };
  step respond(std::string_view base64);
  step decode(std::string raw);
  static step make(step::kind k, std::string line = {}, std::string why = {});

  const sasl_profile& profile_;
  sasl::mechanism mech_;
  state state_ = state::start;
  credential credential_;
  std::string identity_;
  bool temporary_ = false;
};

}  // namespace mailoauth::protocol::detail
