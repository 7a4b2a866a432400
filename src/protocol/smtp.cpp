// SMTP submission (RFC 5321, RFC 6409) with EHLO, STARTTLS (RFC 3207) and AUTH (RFC 4954).
#include "protocol/dialect.hpp"

namespace mailoauth::protocol::detail {
namespace {

// RFC 5321 section 4.2: Reply-code = %x32-35 %x30-35 %x30-39.
bool is_reply_code(std::string_view line) noexcept {
  return line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '5' &&
         line[2] >= '0' && line[2] <= '9';
}

class smtp_dialect final : public dialect {
 public:
  explicit smtp_dialect(std::string client_name) : client_name_(std::move(client_name)) {}

  void expect(expectation e) override {
    expecting_ = e;
    code_.clear();
    reply_ = reply{};
  }

  feed_result feed(std::string_view line) override {
    // reply-line = Reply-code [ SP text ] CRLF, or Reply-code "-" text CRLF before the last line.
    // Codes outside the RFC's range used to be classified too (a "939" counted as a refusal
    // of the credentials); they are malformed.
    if (!is_reply_code(line) || (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
      return error(errc::malformed_reply, "a line that does not start with a three-digit code");
    const auto code = line.substr(0, 3);
    if (code_.empty())
      code_.assign(code);
    else if (code != code_)
      return error(errc::malformed_reply, "a multi-line reply whose lines carry different codes");
    if (line.size() > 3 && line[3] == '-') {
      reply_.lines.emplace_back(line);
      return feed_result{};
    }
    reply_.line.assign(line);
    // 3xx other than 334 asks for more input (354 after DATA). The session never sends a
    // command that expects one, so it must not pass for success: a 354 answering AUTH would
    // have counted as authenticated.
    if (code[0] == '3' && code != "334")
      return error(errc::unexpected_reply, "a 3xx reply other than a 334 continuation");
    reply_.st = classify(code);
    if (reply_.st == reply::status::continuation) {
      if (expecting_ != expectation::authenticate)
        return error(errc::unexpected_reply, "a 334 continuation outside AUTH");
      reply_.payload.assign(line.size() > 4 ? line.substr(4) : std::string_view{});
    }
    return complete();
  }

  std::string capability_command() override { return "EHLO " + client_name_; }
  [[nodiscard]] bool capability_reply_multiline() const override { return false; }
  std::string starttls_command() override { return "STARTTLS"; }
  std::string auth_command(sasl::mechanism m) override {
    return "AUTH " + std::string(sasl::name(m));
  }
  std::string logout_command() override { return "QUIT"; }

  std::optional<capabilities> parse_capabilities(const reply& r) const override {
    if (r.st != reply::status::ok) return std::nullopt;
    capabilities caps;
    // The first line greets; each later line (the last one included) is one extension.
    std::vector<std::string_view> ext;
    for (std::size_t i = 1; i < r.lines.size(); ++i) ext.emplace_back(r.lines[i]);
    if (!r.lines.empty()) ext.emplace_back(r.line);
    for (auto l : ext) {
      l.remove_prefix(std::min<std::size_t>(4, l.size()));
      auto words = split_words(l);
      if (words.empty()) continue;
      caps.words.emplace_back(l);
      if (iequals(words[0], "STARTTLS")) caps.starttls = true;
      if (iequals(words[0], "AUTH")) {
        for (std::size_t i = 1; i < words.size(); ++i)
          caps.mechanisms.push_back(to_upper(words[i]));
      } else if (istarts_with(words[0], "AUTH=")) {
        // Pre-RFC 2554 servers (and clients like Outlook Express) used "AUTH=".
        caps.mechanisms.push_back(to_upper(words[0].substr(5)));
        for (std::size_t i = 1; i < words.size(); ++i)
          caps.mechanisms.push_back(to_upper(words[i]));
      }
    }
    return caps;
  }

 private:
  static reply::status classify(std::string_view code) {
    if (code == "334") return reply::status::continuation;
    switch (code[0]) {
      case '2':
        return reply::status::ok;
      case '4':
        return reply::status::temporary;
      default:
        // 53x (535 bad credentials, 534 mechanism too weak, 530 authentication required) are
        // refusals; other 5xx say the command itself was wrong (500, 501, 504, 555).
        return code[1] == '3' ? reply::status::no : reply::status::bad;
    }
  }

  std::string client_name_;
  expectation expecting_ = expectation::greeting;
  std::string code_;
};

}  // namespace

std::unique_ptr<dialect> make_smtp_dialect(std::string client_name) {
  return std::make_unique<smtp_dialect>(std::move(client_name));
}

}  // namespace mailoauth::protocol::detail
