// Base64: the strict decoder accepts only what the encoder produces (encode(decode(x)) == x),
// and everything encoded decodes back (decode(encode(x)) == x) on one line of the right length.
#include <mailoauth/sasl.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

using namespace mailoauth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (const auto decoded = sasl::base64_decode(in)) {
    MAILOAUTH_FUZZ_CHECK(sasl::base64_encode(*decoded) == in,
                         "decode accepted a non-canonical text");
    MAILOAUTH_FUZZ_CHECK(decoded->size() <= in.size() / 4 * 3, "decoded more bytes than possible");
  }

  const auto encoded = sasl::base64_encode(in);
  MAILOAUTH_FUZZ_CHECK(encoded.size() == 4 * ((size + 2) / 3), "wrong encoded length");
  MAILOAUTH_FUZZ_CHECK(encoded.find_first_of("\r\n") == std::string::npos, "folded output");
  const auto back = sasl::base64_decode(encoded);
  MAILOAUTH_FUZZ_CHECK(back && *back == in, "encode then decode changed the bytes");
  return 0;
}
