// Replays every transcript against the real client: `mailoauth check` connects to a loopback
// server that plays the server's side over TCP and TLS, and checks each line the client sends.
#include "process_run.hpp"
#include "script_server.hpp"
#include "transcript.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

namespace mailoauth::test {
namespace {

namespace fs = std::filesystem;

const fs::path cert_dir = fs::path(MAILOAUTH_BUILD_DIR) / "test-certs";

std::string scheme(protocol::mail_protocol p, bool tls) {
  switch (p) {
    case protocol::mail_protocol::imap:
      return tls ? "imaps" : "imap";
    case protocol::mail_protocol::pop3:
      return tls ? "pop3s" : "pop3";
    case protocol::mail_protocol::smtp:
      return tls ? "smtps" : "smtp";
  }
  return {};
}

enum class mode { plaintext, implicit_tls, starttls };

void replay(const transcript& t, mode m) {
  script_server server({(cert_dir / "server.pem").string(), (cert_dir / "server.key").string()});
  server.start(t.steps_for("127.0.0.1", server.port()), m == mode::implicit_tls);

  const auto token_file = fs::path(::testing::TempDir()) / ("token-" + t.name);
  {
    std::ofstream f(token_file, std::ios::binary | std::ios::trunc);
    f << t.token << "\n";
  }
  ::chmod(token_file.c_str(), 0600);

  const bool hangs = std::any_of(t.steps.begin(), t.steps.end(), [](const auto& s) {
    return s.type == transcript_step::kind::hang;
  });
  std::vector<std::string> argv = {
      MAILOAUTH_BINARY,
      "check",
      scheme(t.protocol, m == mode::implicit_tls) + "://127.0.0.1:" + std::to_string(server.port()),
      "--user",
      t.user,
      "--token-file",
      token_file.string(),
      "--cafile",
      (cert_dir / "ca.pem").string(),
      "--timeout",
      hangs ? "1" : "5",
      "--initial-response",
      t.initial_response,
  };
  if (m == mode::plaintext) argv.emplace_back("--insecure-plaintext");
  if (t.mech) {
    argv.emplace_back("--mech");
    argv.push_back(*t.mech);
  }
  const auto run = run_process(argv, std::chrono::seconds(20));
  const auto problem = server.finish();
  fs::remove(token_file);

  const auto context = "stdout:\n" + run.out + "\nstderr:\n" + run.err;
  EXPECT_FALSE(run.timed_out) << context;
  EXPECT_EQ(run.exit_code, t.exit_code) << context;
  EXPECT_EQ(problem, "") << context;
  for (const auto& e : t.expect)
    EXPECT_NE(run.out.find(e), std::string::npos) << e << "\n" << context;
  // The transcript the CLI prints never holds the token.
  EXPECT_EQ(run.out.find(t.token), std::string::npos) << "token leaked:\n" << context;
  EXPECT_EQ(run.err.find(t.token), std::string::npos) << "token leaked:\n" << context;
}

// Each transcript runs only in the modes it is written for: those are the cases registered, so
// that nothing is skipped.
std::vector<fs::path> transcripts_where(bool (*fits)(const std::string& security)) {
  std::vector<fs::path> out;
  for (const auto& f : transcript_files())
    if (fits(load_transcript(f).security)) out.push_back(f);
  return out;
}

class transcript_over_tcp : public ::testing::TestWithParam<fs::path> {};

TEST_P(transcript_over_tcp, replays) {
  const auto t = load_transcript(GetParam());
  replay(t, t.security == "starttls" ? mode::starttls : mode::plaintext);
}

INSTANTIATE_TEST_SUITE_P(all, transcript_over_tcp,
                         ::testing::ValuesIn(transcripts_where([](const std::string& s) {
                           return s != "implicit";
                         })),
                         transcript_test_name);

class transcript_over_tls : public ::testing::TestWithParam<fs::path> {};

TEST_P(transcript_over_tls, replays) {
  replay(load_transcript(GetParam()), mode::implicit_tls);
}

INSTANTIATE_TEST_SUITE_P(all, transcript_over_tls,
                         ::testing::ValuesIn(transcripts_where([](const std::string& s) {
                           return s == "any" || s == "implicit";
                         })),
                         transcript_test_name);

}  // namespace
}  // namespace mailoauth::test
