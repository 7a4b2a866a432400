// The form and query decoding under both of mailoauth's HTTP servers (the loopback listener
// and the sandbox's identity platform), and the encoding and escaping the identity platform
// answers with, against their definitions:
//   - parse_form keeps no field without a name, and reports a repeated name as one it has
//     already kept;
//   - what parses, encoded again with encode_form, parses to the same fields;
//   - form_decode(url_encode(x)) == x for any bytes;
//   - html_escape leaves no character that could end a text or an attribute value.
#include "common/web_form.hpp"
#include "sandbox/identity/text.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace web = mailoauth::detail;
  namespace id = mailoauth::sandbox::detail;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  web::form_fields fields;
  const auto problem = web::parse_form(input, fields);
  if (!problem) {
    std::vector<std::pair<std::string, std::string>> pairs(fields.begin(), fields.end());
    web::form_fields again;
    const auto reparsed = web::parse_form(id::encode_form(pairs), again);
    MAILOAUTH_FUZZ_CHECK(!reparsed, "an encoded form does not parse");
    MAILOAUTH_FUZZ_CHECK(again == fields, "an encoded form parses to other fields");
    for (const auto& [name, value] : fields)
      MAILOAUTH_FUZZ_CHECK(!name.empty(), "a field without a name");
  } else if (problem->repeated) {
    MAILOAUTH_FUZZ_CHECK(!problem->name.empty(), "a repeated field without a name");
    MAILOAUTH_FUZZ_CHECK(fields.contains(problem->name), "the repeated name was not seen before");
  }

  // Any bytes survive the identity platform's encoding.
  const auto encoded = id::url_encode(input);
  MAILOAUTH_FUZZ_CHECK(encoded.find_first_of("&=+ #?") == std::string::npos,
                       "url_encode left a delimiter");
  const auto decoded = web::form_decode(encoded);
  MAILOAUTH_FUZZ_CHECK(decoded && *decoded == input, "form_decode(url_encode(x)) != x");

  const auto escaped = web::html_escape(input);
  MAILOAUTH_FUZZ_CHECK(escaped.find_first_of("<>\"'") == std::string::npos,
                       "html_escape left a character that ends text or an attribute");
  for (auto at = escaped.find('&'); at != std::string::npos; at = escaped.find('&', at + 1)) {
    const auto rest = std::string_view(escaped).substr(at);
    MAILOAUTH_FUZZ_CHECK(rest.starts_with("&amp;") || rest.starts_with("&lt;") ||
                             rest.starts_with("&gt;") || rest.starts_with("&quot;") ||
                             rest.starts_with("&#39;"),
                         "html_escape left a bare &");
  }
  return 0;
}
