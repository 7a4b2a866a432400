// Internal: what differs between IMAP, POP3 and SMTP replies and commands on the client side,
// behind one interface, so that a single session machine serves all three. What differs in
// SASL is data in sasl_engine.hpp's table.
#pragma once

#include <mailoauth/protocol.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailoauth::protocol::detail {

/// What a server offers, from IMAP CAPABILITY, POP3 CAPA or SMTP EHLO.
struct capabilities {
  std::vector<std::string> words;       // as the server listed them
  std::vector<std::string> mechanisms;  // SASL mechanisms, upper-cased
  bool starttls = false;
  bool sasl_ir = false;  // IMAP SASL-IR (RFC 4959)
  bool imap4rev1 = false;
  bool imap4rev2 = false;

  [[nodiscard]] bool offers(std::string_view mechanism) const;
};

/// One complete server reply, normalised.
struct reply {
  enum class status {
    ok,            // IMAP OK, POP3 +OK, SMTP 2xx (3xx other than 334 is unexpected_reply)
    no,            // a definitive refusal: IMAP NO, POP3 -ERR, SMTP 53x
    temporary,     // try later: IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP], SMTP 4xx
    bad,           // the server found our command wrong: IMAP BAD, SMTP 5xx other than 53x
    continuation,  // IMAP/POP3 "+", SMTP 334
    preauth,       // IMAP PREAUTH greeting
    bye,           // IMAP BYE greeting
  };
  status st = status::ok;
  std::string line;                // the final line, verbatim
  std::vector<std::string> lines;  // the lines before it (untagged data, CAPA body, EHLO lines)
  std::string payload;             // continuation payload
};

/// What the session is waiting for; the dialect parses accordingly.
enum class expectation { greeting, single, multiline, authenticate };

/// The outcome of feeding one line.
struct feed_result {
  enum class kind { more, complete, error };
  kind k = kind::more;
  errc error = errc::malformed_reply;
  std::string why;  // for errors: what was wrong with the line
  /// IMAP only: the line announced a literal of this many bytes, to be skipped raw.
  std::size_t literal = 0;
};

class dialect {
 public:
  virtual ~dialect() = default;

  /// Starts a new reply of the given kind.
  virtual void expect(expectation e) = 0;
  /// Feeds one line (without CRLF). When complete, the reply is in current().
  virtual feed_result feed(std::string_view line) = 0;
  [[nodiscard]] const reply& current() const noexcept { return reply_; }

  virtual std::string capability_command() = 0;
  [[nodiscard]] virtual bool capability_reply_multiline() const = 0;
  virtual std::string starttls_command() = 0;
  /// The AUTH command without its initial response; the session appends " " and the response
  /// itself, into a buffer it wipes. IMAP allocates a tag, so call it once per command sent.
  virtual std::string auth_command(sasl::mechanism m) = 0;
  /// The length, CRLF included, of the AUTH command that auth_command() would return now.
  [[nodiscard]] virtual std::size_t auth_command_length(sasl::mechanism m,
                                                        std::size_t initial_response_size) const {
    // "AUTH " mechanism [" " initial-response] CRLF, as POP3 and SMTP write it.
    return 5 + sasl::name(m).size() + (initial_response_size ? 1 + initial_response_size : 0) + 2;
  }
  virtual std::string logout_command() = 0;

  /// Capabilities from a capability reply; IMAP also reads them from a greeting's response code.
  virtual std::optional<capabilities> parse_capabilities(const reply& r) const = 0;

 protected:
  static feed_result complete() {
    feed_result r;
    r.k = feed_result::kind::complete;
    return r;
  }
  static feed_result error(errc e, std::string why) {
    feed_result r;
    r.k = feed_result::kind::error;
    r.error = e;
    r.why = std::move(why);
    return r;
  }

  reply reply_;
};

std::unique_ptr<dialect> make_imap_dialect();
std::unique_ptr<dialect> make_pop3_dialect();
std::unique_ptr<dialect> make_smtp_dialect(std::string client_name);

/// Case-insensitive ASCII helpers shared by the dialects.
bool iequals(std::string_view a, std::string_view b) noexcept;
bool istarts_with(std::string_view text, std::string_view prefix) noexcept;
std::string to_upper(std::string_view s);
std::vector<std::string> split_words(std::string_view s);

}  // namespace mailoauth::protocol::detail
