// The decoder of the JSON error challenge, fed what a hostile server may send: the input as the
// challenge's base64 payload, and the input as the JSON itself (encoded first), so that the
// JSON parser and the member extraction get inputs the base64 layer would rarely let through.
#include <mailoauth/sasl.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

using namespace mailoauth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (const auto c = sasl::decode_error_challenge(in)) {
    MAILOAUTH_FUZZ_CHECK(sasl::base64_encode(c->json) == in, "json is not the decoded payload");
    MAILOAUTH_FUZZ_CHECK(!sasl::explain(*c).empty(), "empty explanation");
  }

  if (const auto c = sasl::decode_error_challenge(sasl::base64_encode(in))) {
    MAILOAUTH_FUZZ_CHECK(c->json == in, "json is not what the server sent");
    MAILOAUTH_FUZZ_CHECK(!sasl::explain(*c).empty(), "empty explanation");
  }
  return 0;
}
