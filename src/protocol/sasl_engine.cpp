#include "protocol/sasl_engine.hpp"

#include <array>

namespace mailoauth::protocol::detail {
namespace {

constexpr std::array<sasl_profile, 3> profiles{{
    {mail_protocol::imap, "+ ", 8192, true, true},
    {mail_protocol::pop3, "+ ", 255, false, false},
    {mail_protocol::smtp, "334 ", 512, false, true},
}};

// LOGIN's prompts (draft-murchison-sasl-login section 2): base64 of "Username:" and "Password:",
// the strings that Exchange, Postfix and Dovecot send and that clients ignore.
constexpr std::string_view login_user_prompt = "VXNlcm5hbWU6";
constexpr std::string_view login_password_prompt = "UGFzc3dvcmQ6";

}  // namespace

const sasl_profile& profile(mail_protocol p) noexcept {
  for (const auto& row : profiles)
    if (row.protocol == p) return row;
  return profiles[0];
}

std::string_view error_challenge_answer(sasl::mechanism m) noexcept {
  return m == sasl::mechanism::oauthbearer ? "AQ==" : "";
}

// Client side.

sasl_client::sasl_client(const sasl_profile& profile, sasl::mechanism mech, std::string_view user,
                         const secret& token, std::string_view host,
                         std::optional<std::uint16_t> port)
    : profile_(profile), mech_(mech) {
  auto raw = sasl::client_response(mech, user, token, host, port);
  encoded_ = secret(sasl::base64_encode(raw.reveal()));
}

bool sasl_client::use_initial_response(bool sasl_ir_offered, initial_response_policy policy,
                                       std::size_t command_length) const noexcept {
  if (policy == initial_response_policy::never) return false;
  if (profile_.initial_response_needs_capability && !sasl_ir_offered) return false;
  if (policy == initial_response_policy::automatic && !profile_.initial_response_by_default)
    return false;
  // A line longer than the protocol allows is refused by strict servers ("500 5.5.2 Line too
  // long"); the two-step form carries any length.
  return command_length <= profile_.command_line_limit;
}

sasl_client::step sasl_client::on_continuation(std::string_view payload, bool sent_response) {
  if (!sent_response) return {step::kind::send_response, {}};
  if (challenged_) return {step::kind::fail, {}};
  challenged_ = true;
  challenge_ = sasl::decode_error_challenge(payload);
  if (!challenge_) {
    cancelled_ = true;
    return {step::kind::cancel, "*"};
  }
  return {step::kind::answer, std::string(error_challenge_answer(mech_))};
}

// Server side.

sasl_server::sasl_server(const sasl_profile& profile, sasl::mechanism mech)
    : profile_(profile), mech_(mech) {
  credential_.mechanism = mech;
}

sasl_server::step sasl_server::make(step::kind k, std::string line, std::string why) {
  step s;
  s.k = k;
  s.line = std::move(line);
  s.why = std::move(why);
  return s;
}

bool sasl_server::harmless(std::string_view line) noexcept {
  return line.empty() || line == "*" || line == "AQ==";
}

sasl_server::step sasl_server::start(std::optional<std::string_view> initial_response) {
  state_ = state::response;
  if (initial_response) return on_line(*initial_response);
  return make(step::kind::challenge,
              std::string(mech_ == sasl::mechanism::login ? login_user_prompt : ""));
}

sasl_server::step sasl_server::on_line(std::string_view line) {
  // RFC 4422 section 3.5 (and RFC 4954, 5034, 3501): "*" cancels at any step.
  if (line == "*" && state_ != state::done && state_ != state::verifying) {
    state_ = state::done;
    return make(step::kind::cancelled);
  }
  switch (state_) {
    case state::response:
      return respond(line);
    case state::login_password: {
      auto raw = sasl::base64_decode(line);
      if (!raw) {
        state_ = state::done;
        return make(step::kind::malformed, {}, "the LOGIN password is not base64");
      }
      credential_.proof = secret(std::move(*raw));
      state_ = state::verifying;
      return make(step::kind::verify);
    }
    case state::challenged:
      // Whatever the client answers to an error challenge, the exchange has failed (RFC 7628
      // section 3.2.3); only "*" (above) changes the reply.
      state_ = state::done;
      return make(temporary_ ? step::kind::temporary : step::kind::failure);
    case state::start:
    case state::verifying:
    case state::done:
      break;
  }
  state_ = state::done;
  return make(step::kind::malformed, {}, "a line outside the exchange");
}

sasl_server::step sasl_server::respond(std::string_view base64) {
  // "=" is the empty response (RFC 4954 section 4, RFC 4959, RFC 5034 section 4).
  std::optional<std::string> raw =
      base64 == "=" ? std::optional<std::string>(std::string()) : sasl::base64_decode(base64);
  if (!raw) {
    state_ = state::done;
    return make(step::kind::malformed, {}, "the client response is not base64");
  }
  return decode(std::move(*raw));
}

sasl_server::step sasl_server::decode(std::string raw) {
  std::string why;
  const auto finish_malformed = [&](std::string reason) {
    wipe(raw);
    state_ = state::done;
    return make(step::kind::malformed, {}, std::move(reason));
  };
  switch (mech_) {
    case sasl::mechanism::xoauth2:
    case sasl::mechanism::oauthbearer: {
      auto d = sasl::decode_response(mech_, raw, &why);
      if (!d) return finish_malformed(why);
      credential_.user = std::move(d->user);
      credential_.proof = std::move(d->token);
      credential_.host = std::move(d->host);
      credential_.port = d->port;
      break;
    }
    case sasl::mechanism::plain: {
      auto d = sasl::decode_plain(raw, &why);
      if (!d) return finish_malformed(why);
      credential_.user = std::move(d->authcid);
      if (d->authzid != credential_.user) credential_.authzid = std::move(d->authzid);
      credential_.proof = std::move(d->password);
      break;
    }
    case sasl::mechanism::login:
      if (raw.empty()) return finish_malformed("the LOGIN user name is empty");
      credential_.user = std::move(raw);
      state_ = state::login_password;
      return make(step::kind::challenge, std::string(login_password_prompt));
  }
  wipe(raw);
  state_ = state::verifying;
  return make(step::kind::verify);
}

sasl_server::step sasl_server::on_verdict(const verdict& v) {
  credential_.proof.clear();
  switch (v.k) {
    case verdict::kind::accept:
      state_ = state::done;
      identity_ = v.identity;
      return make(step::kind::success);
    case verdict::kind::temporary:
    case verdict::kind::reject:
      temporary_ = v.k == verdict::kind::temporary;
      if (sasl::is_bearer(mech_) && !v.error_challenge.empty()) {
        state_ = state::challenged;
        return make(step::kind::challenge, sasl::base64_encode(v.error_challenge));
      }
      state_ = state::done;
      return make(temporary_ ? step::kind::temporary : step::kind::failure);
  }
  state_ = state::done;
  return make(step::kind::failure);
}

}  // namespace mailoauth::protocol::detail
