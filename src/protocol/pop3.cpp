// POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595) and AUTH (RFC 5034).
#include "protocol/dialect.hpp"

namespace mailoauth::protocol::detail {
namespace {

class pop3_dialect final : public dialect {
 public:
  void expect(expectation e) override {
    expecting_ = e;
    in_body_ = false;
    reply_ = reply{};
  }

  feed_result feed(std::string_view line) override {
    if (in_body_) {
      if (line == ".") return complete();
      // Dot-stuffing (RFC 1939 section 3).
      if (line.starts_with('.')) line.remove_prefix(1);
      reply_.lines.emplace_back(line);
      return feed_result{};
    }
    reply_.line.assign(line);
    if (istarts_with(line, "+OK")) {
      if (line.size() > 3 && line[3] != ' ')
        return error(errc::malformed_reply, "a status that is not +OK or -ERR");
      reply_.st = reply::status::ok;
      if (expecting_ == expectation::multiline) {
        in_body_ = true;
        return feed_result{};
      }
      return complete();
    }
    if (istarts_with(line, "-ERR")) {
      // As for +OK: "-ERRx" is not a status, and the response code must follow one space.
      if (line.size() > 4 && line[4] != ' ')
        return error(errc::malformed_reply, "a status that is not +OK or -ERR");
      // RFC 3206: [SYS/TEMP] and [IN-USE] say the failure is not the credentials' fault.
      const auto rest = line.substr(std::min<std::size_t>(5, line.size()));
      reply_.st = istarts_with(rest, "[SYS/TEMP]") || istarts_with(rest, "[IN-USE]")
                      ? reply::status::temporary
                      : reply::status::no;
      return complete();
    }
    if (line == "+" || line.starts_with("+ ")) {
      if (expecting_ != expectation::authenticate)
        return error(errc::unexpected_reply, "a continuation outside AUTH");
      reply_.st = reply::status::continuation;
      reply_.payload.assign(line.size() > 2 ? line.substr(2) : std::string_view{});
      return complete();
    }
    return error(errc::malformed_reply, "a status that is not +OK or -ERR");
  }

  std::string capability_command() override { return "CAPA"; }
  [[nodiscard]] bool capability_reply_multiline() const override { return true; }
  std::string starttls_command() override { return "STLS"; }
  std::string auth_command(sasl::mechanism m) override {
    return "AUTH " + std::string(sasl::name(m));
  }
  std::string logout_command() override { return "QUIT"; }

  std::optional<capabilities> parse_capabilities(const reply& r) const override {
    if (r.st != reply::status::ok) return std::nullopt;
    capabilities caps;
    for (const auto& l : r.lines) {
      auto words = split_words(l);
      if (words.empty()) continue;
      if (iequals(words[0], "STLS")) caps.starttls = true;
      if (iequals(words[0], "SASL"))
        for (std::size_t i = 1; i < words.size(); ++i)
          caps.mechanisms.push_back(to_upper(words[i]));
      caps.words.push_back(l);
    }
    return caps;
  }

 private:
  expectation expecting_ = expectation::greeting;
  bool in_body_ = false;
};

}  // namespace

std::unique_ptr<dialect> make_pop3_dialect() {
  return std::make_unique<pop3_dialect>();
}

}  // namespace mailoauth::protocol::detail
