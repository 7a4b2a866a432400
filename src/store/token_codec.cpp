#include "store/token_codec.hpp"

#include "store/store_failure.hpp"
#include "store/wiping_resource.hpp"

#include <mailoauth/sasl.hpp>

#include <openssl/crypto.h>
#include <boost/json/object.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <limits>

namespace mailoauth::store::detail {
namespace json = boost::json;
namespace {

constexpr std::string_view aes_256_gcm = "aes-256-gcm";

// Every string of the token set, for sizing the output buffer once.
std::size_t string_bytes(const token_set& t) noexcept {
  return t.access_token.size() + t.refresh_token.size() + t.id_token.size() + t.token_type.size() +
         t.scope.size() + t.token_endpoint.size() + t.client_id.size() + t.username.size() +
         t.last_failure.message.size();
}

// Serialises into a buffer that is wiped whenever it grows; `expected` sizes it so that it
// normally never does.
std::string serialize_wiping(const json::object& doc, std::size_t expected) {
  std::string out;
  out.reserve(expected);
  json::serializer sr;
  sr.reset(&doc);
  std::array<char, 4096> chunk{};
  while (!sr.done()) append_wiping(out, sr.read(chunk.data(), chunk.size()));
  OPENSSL_cleanse(chunk.data(), chunk.size());
  append_wiping(out, "\n");
  return out;
}

// Reads fields of a parsed document, remembering the first problem in words that never quote a
// value (a value may be a credential).
class field_reader {
 public:
  explicit field_reader(const json::object& doc) : doc_(doc) {}

  std::string text(const char* name) {
    const json::value* v = doc_.if_contains(name);
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_string()) {
      note(std::string("has a field \"") + name + "\" that is not a string");
      return {};
    }
    const json::string& s = v->get_string();
    return std::string(s.data(), s.size());
  }

  std::int64_t integer(const char* name) {
    const json::value* v = doc_.if_contains(name);
    if (v == nullptr || v->is_null()) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() &&
        v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    note(std::string("has a field \"") + name + "\" that is not an integer");
    return 0;
  }

  [[nodiscard]] const std::string& problem() const noexcept { return problem_; }

 private:
  void note(std::string p) {
    if (problem_.empty()) problem_ = std::move(p);
  }
  const json::object& doc_;
  std::string problem_;
};

}  // namespace

std::string encode_tokens(const token_set& t) {
  // The value lives in wiping storage, so the credentials copied into it are wiped when it goes.
  json::object doc(wiping_storage());
  doc["version"] = format_version;
  doc["access_token"] = t.access_token.reveal();
  doc["refresh_token"] = t.refresh_token.reveal();
  doc["id_token"] = t.id_token.reveal();
  doc["token_type"] = t.token_type;
  doc["scope"] = t.scope;
  doc["expires_at"] = t.expires_at;
  doc["refresh_at"] = t.refresh_at;
  doc["obtained_at"] = t.obtained_at;
  doc["token_endpoint"] = t.token_endpoint;
  doc["client_id"] = t.client_id;
  doc["username"] = t.username;
  if (t.last_failure.at_ms != 0) {
    json::object f(wiping_storage());
    f["at_ms"] = t.last_failure.at_ms;
    f["not_before_ms"] = t.last_failure.not_before_ms;
    f["code"] = t.last_failure.code;
    f["message"] = t.last_failure.message;
    doc["last_failure"] = std::move(f);
  }
  // JSON escaping at worst turns one byte into six (\u00XX); 512 covers names and numbers.
  return serialize_wiping(doc, 512 + 6 * string_bytes(t));
}

std::string encode_sealed(const sealed_box& box) {
  json::object doc;
  doc["version"] = format_version;
  doc["encryption"] = aes_256_gcm;
  doc["nonce"] = sasl::base64_encode(box.nonce);
  doc["ciphertext"] = sasl::base64_encode(box.ciphertext);
  doc["tag"] = sasl::base64_encode(box.tag);
  return serialize_wiping(doc, 256 + 2 * box.ciphertext.size());
}

