// Replays every transcript against the sans-I/O session directly: each client line must come
// out byte for byte, and the outcome must classify as the transcript's exit code. Each
// transcript runs twice: server bytes in whole writes, and one byte at a time, so that no
// parser depends on where the network splits the stream.
#include "replay.hpp"

#include <mailoauth/error.hpp>

#include <gtest/gtest.h>

namespace mailoauth::test {
namespace {

void replay(const transcript& t, bool byte_by_byte) {
  for (const auto security : securities(t)) {
    SCOPED_TRACE(security == protocol::transport_security::implicit_tls ? "implicit TLS"
                 : security == protocol::transport_security::starttls   ? "STARTTLS"
                                                                        : "plaintext");
    protocol::session_outcome out;
    const auto r = replay_client(t, security, byte_by_byte, std::nullopt, out);
    // A HANG leaves the session waiting: the driver's deadline ends it (the CLI replay and the
    // fault suite's timeouts test that).
    const bool hangs = std::any_of(t.steps.begin(), t.steps.end(), [](const transcript_step& s) {
      return s.type == transcript_step::kind::hang;
    });
    if (hangs) {
      EXPECT_FALSE(r.finished);
      continue;
    }
    ASSERT_TRUE(r.finished);
    if (r.plaintext_behind_tls) {
      // Byte by byte, the injected bytes came after the go-ahead: a security abort either way.
      EXPECT_EQ(classify(out.error), failure_kind::security) << out.diag.client_message;
      EXPECT_EQ(t.exit_code, static_cast<int>(failure_kind::security));
      continue;
    }
    EXPECT_EQ(static_cast<int>(classify(out.error)), t.exit_code)
        << "outcome: " << out.error.message() << " / " << out.diag.client_message
        << " / server: " << out.diag.server_message;
    EXPECT_EQ(out.authenticated(), t.exit_code == 0);
  }
}

class transcript_session : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(transcript_session, whole_writes) {
  replay(load_transcript(GetParam()), false);
}
TEST_P(transcript_session, byte_by_byte) {
  replay(load_transcript(GetParam()), true);
}

INSTANTIATE_TEST_SUITE_P(all, transcript_session, ::testing::ValuesIn(transcript_files()),
                         transcript_test_name);

}  // namespace
}  // namespace mailoauth::test
