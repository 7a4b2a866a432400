// Replays every server transcript (data/server/) against the sans-I/O server sessions: each
// server line must come out byte for byte, the session must end as the transcript says, and no
// credential may appear in what it records. Whole client writes, then one byte at a time.
#include "replay.hpp"

#include <gtest/gtest.h>

namespace mailoauth::test {
namespace {

void replay(const server_transcript& t, bool byte_by_byte) {
  protocol::server_outcome out;
  const auto r = replay_server(t, byte_by_byte, std::nullopt, out);
  ASSERT_TRUE(r.finished);
  for (const auto& s : t.secrets())
    for (const auto& line : r.lines)
      EXPECT_EQ(line.find(s), std::string::npos) << "a credential in the transcript: " << line;
  if (t.end == "authenticated") {
    EXPECT_TRUE(out.authenticated) << out.why;
    EXPECT_EQ(out.identity, t.identity);
    EXPECT_FALSE(out.error) << out.why;
  } else {
    EXPECT_FALSE(out.authenticated);
  }
  if (t.end == "logged-out") {
    EXPECT_TRUE(out.logged_out);
    EXPECT_FALSE(out.error) << out.why;
  }
  if (t.end == "closed") {
    EXPECT_EQ(out.error, make_error_code(errc::connection_closed)) << out.why;
  }
  if (t.end == "line-too-long") {
    EXPECT_EQ(out.error, make_error_code(errc::line_too_long));
  }
}

std::string name_of(const ::testing::TestParamInfo<std::filesystem::path>& file) {
  return transcript_test_name(file);
}

class server_transcript_test : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(server_transcript_test, whole_writes) {
  replay(load_server_transcript(GetParam()), false);
}
TEST_P(server_transcript_test, byte_by_byte) {
  const auto t = load_server_transcript(GetParam());
  protocol::server_outcome out;
  const auto r = replay_server(t, true, std::nullopt, out);
  if (r.plaintext_behind_tls) {
    // Plaintext pipelined behind STARTTLS reached the session after its go-ahead, where a real
    // handshake fails on it: nothing is authenticated. The whole-writes replay shows the
    // session dropping such bytes itself.
    EXPECT_FALSE(out.authenticated);
    EXPECT_TRUE(out.error);
    return;
  }
  replay(t, true);
}

INSTANTIATE_TEST_SUITE_P(all, server_transcript_test,
                         ::testing::ValuesIn(server_transcript_files()), name_of);

}  // namespace
}  // namespace mailoauth::test
