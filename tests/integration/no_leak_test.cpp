// At the most verbose level, in text and in JSON, after a success and after a rejection, no
// output of `mailoauth check` may hold the token or the SASL response that carries it: not
// whole, not in part, not base64-encoded.
#include "integration_environment.hpp"

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace mailoauth::test {
namespace {

std::string base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()),
                                static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Decodes a run of base64 characters; the run may lack its padding.
std::string unbase64(std::string text) {
  while (text.size() % 4 != 0) text.push_back('=');
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return {};
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// Everything that would give the token away. The JWT's header is the same for every token
// (alg, kid, typ), so it is no secret; its claims and signature are.
std::vector<std::string> secret_forms(const std::string& user, const std::string& token,
                                      std::uint16_t port) {
  const auto jwt = split(token, '.');
  std::vector<std::string> forms{token, jwt.at(1), jwt.at(2), jwt.at(2).substr(0, 24),
                                 jwt.at(2).substr(jwt.at(2).size() - 24)};
  const std::string bearer = "auth=Bearer " + token + "\x01\x01";
  forms.push_back(base64("user=" + user + "\x01" + bearer));
  const std::vector<std::string> host_port_variants{
      "", "host=127.0.0.1\x01", "host=127.0.0.1\x01port=" + std::to_string(port) + "\x01"};
  for (const auto& host_port : host_port_variants)
    forms.push_back(base64("n,a=" + user + ",\x01" + host_port + bearer));
  return forms;
}

// Any base64-looking run in the output that decodes to something holding the signature.
std::string decoded_leak(const std::string& output, const std::string& signature) {
  for (std::size_t i = 0; i < output.size();) {
    if (!is_base64_char(output[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < output.size() && is_base64_char(output[j])) ++j;
    if (j - i >= 16) {
      // Try each alignment, in case the run starts mid-quantum.
      for (std::size_t skip = 0; skip < 4 && i + skip < j; ++skip) {
        const auto decoded = unbase64(output.substr(i + skip, j - i - skip));
        if (decoded.find(signature.substr(0, 24)) != std::string::npos)
          return output.substr(i, std::min<std::size_t>(j - i, 60)) + "...";
      }
    }
    i = j;
  }
  return {};
}

struct leak_case {
  std::string scheme;
  std::uint16_t (dovecot_instance::*port)() const;
  std::string mech;
  bool json;
  bool valid;
};

void PrintTo(const leak_case& c, std::ostream* os) {
  *os << c.scheme << " " << c.mech << (c.json ? " json" : " text")
      << (c.valid ? " valid" : " expired");
}

std::string case_name(const ::testing::TestParamInfo<leak_case>& info) {
  const auto& c = info.param;
  return c.scheme + "_" + c.mech + (c.json ? "_json" : "_text") + (c.valid ? "_valid" : "_expired");
}

std::vector<leak_case> leak_cases() {
  struct where {
    std::string scheme;
    std::uint16_t (dovecot_instance::*port)() const;
    std::string mech;
  };
  // Every protocol, both TLS forms and both mechanisms appear at least once; the two-step
  // exchanges (POP3, SMTP) print the response on a line of its own.
  const where places[] = {
      {"imaps", &dovecot_instance::imaps_port, "xoauth2"},
      {"imap", &dovecot_instance::imap_port, "oauthbearer"},
      {"pop3s", &dovecot_instance::pop3s_port, "oauthbearer"},
      {"pop3", &dovecot_instance::pop3_port, "xoauth2"},
      {"smtps", &dovecot_instance::submissions_port, "xoauth2"},
      {"smtp", &dovecot_instance::submission_port, "oauthbearer"},
  };
  std::vector<leak_case> cases;
  for (const auto& p : places)
    for (const bool json : {false, true})
      for (const bool valid : {true, false})
        cases.push_back({p.scheme, p.port, p.mech, json, valid});
  return cases;
}

class no_secret_in_output : public ::testing::TestWithParam<leak_case> {};

TEST_P(no_secret_in_output, at_maximum_verbosity) {
  const auto& c = GetParam();
  const auto& dovecot = main_dovecot();
  const std::string user = "leak-" + case_name({c, 0}) + "@example.org";
  const auto token = mint_token(dovecot, {.email = user, .expires_in = c.valid ? 3600 : -120});
  const auto port = (dovecot.*c.port)();

  // -vv is the program's own option and goes before the command.
  std::vector<std::string> args{"-vv",  "check",        url(c.scheme, port),     "--user",
                                user,   "--token-file", write_token_file(token), "--mech",
                                c.mech, "--cafile",     dovecot.ca_file()};
  if (c.json) args.push_back("--json");
  const auto r = run_mailoauth(args);

  ASSERT_EQ(r.exit_code, c.valid ? 0 : 3) << r.describe() << dovecot.log_tail();
  // Proof that the most verbose level was on: it writes its debug lines to stderr.
  EXPECT_FALSE(r.err.empty()) << "nothing on stderr at -vv\n" << r.describe();
  for (const auto& form : secret_forms(user, token, port)) {
    EXPECT_EQ(r.out.find(form), std::string::npos) << "stdout holds a secret: " << form;
    EXPECT_EQ(r.err.find(form), std::string::npos) << "stderr holds a secret: " << form;
  }
  const auto signature = split(token, '.').at(2);
  EXPECT_EQ(decoded_leak(r.out, signature), "") << "stdout holds the token in base64";
  EXPECT_EQ(decoded_leak(r.err, signature), "") << "stderr holds the token in base64";
}

INSTANTIATE_TEST_SUITE_P(dovecot, no_secret_in_output, ::testing::ValuesIn(leak_cases()),
                         case_name);

// The detector itself must find a real leak: `mailoauth sasl encode` exists to print the SASL
// response, so each form of it must be caught, on its own line or amid other text.
TEST(leak_detector, finds_the_encoded_response) {
  const std::string user = "detector@example.org";
  const auto token = mint_token(main_dovecot(), {.email = user});
  const auto signature = split(token, '.').at(2);
  const std::vector<std::vector<std::string>> encodings{
      {"--mech", "xoauth2"},
      {"--mech", "oauthbearer"},
      {"--mech", "oauthbearer", "--host", "127.0.0.1", "--port", "993"}};
  for (const auto& extra : encodings) {
    std::vector<std::string> args{"sasl", "encode", "--user", user, "--token", token};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_mailoauth(args);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    const auto forms = secret_forms(user, token, 993);
    EXPECT_TRUE(std::any_of(forms.begin(), forms.end(), [&](const std::string& f) {
      return r.out.find(f) != std::string::npos;
    })) << r.describe();
    EXPECT_NE(decoded_leak("C: A01 AUTHENTICATE XOAUTH2 " + r.out, signature), "") << r.describe();
    // Shifted by one to three characters, as if a prefix had been cut off.
    for (std::size_t cut = 1; cut < 4; ++cut)
      EXPECT_NE(decoded_leak(r.out.substr(cut), signature), "") << cut;
  }
}

}  // namespace
}  // namespace mailoauth::test
