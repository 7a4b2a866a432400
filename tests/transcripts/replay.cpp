#include "replay.hpp"

#include <gtest/gtest.h>

#include <system_error>
#include <utility>

namespace mailoauth::test {
namespace {

using protocol::next_action;
using protocol::server_action;

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

std::string describe(const server_step& s) {
  switch (s.type) {
    case server_step::kind::server:
      return "S: " + s.text;
    case server_step::kind::client:
      return "C: " + s.text;
    case server_step::kind::tls:
      return "TLS";
    case server_step::kind::close:
      return "CLOSE";
    case server_step::kind::pending:
      return "PENDING: " + s.text;
    case server_step::kind::command:
      return "COMMAND: " + s.text;
  }
  return "?";
}

// The error a driver reports for a failed step of this kind.
std::error_code injected(io_step s, fault::kind k) {
  if (k == fault::kind::timeout) return make_error_code(std::errc::timed_out);
  switch (s) {
    case io_step::read:
      return make_error_code(std::errc::connection_reset);
    case io_step::write:
      return make_error_code(std::errc::broken_pipe);
    case io_step::tls:
      return make_error_code(errc::tls_handshake_failed);
  }
  return {};
}

// What a driver says about it: the limit of a deadline, the alert of a TLS failure.
std::string detail_of(io_step s, fault::kind k) {
  if (k == fault::kind::timeout) return "within 30 s";
  return s == io_step::tls ? "injected TLS alert" : "";
}

}  // namespace

std::vector<protocol::transport_security> securities(const transcript& t) {
  using ts = protocol::transport_security;
  if (t.security == "starttls") return {ts::starttls};
  if (t.security == "none") return {ts::none};
  if (t.security == "implicit") return {ts::implicit_tls};
  return {ts::none, ts::implicit_tls};
}

replay_result replay_client(const transcript& t, protocol::transport_security security,
                            bool byte_by_byte, std::optional<fault> f,
                            protocol::session_outcome& outcome) {
  using event = protocol::client_session::event;
  replay_result r;
  auto o = t.options(security);
  protocol::client_session session(std::move(o));
  session.on_transcript([&](const protocol::transcript_line& l) { r.lines.push_back(l.text); });
  const auto steps = t.steps_for("localhost", std::nullopt);
  std::size_t i = 0;
  bool in_logout = false;
  // Whether this I/O step is the one to fail; counts the step either way.
  const auto fails_now = [&](io_step s) {
    const bool now = f && r.steps == f->step;
    ++r.steps;
    if (now) {
      r.failed = s;
      r.during_logout = in_logout;
    }
    return now;
  };
  auto action = session.start();
  if (security == protocol::transport_security::implicit_tls) {
    EXPECT_EQ(action.type, next_action::kind::start_tls) << "implicit TLS starts with TLS";
    if (action.type != next_action::kind::start_tls) return r;
    action = fails_now(io_step::tls) ? session.resume(event::tls, injected(io_step::tls, f->k),
                                                      detail_of(io_step::tls, f->k))
                                     : session.resume(event::tls);
  }
  for (int guard = 0; guard < 1000000 && action.type != next_action::kind::done; ++guard) {
    const auto where = i < steps.size() ? " at line " + std::to_string(steps[i].line_number) : "";
    switch (action.type) {
      case next_action::kind::read: {
        if (fails_now(io_step::read)) {
          action = session.resume(event::data, injected(io_step::read, f->k),
                                  detail_of(io_step::read, f->k));
          break;
        }
        std::string chunk;
        while (i < steps.size() && steps[i].type == transcript_step::kind::server)
          chunk += steps[i++].text;
        if (chunk.empty()) {
          if (i < steps.size() && steps[i].type == transcript_step::kind::hang) {
            // The session must still be waiting; the driver's deadline ends it (see the CLI
            // replay, and the timeouts of the fault suite).
            outcome = session.outcome();
            return r;
          }
          EXPECT_TRUE(i == steps.size() || steps[i].type == transcript_step::kind::close)
              << "the client waits for the server, but the transcript expects "
              << describe(steps[i]) << where;
          if (i < steps.size() && steps[i].type != transcript_step::kind::close) return r;
          if (i < steps.size()) ++i;
          action = session.resume(event::eof);
          break;
        }
        if (!byte_by_byte) {
          action = session.resume(event::data, {}, chunk);
          break;
        }
        for (std::size_t k = 0; k < chunk.size(); ++k) {
          action = session.resume(event::data, {}, std::string_view(chunk).substr(k, 1));
          if (action.type == next_action::kind::read) continue;
          if (action.type == next_action::kind::start_tls && k + 1 < chunk.size()) {
            // Bytes behind a STARTTLS go-ahead that had not arrived when the session started
            // TLS: the handshake reads them as garbage and fails, a security abort.
            action = session.resume(event::tls, make_error_code(errc::tls_handshake_failed),
                                    "the server's plaintext where TLS should begin");
            r.plaintext_behind_tls = true;
            break;
          }
          EXPECT_TRUE(action.type == next_action::kind::done || k + 1 == chunk.size())
              << "the session wrote in the middle of a server write" << where;
          break;
        }
        break;
      }
      case next_action::kind::write: {
        const std::string data(action.data);
        if (data.find("LOGOUT") != std::string::npos || data == "QUIT\r\n") in_logout = true;
        if (fails_now(io_step::write)) {
          action = session.resume(event::written, injected(io_step::write, f->k),
                                  detail_of(io_step::write, f->k));
          break;
        }
        EXPECT_LT(i, steps.size()) << "the client sent a line after the transcript ended: " << data;
        if (i >= steps.size()) return r;
        EXPECT_EQ(steps[i].type, transcript_step::kind::client)
            << "the client sent " << data << " but the transcript expects " << describe(steps[i])
            << where;
        EXPECT_EQ(data, steps[i].text) << where;
        if (steps[i].type != transcript_step::kind::client || data != steps[i].text) return r;
        ++i;
        action = session.resume(event::written);
        break;
      }
      case next_action::kind::start_tls:
        if (fails_now(io_step::tls)) {
          action = session.resume(event::tls, injected(io_step::tls, f->k),
                                  detail_of(io_step::tls, f->k));
          break;
        }
        EXPECT_LT(i, steps.size()) << "the client starts TLS after the transcript ended";
        if (i >= steps.size()) return r;
        EXPECT_EQ(steps[i].type, transcript_step::kind::tls)
            << "the client starts TLS but the transcript expects " << describe(steps[i]) << where;
        if (steps[i].type != transcript_step::kind::tls) return r;
        ++i;
        action = session.resume(event::tls);
        break;
      case next_action::kind::done:
        break;
    }
  }
  EXPECT_EQ(action.type, next_action::kind::done) << "the session did not finish";
  outcome = session.outcome();
  r.finished = action.type == next_action::kind::done;
  r.lines.push_back(outcome.diag.client_message);
  r.lines.push_back(outcome.diag.server_message);
  // A failed step ends the session before the transcript does.
  if (f || r.plaintext_behind_tls) return r;
  while (i < steps.size() && steps[i].type == transcript_step::kind::close) ++i;
  EXPECT_EQ(i, steps.size()) << "the session ended before the transcript, at line "
                             << steps[i].line_number << ": " << describe(steps[i]);
  return r;
}

replay_result replay_server(const server_transcript& t, bool byte_by_byte, std::optional<fault> f,
                            protocol::server_outcome& outcome) {
  using event = protocol::server_session::event;
  replay_result r;
  protocol::server_session session(t.options);
  session.on_transcript([&](const protocol::transcript_line& l) { r.lines.push_back(l.text); });
  const auto& steps = t.steps;
  std::size_t i = 0;
  std::string carry;  // byte by byte: client bytes not yet fed when the session turned to write
  const auto fails_now = [&](io_step s) {
    const bool now = f && r.steps == f->step;
    ++r.steps;
    if (now) r.failed = s;
    return now;
  };
  auto action = session.start();
  for (int guard = 0; guard < 1000000 && action.type != server_action::kind::close; ++guard) {
    const auto where = i < steps.size() ? " at line " + std::to_string(steps[i].line_number)
                                        : std::string(" at the end");
    switch (action.type) {
      case server_action::kind::write: {
        const std::string data(action.data);
        if (fails_now(io_step::write)) {
          action = session.resume(event::written, injected(io_step::write, f->k));
          break;
        }
        // One write may carry several lines (a CAPA list): each must be the transcript's next.
        for (std::size_t pos = 0; pos < data.size();) {
          auto end = data.find("\r\n", pos);
          end = end == std::string::npos ? data.size() : end + 2;
          const auto line = data.substr(pos, end - pos);
          pos = end;
          EXPECT_LT(i, steps.size()) << "the server sent " << line << " after the transcript";
          if (i >= steps.size()) return r;
          EXPECT_EQ(steps[i].type, server_step::kind::server)
              << "the server sent " << line << " but the transcript expects " << describe(steps[i])
              << " at line " << steps[i].line_number;
          EXPECT_EQ(line, steps[i].text) << " at line " << steps[i].line_number;
          if (steps[i].type != server_step::kind::server || line != steps[i].text) return r;
          ++i;
        }
        action = session.resume(event::written);
        break;
      }
      case server_action::kind::read: {
        if (fails_now(io_step::read)) {
          action = session.resume(event::data, injected(io_step::read, f->k));
          break;
        }
        std::string chunk = std::exchange(carry, {});
        if (chunk.empty())
          while (i < steps.size() && steps[i].type == server_step::kind::client)
            chunk += steps[i++].text;
        if (chunk.empty()) {
          EXPECT_TRUE(i < steps.size() && steps[i].type == server_step::kind::close)
              << "the server waits for the client, but the transcript expects "
              << (i < steps.size() ? describe(steps[i]) : std::string("nothing more")) << where;
          if (i >= steps.size() || steps[i].type != server_step::kind::close) return r;
          ++i;
          action = session.resume(event::eof);
          break;
        }
        if (!byte_by_byte) {
          action = session.resume(event::data, {}, chunk);
          break;
        }
        for (std::size_t k = 0; k < chunk.size(); ++k) {
          action = session.resume(event::data, {}, std::string_view(chunk).substr(k, 1));
          if (action.type != server_action::kind::read) {
            // The rest arrives after what the session does now, at its next read.
            carry = chunk.substr(k + 1);
            break;
          }
        }
        break;
      }
      case server_action::kind::start_tls:
        if (fails_now(io_step::tls)) {
          action = session.resume(event::tls, injected(io_step::tls, f->k));
          break;
        }
        if (!carry.empty()) {
          // Plaintext the client sent behind STARTTLS that the session has not seen yet: the
          // real handshake would read it as garbage and fail, which is all that is left to see.
          action = session.resume(event::tls, make_error_code(errc::tls_handshake_failed));
          r.plaintext_behind_tls = true;
          break;
        }
        EXPECT_TRUE(i < steps.size() && steps[i].type == server_step::kind::tls)
            << "the server starts TLS but the transcript expects "
            << (i < steps.size() ? describe(steps[i]) : std::string("nothing more")) << where;
        if (i >= steps.size() || steps[i].type != server_step::kind::tls) return r;
        ++i;
        action = session.resume(event::tls);
        break;
      case server_action::kind::verify:
        action = session.on_verdict(t.decide(session.pending_credential()));
        break;
      case server_action::kind::authenticated:
        r.authenticated_reported = true;
        if (i < steps.size() && steps[i].type == server_step::kind::pending) {
          // What the session buffered, then what a byte-by-byte replay has not fed it yet.
          EXPECT_EQ(session.take_pending() + std::exchange(carry, {}), steps[i].text) << where;
          ++i;
        }
        if (i == steps.size()) {
          outcome = session.outcome();
          r.finished = true;
          return r;
        }
        action = session.resume(event::proceed);
        break;
      case server_action::kind::command:
      case server_action::kind::message:
        EXPECT_TRUE(i < steps.size() && steps[i].type == server_step::kind::command)
            << "the session framed " << action.data << " but the transcript expects "
            << (i < steps.size() ? describe(steps[i]) : std::string("nothing more")) << where;
        if (i >= steps.size() || steps[i].type != server_step::kind::command) return r;
        EXPECT_EQ(std::string(action.data), steps[i].text) << where;
        ++i;
        if (i == steps.size()) {
          outcome = session.outcome();
          r.finished = true;
          return r;
        }
        action = session.resume(event::proceed);
        break;
      case server_action::kind::close:
        break;
    }
  }
  outcome = session.outcome();
  r.finished = action.type == server_action::kind::close;
  EXPECT_TRUE(r.finished) << "the session did not finish";
  r.lines.push_back(outcome.why);
  if (f || r.plaintext_behind_tls) return r;
  while (i < steps.size() && steps[i].type == server_step::kind::close) ++i;
  EXPECT_EQ(i, steps.size()) << "the session ended before the transcript, at line "
                             << (i < steps.size() ? steps[i].line_number : 0);
  return r;
}

}  // namespace mailoauth::test
