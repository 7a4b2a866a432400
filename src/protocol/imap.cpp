// IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051): greeting, CAPABILITY, STARTTLS, AUTHENTICATE
// (with SASL-IR, RFC 4959) and LOGOUT.
#include "protocol/dialect.hpp"

#include <charconv>
#include <map>

namespace mailoauth::protocol::detail {
namespace {

// RFC 7162 section 4 asks clients to keep command lines within 8192 octets, which servers
// are expected to accept; longer initial responses go in the two-step exchange instead.
constexpr std::size_t imap_line_limit = 8192;

// "{123}" or "{123+}" at the end of a line announces a literal of that many octets.
std::size_t literal_length(std::string_view line) {
  if (line.empty() || line.back() != '}') return 0;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return 0;
  auto digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  std::size_t n = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || p != digits.data() + digits.size() || digits.empty()) return 0;
  return n;
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
    reply_ = reply{};
  }

  feed_result feed(std::string_view line) override {
    if (expecting_ == expectation::greeting) return feed_greeting(line);
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
      feed_result r;
      r.literal = literal_length(line);
      return r;
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
  std::string auth_command(sasl::mechanism m, std::string_view ir) override {
    std::string text = "AUTHENTICATE ";
    text.append(sasl::name(m));
    if (!ir.empty()) text.append(" ").append(ir);
    return command('A', text);
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

  bool initial_response_allowed(const capabilities& caps,
                                initial_response_policy policy) const override {
    return caps.sasl_ir && policy != initial_response_policy::never;
  }
  [[nodiscard]] std::size_t command_line_limit() const override { return imap_line_limit; }

 private:
  feed_result feed_greeting(std::string_view line) {
    reply_.line.assign(line);
    if (istarts_with(line, "* OK")) {
      reply_.st = reply::status::ok;
    } else if (istarts_with(line, "* PREAUTH")) {
      reply_.st = reply::status::preauth;
    } else if (istarts_with(line, "* BYE")) {
      reply_.st = reply::status::bye;
    } else {
      return error(errc::malformed_reply, "a greeting that is not * OK, * PREAUTH or * BYE");
    }
    return complete();
  }

  // Tags follow the seed's samples: C01 for CAPABILITY, A01 for AUTHENTICATE.
  std::string command(char prefix, std::string_view text) {
    const int n = ++counters_[prefix];
    tag_.assign(1, prefix);
    if (n < 10) tag_.push_back('0');
    tag_.append(std::to_string(n));
    return tag_ + " " + std::string(text);
  }

  expectation expecting_ = expectation::greeting;
  std::string tag_;
  std::map<char, int> counters_;
};

}  // namespace

std::unique_ptr<dialect> make_imap_dialect() {
  return std::make_unique<imap_dialect>();
}

}  // namespace mailoauth::protocol::detail
