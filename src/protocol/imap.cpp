// IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051): greeting, CAPABILITY, STARTTLS, AUTHENTICATE
// (with SASL-IR, RFC 4959) and LOGOUT.
#include "protocol/dialect.hpp"
#include "protocol/imap_syntax.hpp"

#include <map>

namespace mailoauth::protocol::detail {
namespace {

// The status word of a greeting, "* OK", followed by a space or the end of the line, so that
// "* OKAY" is not taken for "* OK".
bool starts_with_word(std::string_view line, std::string_view word) {
  return istarts_with(line, word) && (line.size() == word.size() || line[word.size()] == ' ');
}

// The text after "[CAPABILITY " up to "]" in a response code, if any.
std::optional<std::string_view> capability_code(std::string_view line) {
  const auto open = line.find('[');
  if (open == std::string_view::npos) return std::nullopt;
  auto rest = line.substr(open + 1);
  if (!istarts_with(rest, "CAPABILITY ")) return std::nullopt;
  rest.remove_prefix(11);
  const auto close = rest.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  return rest.substr(0, close);
}

class imap_dialect final : public dialect {
 public:
  void expect(expectation e) override {
    expecting_ = e;
    after_literal_ = false;
    reply_ = reply{};
  }

  feed_result feed(std::string_view line) override {
    if (expecting_ == expectation::greeting) return feed_greeting(line);
    if (after_literal_) {
      // RFC 3501 section 4.3: the line after a literal continues the same untagged response
      // (for instance the ")" that closes a FETCH); it is not a new response.
      reply_.lines.back().append(line);
      return untagged_tail(line);
    }
    if (line == "+" || line.starts_with("+ ")) {
      if (expecting_ != expectation::authenticate)
        return error(errc::unexpected_reply, "a continuation request outside AUTHENTICATE");
      reply_.st = reply::status::continuation;
      reply_.line.assign(line);
      reply_.payload.assign(line.size() > 2 ? line.substr(2) : std::string_view{});
      return complete();
    }
    if (line.starts_with("* ")) {
      reply_.lines.emplace_back(line);
      return untagged_tail(line);
    }
    if (line.size() > tag_.size() && line.starts_with(tag_) && line[tag_.size()] == ' ') {
      const auto rest = line.substr(tag_.size() + 1);
      reply_.line.assign(line);
      if (istarts_with(rest, "OK ") || iequals(rest, "OK")) {
        reply_.st = reply::status::ok;
      } else if (istarts_with(rest, "NO ") || iequals(rest, "NO")) {
        // RFC 5530 response codes say whether trying again later can help.
        reply_.st =
            istarts_with(rest.substr(std::min<std::size_t>(3, rest.size())), "[UNAVAILABLE]")
                ? reply::status::temporary
                : reply::status::no;
      } else if (istarts_with(rest, "BAD ") || iequals(rest, "BAD")) {
        reply_.st = reply::status::bad;
      } else {
        return error(errc::malformed_reply, "a tagged reply that is not OK, NO or BAD");
      }
      return complete();
    }
    return error(errc::malformed_reply, "a line that is neither untagged nor tagged " + tag_);
  }

  std::string capability_command() override { return command('C', "CAPABILITY"); }
  [[nodiscard]] bool capability_reply_multiline() const override { return false; }
  std::string starttls_command() override { return command('S', "STARTTLS"); }
  std::string auth_command(sasl::mechanism m) override {
    return command('A', "AUTHENTICATE " + std::string(sasl::name(m)));
  }
  std::size_t auth_command_length(sasl::mechanism m, std::size_t ir_size) const override {
    // tag SP "AUTHENTICATE" SP mechanism [SP initial-response] CRLF
    return next_tag('A').size() + 14 + sasl::name(m).size() + (ir_size ? 1 + ir_size : 0) + 2;
  }
  std::string logout_command() override { return command('L', "LOGOUT"); }

  std::optional<capabilities> parse_capabilities(const reply& r) const override {
    std::optional<std::string_view> list;
    for (const auto& l : r.lines) {
      if (istarts_with(l, "* CAPABILITY ")) list = std::string_view(l).substr(13);
    }
    if (!list) list = capability_code(r.line);
    if (!list) return std::nullopt;
    capabilities caps;
    caps.words = split_words(*list);
    for (const auto& w : caps.words) {
      if (istarts_with(w, "AUTH=")) caps.mechanisms.push_back(to_upper(w.substr(5)));
      if (iequals(w, "STARTTLS")) caps.starttls = true;
      if (iequals(w, "SASL-IR")) caps.sasl_ir = true;
      if (iequals(w, "IMAP4rev1")) caps.imap4rev1 = true;
      if (iequals(w, "IMAP4rev2")) caps.imap4rev2 = true;
    }
    return caps;
  }

 private:
  // An untagged line, or the rest of one after a literal: a literal at its end means raw bytes
  // and then more of the same response follow.
  feed_result untagged_tail(std::string_view line) {
    feed_result r;
    const auto literal = trailing_literal(line);
    after_literal_ = literal.has_value();
    r.literal = literal ? literal->size : 0;
    return r;
  }

  feed_result feed_greeting(std::string_view line) {
    reply_.line.assign(line);
    if (starts_with_word(line, "* OK")) {
      reply_.st = reply::status::ok;
    } else if (starts_with_word(line, "* PREAUTH")) {
      reply_.st = reply::status::preauth;
    } else if (starts_with_word(line, "* BYE")) {
      reply_.st = reply::status::bye;
    } else {
      return error(errc::malformed_reply, "a greeting that is not * OK, * PREAUTH or * BYE");
    }
    return complete();
  }

  // Tags follow Microsoft's guide's samples: C01 for CAPABILITY, A01 for AUTHENTICATE.
  std::string next_tag(char prefix) const {
    const auto it = counters_.find(prefix);
    const int n = (it == counters_.end() ? 0 : it->second) + 1;
    return prefix + std::string(n < 10 ? "0" : "") + std::to_string(n);
  }

  std::string command(char prefix, std::string_view text) {
    tag_ = next_tag(prefix);
    ++counters_[prefix];
    return tag_ + " " + std::string(text);
  }

  expectation expecting_ = expectation::greeting;
  bool after_literal_ = false;  // the next line continues the untagged response before it
  std::string tag_;
  std::map<char, int> counters_;
};

}  // namespace

std::unique_ptr<dialect> make_imap_dialect() {
  return std::make_unique<imap_dialect>();
}

}  // namespace mailoauth::protocol::detail
