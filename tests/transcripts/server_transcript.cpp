#include "server_transcript.hpp"

#include "transcript.hpp"

#include <mailoauth/sasl.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mailoauth::test {
namespace {

// Expands {plain:U:P}, {xoauth2:U:T} and {oauthbearer:U:T}.
std::string expand(std::string s) {
  for (;;) {
    const auto open = s.find('{');
    if (open == std::string::npos) return s;
    const auto close = s.find('}', open);
    if (close == std::string::npos) return s;
    const auto inner = s.substr(open + 1, close - open - 1);
    const auto c1 = inner.find(':');
    const auto c2 = c1 == std::string::npos ? std::string::npos : inner.find(':', c1 + 1);
    if (c2 == std::string::npos) return s;
    const auto kind = inner.substr(0, c1);
    const auto user = inner.substr(c1 + 1, c2 - c1 - 1);
    const secret proof(inner.substr(c2 + 1));
    std::string raw;
    if (kind == "plain")
      raw = std::string(sasl::plain_response(user, proof).reveal());
    else if (kind == "xoauth2")
      raw = std::string(sasl::xoauth2_response(user, proof).reveal());
    else if (kind == "oauthbearer")
      raw = std::string(sasl::oauthbearer_response(user, proof).reveal());
    else
      return s;
    s.replace(open, close - open + 1, sasl::base64_encode(raw));
  }
}

bool yes(const std::string& v, const std::function<void(const std::string&)>& fail) {
  if (v == "yes") return true;
  if (v != "no") fail("expected yes or no, not " + v);
  return false;
}

}  // namespace

protocol::detail::verdict server_transcript::decide(const protocol::detail::credential& c) const {
  protocol::detail::verdict v;
  if (std::find(temporary.begin(), temporary.end(), c.user) != temporary.end()) {
    v.k = protocol::detail::verdict::kind::temporary;
    return v;
  }
  for (const auto& a : accept) {
    if (a.user == c.user && c.proof == secret(a.proof)) {
      v.k = protocol::detail::verdict::kind::accept;
      v.identity = a.identity;
      return v;
    }
  }
  v.k = protocol::detail::verdict::kind::reject;
  v.error_challenge = challenge;
  return v;
}

std::vector<std::string> server_transcript::secrets() const {
  std::vector<std::string> out;
  for (const auto& a : accept) out.push_back(a.proof);
  return out;
}

server_transcript load_server_transcript(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  server_transcript t;
  t.name = file.stem().string();
  t.options.host_name = "SANDBOX01.mailoauth.localhost";
  std::string line;
  int n = 0;
  const std::function<void(const std::string&)> fail = [&](const std::string& why) {
    throw std::runtime_error(file.string() + ":" + std::to_string(n) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    const auto text = [&](std::size_t from) {
      return expand(unescape_transcript(line.size() > from ? line.substr(from) : "", n));
    };
    if (line.starts_with("C: ") || line == "C:") {
      t.steps.push_back({server_step::kind::client, text(3) + "\r\n", n});
    } else if (line.starts_with("S: ") || line == "S:") {
      t.steps.push_back({server_step::kind::server, text(3) + "\r\n", n});
    } else if (line == "TLS") {
      t.steps.push_back({server_step::kind::tls, {}, n});
    } else if (line == "CLOSE") {
      t.steps.push_back({server_step::kind::close, {}, n});
    } else if (line.starts_with("PENDING: ")) {
      t.steps.push_back({server_step::kind::pending, text(9), n});
    } else if (line.starts_with("COMMAND: ")) {
      t.steps.push_back({server_step::kind::command, text(9), n});
    } else {
      const auto colon = line.find(": ");
      if (colon == std::string::npos) fail("not a step or option: " + line);
      const auto key = line.substr(0, colon);
      const auto value = line.substr(colon + 2);
      auto& o = t.options;
      if (key == "protocol") {
        if (value == "imap")
          o.protocol = protocol::mail_protocol::imap;
        else if (value == "pop3")
          o.protocol = protocol::mail_protocol::pop3;
        else if (value == "smtp")
          o.protocol = protocol::mail_protocol::smtp;
        else
          fail("unknown protocol " + value);
      } else if (key == "security") {
        if (value == "implicit")
          o.security = protocol::transport_security::implicit_tls;
        else if (value == "starttls")
          o.security = protocol::transport_security::starttls;
        else if (value == "none")
          o.security = protocol::transport_security::none;
        else
          fail("unknown security " + value);
      } else if (key == "mechanisms") {
        o.mechanisms.clear();
        std::istringstream words(value);
        for (std::string w; words >> w;) {
          const auto m = sasl::parse_mechanism(w);
          if (!m) fail("unknown mechanism " + w);
          o.mechanisms.push_back(*m);
        }
      } else if (key == "capabilities") {
        o.capabilities.clear();
        std::istringstream words(value);
        for (std::string w; words >> w;) {
          std::replace(w.begin(), w.end(), '_', ' ');  // "SIZE_35882577": one word
          o.capabilities.push_back(w);
        }
      } else if (key == "password-commands") {
        o.password_commands = yes(value, fail);
      } else if (key == "pop3-initial-response") {
        o.pop3_initial_response = yes(value, fail);
      } else if (key == "require-tls") {
        o.require_tls_for_auth = yes(value, fail);
      } else if (key == "max-auth-line") {
        o.max_auth_line = std::stoul(value);
      } else if (key == "greeting") {
        o.texts.greeting = value;
      } else if (key == "accept") {
        std::istringstream words(value);
        server_transcript::account a;
        if (!(words >> a.user >> a.proof >> a.identity)) fail("accept: USER PROOF IDENTITY");
        t.accept.push_back(a);
      } else if (key == "temporary") {
        t.temporary.push_back(value);
      } else if (key == "challenge") {
        t.challenge = value;
      } else if (key == "end") {
        if (value != "authenticated" && value != "logged-out" && value != "closed" &&
            value != "line-too-long")
          fail("unknown end " + value);
        t.end = value;
      } else if (key == "identity") {
        t.identity = value;
      } else {
        fail("unknown option " + key);
      }
    }
  }
  return t;
}

std::vector<std::filesystem::path> server_transcript_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(
           std::filesystem::path(MAILOAUTH_SOURCE_DIR) / "tests/transcripts/data/server")) {
    if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mailoauth::test