result<std::variant<token_set, sealed_box>> decode_file(std::string_view text,
                                                        const decode_context& ctx) {
  // Both the parser's scratch space and the resulting value use wiping storage.
  json::parser parser(wiping_storage());
  parser.reset(wiping_storage());
  json::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (ec) {
    // The parser's message ("syntax error", "incomplete JSON") never quotes the input.
    return unusable_file(ctx.file, "is not valid JSON (" + ec.message() + ")", ctx.account);
  }
  const json::value doc_value = parser.release();
  if (!doc_value.is_object()) {
    return unusable_file(ctx.file, "is not a JSON object", ctx.account);
  }
  const json::object& doc = doc_value.get_object();

  const json::value* version = doc.if_contains("version");
  if (version == nullptr || !version->is_number()) {
    return unusable_file(ctx.file, "has no format version", ctx.account);
  }
  if (!version->is_int64() || version->get_int64() < 1) {
    return unusable_file(ctx.file, "has an invalid format version", ctx.account);
  }
  if (version->get_int64() > format_version) {
    return make_failure(errc::store_failed,
                        "token file " + ctx.file.string() +
                            " was written by a newer mailoauth (format version " +
                            std::to_string(version->get_int64()) + "; this one reads up to " +
                            std::to_string(format_version) + "): upgrade mailoauth, or " +
                            login_hint(ctx.account) + " to replace it");
  }

  if (const json::value* encryption = doc.if_contains("encryption")) {
    if (!encryption->is_string() || encryption->get_string() != aes_256_gcm) {
      return make_failure(errc::store_failed,
                          "token file " + ctx.file.string() +
                              " uses an encryption this mailoauth does not know: upgrade "
                              "mailoauth, or " +
                              login_hint(ctx.account) + " to replace it");
    }
    if (!doc.contains("nonce") || !doc.contains("ciphertext") || !doc.contains("tag")) {
      return unusable_file(ctx.file, "is corrupt (nonce, ciphertext or tag missing)", ctx.account);
    }
    field_reader fields(doc);
    auto nonce = sasl::base64_decode(fields.text("nonce"));
    auto ciphertext = sasl::base64_decode(fields.text("ciphertext"));
    auto tag = sasl::base64_decode(fields.text("tag"));
    if (!fields.problem().empty() || !nonce || !ciphertext || !tag ||
        nonce->size() != gcm_nonce_size || tag->size() != gcm_tag_size) {
      return unusable_file(ctx.file, "is corrupt (bad nonce, ciphertext or tag)", ctx.account);
    }
    return sealed_box{std::move(*nonce), std::move(*ciphertext), std::move(*tag)};
  }

  field_reader fields(doc);
  token_set t;
  {
    std::string s = fields.text("access_token");
    t.access_token = secret(std::move(s));
  }
  {
    std::string s = fields.text("refresh_token");
    t.refresh_token = secret(std::move(s));
  }
  {
    std::string s = fields.text("id_token");
    t.id_token = secret(std::move(s));
  }
  if (doc.contains("token_type")) t.token_type = fields.text("token_type");
  t.scope = fields.text("scope");
  t.expires_at = fields.integer("expires_at");
  t.refresh_at = fields.integer("refresh_at");
  t.obtained_at = fields.integer("obtained_at");
  t.token_endpoint = fields.text("token_endpoint");
  t.client_id = fields.text("client_id");
  t.username = fields.text("username");
  // Written since the refresh-failure record was added; files without it had no failure.
  if (const json::value* f = doc.if_contains("last_failure"); f != nullptr && !f->is_null()) {
    if (!f->is_object()) {
      return unusable_file(ctx.file, "is corrupt (its last_failure is not an object)", ctx.account);
    }
    field_reader failure_fields(f->get_object());
    t.last_failure.at_ms = failure_fields.integer("at_ms");
    t.last_failure.not_before_ms = failure_fields.integer("not_before_ms");
    t.last_failure.code = static_cast<int>(failure_fields.integer("code"));
    t.last_failure.message = failure_fields.text("message");
    if (!failure_fields.problem().empty()) {
      return unusable_file(
          ctx.file, "is corrupt (its last_failure " + failure_fields.problem() + ")", ctx.account);
    }
  }
  if (!fields.problem().empty()) {
    return unusable_file(ctx.file, "is corrupt (it " + fields.problem() + ")", ctx.account);
  }
  return t;
}

}  // namespace mailoauth::store::detail
