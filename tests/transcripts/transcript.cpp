#include "transcript.hpp"

#include <mailoauth/sasl.hpp>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace mailoauth::test {
namespace {

std::string unescape(std::string_view s, int line) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) throw std::runtime_error("line " + std::to_string(line) + ": lone \\");
    switch (s[i]) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        if (i + 2 >= s.size())
          throw std::runtime_error("line " + std::to_string(line) + ": short \\x escape");
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
        break;
      }
      default:
        throw std::runtime_error("line " + std::to_string(line) + ": unknown escape");
    }
  }
  return out;
}

// A token of n bytes that looks like a JWT's base64url alphabet, the same on every run.
std::string make_token(std::size_t n) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string t(n, 'x');
  for (std::size_t i = 0; i < n; ++i) t[i] = alphabet[(i * 7 + i / 64) % alphabet.size()];
  return t;
}

void replace_all(std::string& s, std::string_view what, const std::string& with) {
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
}

}  // namespace

std::string unescape_transcript(std::string_view s, int line) {
  return unescape(s, line);
}

std::string deterministic_token(std::size_t n) {
  return make_token(n);
}

protocol::session_options transcript::options(protocol::transport_security sec) const {
  protocol::session_options o;
  o.protocol = protocol;
  o.security = sec;
  o.user = user;
  o.token = secret(token);
  o.host = "localhost";
  if (mech) o.mechanism = sasl::parse_mechanism(*mech);
  if (initial_response == "prefer")
    o.initial_response = protocol::initial_response_policy::prefer;
  else if (initial_response == "never")
    o.initial_response = protocol::initial_response_policy::never;
  return o;
}

transcript load_transcript(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  transcript t;
  t.name = file.stem().string();
  std::string line;
  int n = 0;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(file.string() + ":" + std::to_string(n) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("S: ") || line == "S:") {
      t.steps.push_back({transcript_step::kind::server,
                         unescape(line.size() > 3 ? line.substr(3) : "", n) + "\r\n", n});
    } else if (line.starts_with("C: ") || line == "C:") {
      t.steps.push_back({transcript_step::kind::client,
                         unescape(line.size() > 3 ? line.substr(3) : "", n) + "\r\n", n});
    } else if (line.starts_with("FLOOD: ")) {
      t.steps.push_back({transcript_step::kind::server,
                         std::string(std::stoul(line.substr(7)), 'x') + "\r\n", n});
    } else if (line == "TLS") {
      t.steps.push_back({transcript_step::kind::tls, {}, n});
    } else if (line == "CLOSE") {
      t.steps.push_back({transcript_step::kind::close, {}, n});
    } else if (line == "HANG") {
      t.steps.push_back({transcript_step::kind::hang, {}, n});
    } else {
      const auto colon = line.find(": ");
      if (colon == std::string::npos) fail("not a step or option: " + line);
      const auto key = line.substr(0, colon);
      const auto value = line.substr(colon + 2);
      if (key == "protocol") {
        if (value == "imap")
          t.protocol = protocol::mail_protocol::imap;
        else if (value == "pop3")
          t.protocol = protocol::mail_protocol::pop3;
        else if (value == "smtp")
          t.protocol = protocol::mail_protocol::smtp;
        else
          fail("unknown protocol " + value);
      } else if (key == "security") {
        if (value != "any" && value != "starttls" && value != "implicit" && value != "none")
          fail("unknown security " + value);
        t.security = value;
      } else if (key == "user") {
        t.user = value;
      } else if (key == "token") {
        t.token = value;
      } else if (key == "token-length") {
        t.token = make_token(std::stoul(value));
      } else if (key == "mech") {
        t.mech = value;
      } else if (key == "initial-response") {
        t.initial_response = value;
      } else if (key == "exit") {
        t.exit_code = std::stoi(value);
      } else if (key == "expect") {
        t.expect.push_back(value);
      } else {
        fail("unknown option " + key);
      }
    }
  }
  if (t.user.empty() || t.token.empty()) fail("a transcript needs user: and token:");

  if (t.mech && !sasl::parse_mechanism(*t.mech)) fail("unknown mech " + *t.mech);
  return t;
}

std::vector<transcript_step> transcript::steps_for(std::string_view host,
                                                   std::optional<std::uint16_t> port) const {
  // The mechanism of a {response} is the one named by the latest AUTH command, so that the
  // two-step form expands right too.
  auto mechanism = mech ? *sasl::parse_mechanism(*mech) : sasl::mechanism::xoauth2;
  auto out = steps;
  for (auto& s : out) {
    if (s.type != transcript_step::kind::client) continue;
    if (s.text.find(" XOAUTH2") != std::string::npos) mechanism = sasl::mechanism::xoauth2;
    if (s.text.find(" OAUTHBEARER") != std::string::npos) mechanism = sasl::mechanism::oauthbearer;
    if (s.text.find("{response}") == std::string::npos) continue;
    const auto response = sasl::base64_encode(
        sasl::client_response(mechanism, user, secret(token), host, port).reveal());
    replace_all(s.text, "{response}", response);
  }
  return out;
}

std::string transcript_test_name(const ::testing::TestParamInfo<std::filesystem::path>& file) {
  auto name = file.param.stem().string();
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

std::vector<std::filesystem::path> transcript_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(
           std::filesystem::path(MAILOAUTH_SOURCE_DIR) / "tests/transcripts/data")) {
    if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mailoauth::test
