// The OAUTHBEARER decoder (RFC 7628 section 3.1), as the proxy and the sandbox run it.
//
// Whatever it accepts must survive a round trip through the encoder; whatever it refuses must
// come with a reason. Inputs holding NULs are also read as "user NUL host NUL token" (the last
// two bytes before the first NUL choose a port) and encoded, to check that the encoder's output,
// saslname escaping included, decodes to what went in.
#include <mailoauth/sasl.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

#include <stdexcept>

using namespace mailoauth;

namespace {

bool same(const sasl::decoded_response& a, const sasl::decoded_response& b) {
  return a.mech == b.mech && a.user == b.user && a.token == b.token && a.host == b.host &&
         a.port == b.port;
}

void check_encoder(std::string_view in) {
  const auto first = in.find('\0');
  if (first == std::string_view::npos) return;
  const auto second = in.find('\0', first + 1);
  if (second == std::string_view::npos) return;
  const auto user = in.substr(0, first);
  const auto host = in.substr(first + 1, second - first - 1);
  const auto token = in.substr(second + 1);
  // ^A ends a key-value pair and cannot appear inside host or token; the token is never empty.
  // The user may hold anything: it sits in the GS2 header, where ',' and '=' are escaped.
  if (token.empty() || token.find('\x01') != std::string_view::npos ||
      host.find('\x01') != std::string_view::npos)
    return;
  const auto control = [](std::string_view v) {
    return v.find_first_of(std::string_view("\x01\r\n\0", 4)) != std::string_view::npos;
  };
  if (control(user) || control(token) || control(host)) {
    // The encoder refuses what would corrupt the response or the command line.
    bool refused = false;
    try {
      (void)sasl::oauthbearer_response(user, secret(std::string(token)), host);
    } catch (const std::invalid_argument&) {
      refused = true;
    }
    MAILOAUTH_FUZZ_CHECK(refused, "the encoder took a control character");
    return;
  }
  std::optional<std::uint16_t> port;
  if (first >= 2 && (static_cast<unsigned char>(in[0]) & 1))
    port = static_cast<std::uint16_t>(static_cast<unsigned char>(in[0]) << 8 |
                                      static_cast<unsigned char>(in[1]));
  const secret t{std::string(token)};
  std::string why;
  const auto r =
      sasl::decode_oauthbearer(sasl::oauthbearer_response(user, t, host, port).reveal(), &why);
  MAILOAUTH_FUZZ_CHECK(r.has_value(), "the encoder's output does not decode");
  MAILOAUTH_FUZZ_CHECK(r->user == user && r->token == t && r->host == host && r->port == port,
                       "encode then decode changed fields");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string why;
  if (const auto r = sasl::decode_oauthbearer(in, &why)) {
    MAILOAUTH_FUZZ_CHECK(!r->token.empty(), "accepted an empty token");
    const auto again = sasl::decode_oauthbearer(
        sasl::oauthbearer_response(r->user, r->token, r->host, r->port).reveal());
    MAILOAUTH_FUZZ_CHECK(again && same(*again, *r), "decoded fields do not survive a round trip");
  } else {
    MAILOAUTH_FUZZ_CHECK(!why.empty(), "refused without a reason");
  }

  if (const auto raw = sasl::base64_decode(in)) (void)sasl::decode_oauthbearer(*raw);

  check_encoder(in);
  return 0;
}
