// The XOAUTH2 decoder, as the proxy and the sandbox run it on what clients send.
//
// Whatever it accepts must survive a round trip through the encoder; whatever it refuses must
// come with a reason. Inputs holding a NUL are also read as "user NUL token" and encoded, to
// check that the encoder's output always decodes to what went in.
#include <mailoauth/sasl.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

#include <stdexcept>

using namespace mailoauth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string why;
  if (const auto r = sasl::decode_xoauth2(in, &why)) {
    MAILOAUTH_FUZZ_CHECK(r->mech == sasl::mechanism::xoauth2, "wrong mechanism");
    MAILOAUTH_FUZZ_CHECK(!r->user.empty() && !r->token.empty(), "accepted empty fields");
    const auto again = sasl::decode_xoauth2(sasl::xoauth2_response(r->user, r->token).reveal());
    MAILOAUTH_FUZZ_CHECK(again && again->user == r->user && again->token == r->token,
                         "decoded fields do not survive a round trip");
  } else {
    MAILOAUTH_FUZZ_CHECK(!why.empty(), "refused without a reason");
  }

  // The base64 layer in front of it, as it arrives on the wire.
  if (const auto raw = sasl::base64_decode(in)) (void)sasl::decode_xoauth2(*raw);

  const auto nul = in.find('\0');
  if (nul != std::string_view::npos) {
    const auto user = in.substr(0, nul);
    const auto token = in.substr(nul + 1);
    // The format cannot carry ^A inside a field, nor an empty user or token.
    const bool control =
        user.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos ||
        token.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
    if (control && user.find('\x01') == std::string_view::npos &&
        token.find('\x01') == std::string_view::npos) {
      // The encoder refuses what would corrupt the response or the command line.
      bool refused = false;
      try {
        (void)sasl::xoauth2_response(user, secret(std::string(token)));
      } catch (const std::invalid_argument&) {
        refused = true;
      }
      MAILOAUTH_FUZZ_CHECK(refused, "the encoder took a control character");
    } else if (!user.empty() && !token.empty() && user.find('\x01') == std::string_view::npos &&
               token.find('\x01') == std::string_view::npos) {
      const secret t{std::string(token)};
      const auto r = sasl::decode_xoauth2(sasl::xoauth2_response(user, t).reveal(), &why);
      MAILOAUTH_FUZZ_CHECK(r.has_value(), "the encoder's output does not decode");
      MAILOAUTH_FUZZ_CHECK(r->user == user && r->token == t, "encode then decode changed fields");
    }
  }
  return 0;
}
