// OAUTHBEARER, RFC 7628 section 3.1:
//   client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep
//   gs2-header  = gs2-cbind-flag "," [ authzid ] ","      (RFC 5801)
#include <mailoauth/sasl.hpp>

#include "sasl/kv.hpp"

#include <charconv>

namespace mailoauth::sasl {
namespace {

// saslname (RFC 5801 section 4): ',' and '=' are written "=2C" and "=3D".
void append_saslname(std::string& out, std::string_view name) {
  for (const char c : name) {
    if (c == ',')
      out.append("=2C");
    else if (c == '=')
      out.append("=3D");
    else
      out.push_back(c);
  }
}

std::optional<std::string> parse_saslname(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=') {
      out.push_back(text[i]);
      continue;
    }
    const auto esc = text.substr(i + 1, 2);
    if (esc == "2C")
      out.push_back(',');
    else if (esc == "3D")
      out.push_back('=');
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

}  // namespace

secret oauthbearer_response(std::string_view user, const secret& token, std::string_view host,
                            std::optional<std::uint16_t> port) {
  detail::require_valid_fields(user, token.reveal(), host);
  std::string out;
  out.reserve(user.size() + token.size() + host.size() + 40);
  out.append("n,");
  if (!user.empty()) {
    out.append("a=");
    append_saslname(out, user);
  }
  out.push_back(',');
  out.push_back(detail::kvsep);
  if (!host.empty()) out.append("host=").append(host).push_back(detail::kvsep);
  if (port) out.append("port=").append(std::to_string(*port)).push_back(detail::kvsep);
  out.append("auth=Bearer ").append(token.reveal()).push_back(detail::kvsep);
  out.push_back(detail::kvsep);
  return secret(std::move(out));
}

std::optional<decoded_response> decode_oauthbearer(std::string_view raw, std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<decoded_response> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (raw == "\x01") return fail("OAUTHBEARER response is the bare ^A that ends a failed exchange");

  // gs2-header: cbind flag, authzid, then kvsep.
  const auto first_comma = raw.find(',');
  if (first_comma == std::string_view::npos) return fail("OAUTHBEARER response has no GS2 header");
  const auto cbind = raw.substr(0, first_comma);
  if (cbind != "n" && cbind != "y" && !cbind.starts_with("p="))
    return fail("OAUTHBEARER GS2 header has an invalid channel-binding flag");
  if (cbind.starts_with("p="))
    return fail("OAUTHBEARER channel binding is not supported (RFC 7628 section 3.1)");
  raw.remove_prefix(first_comma + 1);
  const auto second_comma = raw.find(',');
  if (second_comma == std::string_view::npos)
    return fail("OAUTHBEARER GS2 header is not terminated");
  const auto authzid = raw.substr(0, second_comma);
  raw.remove_prefix(second_comma + 1);

  decoded_response out;
  out.mech = mechanism::oauthbearer;
  if (!authzid.empty()) {
    if (!authzid.starts_with("a=")) return fail("OAUTHBEARER authzid does not start with a=");
    auto name = parse_saslname(authzid.substr(2));
    if (!name) return fail("OAUTHBEARER authzid has an invalid =XX escape");
    out.user = std::move(*name);
  }

  if (raw.empty() || raw.front() != detail::kvsep)
    return fail("OAUTHBEARER GS2 header is not followed by ^A");
  raw.remove_prefix(1);
  if (raw.size() < 1 || raw.back() != detail::kvsep)
    return fail("OAUTHBEARER response does not end with ^A");

  bool have_auth = false;
  bool ended = false;
  while (!raw.empty()) {
    const auto end = raw.find(detail::kvsep);
    const auto item = raw.substr(0, end);
    raw.remove_prefix(end + 1);
    if (item.empty()) {  // the final kvsep
      ended = true;
      if (!raw.empty()) return fail("OAUTHBEARER response has data after its end");
      break;
    }
    const auto kv = detail::split_kv(item);
    if (!kv) return fail("OAUTHBEARER response holds an item that is not key=value");
    for (const char c : kv->key)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return fail("OAUTHBEARER key is not alphabetic");
    if (kv->key == "auth") {
      if (have_auth) return fail("OAUTHBEARER response holds two auth items");
      const auto token = detail::bearer_token(kv->value);
      if (!token) return fail("OAUTHBEARER auth item is not \"Bearer <token>\"");
      out.token = secret(std::string(*token));
      have_auth = true;
    } else if (kv->key == "host") {
      out.host.assign(kv->value);
    } else if (kv->key == "port") {
      std::uint16_t port = 0;
      const auto* b = kv->value.data();
      const auto* e = b + kv->value.size();
      const auto [p, ec] = std::from_chars(b, e, port);
      if (ec != std::errc{} || p != e || kv->value.empty())
        return fail("OAUTHBEARER port is not a number from 0 to 65535");
      out.port = port;
    }
  }
  if (!ended) return fail("OAUTHBEARER response does not end with ^A^A");
  if (!have_auth) return fail("OAUTHBEARER response has no auth=Bearer item");
  // As for XOAUTH2: what the encoder refuses, the decoder refuses too.
  if (detail::has_control(out.user) || detail::has_control(out.token.reveal()) ||
      detail::has_control(out.host))
    return fail("OAUTHBEARER response holds a control character (CR, LF or NUL) in a field");
  return out;
}

}  // namespace mailoauth::sasl
