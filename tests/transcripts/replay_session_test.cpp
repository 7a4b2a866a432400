// Replays every transcript against the sans-I/O session directly: each client line must come
// out byte for byte, and the outcome must classify as the transcript's exit code. Each
// transcript runs twice: server bytes in whole writes, and one byte at a time, so that no
// parser depends on where the network splits the stream.
#include "transcript.hpp"

#include <mailoauth/error.hpp>
#include <mailoauth/protocol.hpp>

#include <gtest/gtest.h>

namespace mailoauth::test {
namespace {

using protocol::next_action;

protocol::transport_security machine_security(const transcript& t) {
  if (t.security == "starttls") return protocol::transport_security::starttls;
  if (t.security == "none") return protocol::transport_security::none;
  return protocol::transport_security::implicit_tls;
}

std::string describe(const transcript_step& s) {
  switch (s.type) {
    case transcript_step::kind::server:
      return "S: " + s.text;
    case transcript_step::kind::client:
      return "C: " + s.text;
    case transcript_step::kind::tls:
      return "TLS";
    case transcript_step::kind::close:
      return "CLOSE";
    case transcript_step::kind::hang:
      return "HANG";
  }
  return "?";
}

void replay(const transcript& t, bool byte_by_byte) {
  protocol::client_session session(t.options(machine_security(t)));
  const auto steps = t.steps_for("localhost", std::nullopt);
  std::size_t i = 0;
  auto action = session.start();
  bool hung = false;
  for (int guard = 0; guard < 100000 && action.type != next_action::kind::done; ++guard) {
    const auto where = i < steps.size() ? " at line " + std::to_string(steps[i].line_number) : "";
    switch (action.type) {
      case next_action::kind::read: {
        std::string chunk;
        while (i < steps.size() && steps[i].type == transcript_step::kind::server)
          chunk += steps[i++].text;
        if (chunk.empty()) {
          if (i < steps.size() && steps[i].type == transcript_step::kind::hang) {
            hung = true;
            break;
          }
          ASSERT_TRUE(i == steps.size() || steps[i].type == transcript_step::kind::close)
              << "the client waits for the server, but the transcript expects "
              << describe(steps[i]) << where;
          if (i < steps.size()) ++i;
          action = session.on_eof();
          break;
        }
        if (byte_by_byte) {
          for (std::size_t k = 0; k < chunk.size(); ++k) {
            action = session.on_data(std::string_view(chunk).substr(k, 1));
            if (action.type == next_action::kind::read) continue;
            if (action.type == next_action::kind::start_tls && k + 1 < chunk.size()) {
              // Bytes behind a STARTTLS go-ahead that had not arrived when the session
              // started TLS: the handshake reads them as garbage and fails, a security abort.
              ASSERT_EQ(t.exit_code, static_cast<int>(failure_kind::security)) << where;
              return;
            }
            ASSERT_TRUE(action.type == next_action::kind::done || k + 1 == chunk.size())
                << "the session wrote in the middle of a server write" << where;
            break;
          }
        } else {
          action = session.on_data(chunk);
        }
        break;
      }
      case next_action::kind::write:
        ASSERT_LT(i, steps.size())
            << "the client sent a line after the transcript ended: " << action.data;
        ASSERT_EQ(steps[i].type, transcript_step::kind::client)
            << "the client sent " << action.data << " but the transcript expects "
            << describe(steps[i]) << where;
        ASSERT_EQ(std::string(action.data), steps[i].text) << where;
        ++i;
        action = session.on_written();
        break;
      case next_action::kind::start_tls:
        ASSERT_LT(i, steps.size()) << "the client starts TLS after the transcript ended";
        ASSERT_EQ(steps[i].type, transcript_step::kind::tls)
            << "the client starts TLS but the transcript expects " << describe(steps[i]) << where;
        ++i;
        action = session.on_tls_established();
        break;
      case next_action::kind::done:
        break;
    }
    if (hung) break;
  }
  if (hung) {
    // The session must still be waiting; the driver's deadline ends it (see the CLI replay).
    EXPECT_EQ(action.type, next_action::kind::read);
    return;
  }
  ASSERT_EQ(action.type, next_action::kind::done) << "the session did not finish";
  while (i < steps.size() && steps[i].type == transcript_step::kind::close) ++i;
  EXPECT_EQ(i, steps.size()) << "the session ended before the transcript, at line "
                             << steps[i].line_number << ": " << describe(steps[i]);
  const auto& out = session.outcome();
  const auto kind = classify(out.error);
  EXPECT_EQ(static_cast<int>(kind), t.exit_code)
      << "outcome: " << out.error.message() << " / " << out.diag.client_message
      << " / server: " << out.diag.server_message;
  EXPECT_EQ(out.authenticated, t.exit_code == 0);
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
