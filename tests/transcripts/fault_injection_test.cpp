// Replays every transcript, client side and server side, once per I/O step with that step
// failing (an error, and a deadline), and checks what users depend on: the session ends with
// the documented error code for that kind of step (docs/errors.md), a diagnostic that names
// what failed and when, and no credential in any output. Boost.MySQL's check_network_errors and
// Beast's fail_count do the same for their algorithms.
#include "replay.hpp"

#include <mailoauth/error.hpp>
#include <mailoauth/sasl.hpp>

#include <gtest/gtest.h>

#include <iostream>

namespace mailoauth::test {
namespace {

// Each test prints how many cases it ran, for docs/performance.md's and the counts:
// `transcript_tests --gtest_filter='*faults*' | grep faults` sums them.
void report(std::size_t cases) {
  std::cout << "[ faults   ] " << cases << " (step, fault) cases\n";
}

bool contains(const std::vector<std::string>& lines, std::string_view what) {
  if (what.empty()) return false;
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(what) != std::string::npos; });
}

class client_faults : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(client_faults, every_step_fails_once) {
  const auto t = load_transcript(GetParam());
  std::size_t cases = 0;
  for (const auto security : securities(t)) {
    protocol::session_outcome clean;
    const auto baseline = replay_client(t, security, false, std::nullopt, clean);
    for (std::size_t step = 0; step < baseline.steps; ++step) {
      for (const auto k : {fault::kind::error, fault::kind::timeout}) {
        SCOPED_TRACE(
            "step " + std::to_string(step) +
            (k == fault::kind::timeout ? " (deadline)" : " (error)") +
            (security == protocol::transport_security::implicit_tls ? ", implicit TLS" : ""));
        protocol::session_outcome out;
        const auto r = replay_client(t, security, false, fault{step, k}, out);
        ++cases;
        ASSERT_TRUE(r.finished);
        ASSERT_TRUE(r.failed.has_value());
        const auto& why = out.diag.client_message;
        if (r.during_logout) {
          // The verdict was known before the goodbye; a failed goodbye does not change it.
          EXPECT_EQ(out.error, clean.error) << why;
          EXPECT_EQ(out.authenticated(), clean.authenticated());
        } else if (k == fault::kind::timeout) {
          EXPECT_EQ(out.error, make_error_code(errc::timeout)) << why;
          EXPECT_NE(why.find("no answer from localhost within 30 s while "), std::string::npos)
              << why;
          EXPECT_EQ(classify(out.error), failure_kind::connection);
        } else if (*r.failed == io_step::tls) {
          EXPECT_EQ(out.error, make_error_code(errc::tls_handshake_failed)) << why;
          EXPECT_NE(why.find("the TLS handshake failed while starting TLS: injected TLS alert"),
                    std::string::npos)
              << why;
          EXPECT_EQ(classify(out.error), failure_kind::security);
        } else {
          EXPECT_EQ(out.error, make_error_code(errc::connection_closed)) << why;
          const auto expected = *r.failed == io_step::write
                                    ? "writing to the server failed while "
                                    : "reading from the server failed while ";
          EXPECT_NE(why.find(expected), std::string::npos) << why;
          EXPECT_EQ(classify(out.error), failure_kind::connection);
        }
        if (!r.during_logout) {
          EXPECT_FALSE(out.authenticated());
        }
        EXPECT_FALSE(contains(r.lines, t.token)) << "the token in the output";
        const auto response =
            sasl::base64_encode(sasl::xoauth2_response(t.user, secret(t.token)).reveal());
        EXPECT_FALSE(contains(r.lines, response)) << "the client response in the output";
      }
    }
  }
  report(cases);
}

INSTANTIATE_TEST_SUITE_P(all, client_faults, ::testing::ValuesIn(transcript_files()),
                         transcript_test_name);

class server_faults : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(server_faults, every_step_fails_once) {
  const auto t = load_server_transcript(GetParam());
  protocol::server_outcome clean;
  const auto baseline = replay_server(t, false, std::nullopt, clean);
  std::size_t cases = 0;
  for (std::size_t step = 0; step < baseline.steps; ++step) {
    for (const auto k : {fault::kind::error, fault::kind::timeout}) {
      SCOPED_TRACE("step " + std::to_string(step) +
                   (k == fault::kind::timeout ? " (deadline)" : " (error)"));
      protocol::server_outcome out;
      const auto r = replay_server(t, false, fault{step, k}, out);
      ++cases;
      ASSERT_TRUE(r.finished);
      ASSERT_TRUE(r.failed.has_value());
      // A session that had decided to end (a line too long) and fails to write its last words
      // keeps its reason; any other failed step ends it and says which step it was.
      const bool decided = clean.error && clean.error != make_error_code(errc::connection_closed) &&
                           step + 1 == baseline.steps && *r.failed == io_step::write;
      if (decided) {
        EXPECT_EQ(out.error, clean.error) << out.why;
        EXPECT_EQ(out.why, clean.why);
      } else {
        EXPECT_EQ(out.error, make_error_code(k == fault::kind::timeout ? errc::timeout
                                                                       : errc::connection_closed))
            << out.why;
        const auto expected = *r.failed == io_step::tls     ? "the TLS handshake failed"
                              : *r.failed == io_step::write ? "writing to the client during "
                                                            : "reading from the client during ";
        EXPECT_NE(out.why.find(expected), std::string::npos) << out.why;
      }
      // Nothing counts as a login unless its reply went out.
      EXPECT_EQ(out.authenticated, r.authenticated_reported);
      for (const auto& s : t.secrets())
        EXPECT_FALSE(contains(r.lines, s)) << "a credential in the output";
    }
  }
  report(cases);
}

INSTANTIATE_TEST_SUITE_P(all, server_faults, ::testing::ValuesIn(server_transcript_files()),
                         transcript_test_name);

}  // namespace
}  // namespace mailoauth::test
