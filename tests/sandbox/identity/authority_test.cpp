// The identity platform's request handling without the network: requests straight into
// detail::authority::handle, as the HTTPS server hands them over. What the end-to-end tests
// cannot see from outside: the one user-code normaliser (RFC 8628 section 6.1) behind both the
// device-login page and the API, and ID tokens signed by the core's signer.
#include "identity_fixture.hpp"

#include "oauth/base64url.hpp"
#include "sandbox/core/jwt.hpp"
#include "sandbox/core/pki.hpp"
#include "sandbox/identity/authority.hpp"
#include "sandbox/identity/grants.hpp"
#include "sandbox/identity/text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <random>

namespace mailoauth::identity_test {
namespace {

namespace fs = std::filesystem;
using sandbox::detail::http_in;
using sandbox::detail::http_out;
using sandbox::detail::normalize_user_code;
using ::testing::HasSubstr;

const std::string base = "/" + tenant_id + "/oauth2/v2.0/";
// A PKCE pair (RFC 7636 section 4.2: challenge = BASE64URL(SHA256(verifier))).
const std::string verifier = "dBjftJeZ4CVP-mJ92K9Ydbd14-JSjBcXSOJhtvCk-Mailoauth";
const std::string challenge = sandbox::detail::base64url(sandbox::detail::sha256(verifier));

std::string header(const http_out& out, std::string_view name) {
  for (const auto& [k, v] : out.headers)
    if (k == name) return v;
  return {};
}

// The hidden `ctx` of a sign-in or consent page.
std::string ctx_of(const http_out& page) {
  const std::string marker = "name=\"ctx\" value=\"";
  const auto at = page.body.find(marker);
  if (at == std::string::npos) return {};
  const auto start = at + marker.size();
  return page.body.substr(start, page.body.find('"', start) - start);
}

std::string page_name(const http_out& page) {
  const std::string marker = "data-page=\"";
  const auto at = page.body.find(marker);
  if (at == std::string::npos) return {};
  const auto start = at + marker.size();
  return page.body.substr(start, page.body.find('"', start) - start);
}

// A JWT's header or payload, decoded.
boost::json::object jwt_part(const std::string& jwt, int part) {
  std::size_t start = 0;
  for (int i = 0; i < part; ++i) start = jwt.find('.', start) + 1;
  const auto end = jwt.find('.', start);
  const auto text = oauth::base64url_decode(jwt.substr(start, end - start));
  if (!text) return {};
  return boost::json::parse(*text).as_object();
}

// A string member, or "" (also for a member of another type).
std::string text(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

class authority_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    state_dir_ = fs::temp_directory_path() / ("mailoauth-authority-" + std::to_string(rd()));
    auto k = sandbox::load_or_create_pki(state_dir_);
    ASSERT_TRUE(k) << k.error().message;
    keys_ = std::move(*k);
    sandbox::identity_options o;
    o.dir = test_directory();
    o.keys = keys_;
    o.clock = [this] { return now_; };
    auth_ = std::make_unique<sandbox::detail::authority>(std::move(o));
    auth_->set_origin("https://127.0.0.1:4430");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(state_dir_, ec);
  }

  http_out get(const std::string& target, const std::string& cookie = {}) {
    http_in in;
    in.method = "GET";
    in.target = target;
    in.cookie = cookie;
    return auth_->handle(in);
  }
  http_out post(const std::string& target, const std::string& body,
                const std::string& cookie = {}) {
    http_in in;
    in.method = "POST";
    in.target = target;
    in.content_type = "application/x-www-form-urlencoded";
    in.cookie = cookie;
    in.body = body;
    return auth_->handle(in);
  }
  boost::json::object post_json(const std::string& target, const std::string& body) {
    const auto out = post(target, body);
    return boost::json::parse(out.body).as_object();
  }

  /// A device code of the mail app; its user code in `user_code`.
  std::string device_code(std::string& user_code) {
    const auto r =
        post_json(base + "devicecode", "client_id=" + mail_app +
                                           "&scope=offline_access%20openid%20https%3A%2F%2F"
                                           "outlook.office365.com%2FIMAP.AccessAsUser.All");
    user_code = std::string(r.at("user_code").as_string());
    return std::string(r.at("device_code").as_string());
  }

  /// The authorization code flow of the mail app through the pages, up to the redirect.
  http_out sign_in_with_code(const std::string& nonce_encoded) {
    const auto page = get(base + "authorize?client_id=" + mail_app +
                          "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost"
                          "&scope=openid%20email%20https%3A%2F%2Foutlook.office365.com%2F"
                          "IMAP.AccessAsUser.All&code_challenge=" +
                          challenge + "&code_challenge_method=S256&nonce=" + nonce_encoded);
    EXPECT_EQ(page_name(page), "signin") << page.body;
    const auto consent =
        post("/login", "ctx=" + ctx_of(page) + "&login=" + user + "&passwd=Passw0rd-test%21");
    EXPECT_EQ(page_name(consent), "consent") << consent.body;
    return post("/consent", "ctx=" + ctx_of(consent) + "&decision=accept");
  }

  std::string code_in(const http_out& redirect) {
    const auto location = header(redirect, "Location");
    const auto at = location.find("code=");
    if (at == std::string::npos) return {};
    return location.substr(at + 5, location.find('&', at) - at - 5);
  }

  fs::path state_dir_;
  sandbox::pki keys_;
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();
  std::unique_ptr<sandbox::detail::authority> auth_;
};

TEST(user_code, case_dashes_and_white_space_do_not_matter) {
  EXPECT_EQ(normalize_user_code("ABCDEFGHJ"), "ABCDEFGHJ");
  EXPECT_EQ(normalize_user_code("abcdefghj"), "ABCDEFGHJ");
  EXPECT_EQ(normalize_user_code("abc-def-ghj"), "ABCDEFGHJ");
  EXPECT_EQ(normalize_user_code(" ABC DEF GHJ "), "ABCDEFGHJ");
  EXPECT_EQ(normalize_user_code("AbC\tdEf-GhJ"), "ABCDEFGHJ");
  // Pasted with its line break.
  EXPECT_EQ(normalize_user_code("ABCDEFGHJ\r\n"), "ABCDEFGHJ");
  EXPECT_EQ(normalize_user_code("2345-6789"), "23456789");
}

TEST(user_code, other_characters_stay_and_so_do_not_match) {
  // A typo is not corrected into somebody else's code.
  EXPECT_EQ(normalize_user_code("ABC.DEF"), "ABC.DEF");
  EXPECT_EQ(normalize_user_code("ABC_DEF"), "ABC_DEF");
  EXPECT_EQ(normalize_user_code("\xc3\xa9t\xc3\xa9"), "\xc3\xa9T\xc3\xa9");
  EXPECT_EQ(normalize_user_code(" - \t"), "");
  EXPECT_EQ(normalize_user_code(""), "");
}

TEST_F(authority_test, the_device_login_page_reads_a_code_typed_in_lower_case_with_dashes) {
  std::string user_code;
  device_code(user_code);
  ASSERT_EQ(user_code.size(), 9U);
  std::string typed;
  for (std::size_t i = 0; i < user_code.size(); ++i) {
    if (i == 3 || i == 6) typed += "-";
    typed += static_cast<char>(std::tolower(static_cast<unsigned char>(user_code[i])));
  }
  typed = " " + typed + "\t";
  const auto page = post("/devicelogin", "otc=" + sandbox::detail::url_encode(typed));
  EXPECT_EQ(page.status, 200U);
  EXPECT_EQ(page_name(page), "signin") << page.body;
  EXPECT_FALSE(ctx_of(page).empty());

  const auto wrong = post("/devicelogin", "otc=" + user_code + "X");
  EXPECT_EQ(page_name(wrong), "devicelogin");
  EXPECT_THAT(wrong.body, HasSubstr("AADSTS70018"));
}

TEST_F(authority_test, the_api_reads_a_user_code_as_the_page_does) {
  std::string user_code;
  const auto device = device_code(user_code);
  std::string typed;
  for (std::size_t i = 0; i < user_code.size(); ++i) {
    if (i == 4) typed += "\t- ";
    typed += static_cast<char>(std::tolower(static_cast<unsigned char>(user_code[i])));
  }
  auto ok = auth_->approve_device_code(typed + "\n", user);
  ASSERT_TRUE(ok) << ok.error().message;
  now_ += std::chrono::seconds(6);
  const auto tokens =
      post_json(base + "token", "client_id=" + mail_app +
                                    "&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_"
                                    "code&device_code=" +
                                    device);
  ASSERT_TRUE(tokens.contains("access_token")) << boost::json::serialize(tokens);
  EXPECT_TRUE(tokens.contains("refresh_token"));
  EXPECT_TRUE(tokens.contains("id_token"));
  // Used once: the page now says so.
  const auto again = post("/devicelogin", "otc=" + user_code);
  EXPECT_THAT(again.body, HasSubstr("already been used"));
}

TEST_F(authority_test, id_tokens_are_signed_like_access_tokens_and_carry_the_nonce) {
  const auto redirect = sign_in_with_code("n-0S6_WzA2Mj");
  ASSERT_EQ(redirect.status, 302U) << redirect.body;
  const auto code = code_in(redirect);
  ASSERT_FALSE(code.empty()) << header(redirect, "Location");
  const auto tokens = post_json(base + "token", "client_id=" + mail_app +
                                                    "&grant_type=authorization_code&code=" + code +
                                                    "&redirect_uri=http%3A%2F%2Flocalhost"
                                                    "&code_verifier=" +
                                                    verifier);
  ASSERT_TRUE(tokens.contains("id_token")) << boost::json::serialize(tokens);
  const std::string id_token(tokens.at("id_token").as_string());
  const std::string access_token(tokens.at("access_token").as_string());

  // One signer: the same header, and both verify under the platform's key.
  EXPECT_EQ(jwt_part(id_token, 0), jwt_part(access_token, 0));
  EXPECT_EQ(text(jwt_part(id_token, 0), "alg"), "RS256");
  EXPECT_EQ(text(jwt_part(id_token, 0), "typ"), "JWT");
  EXPECT_EQ(text(jwt_part(id_token, 0), "kid"), keys_.token_key.kid);
  const auto t = std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count();
  EXPECT_TRUE(sandbox::verify_access_token(id_token, keys_.token_key.public_pem, t));
  EXPECT_TRUE(sandbox::verify_access_token(access_token, keys_.token_key.public_pem, t));

  const auto claims = jwt_part(id_token, 1);
  EXPECT_EQ(text(claims, "aud"), mail_app);
  EXPECT_EQ(text(claims, "iss"), "https://127.0.0.1:4430/" + tenant_id + "/v2.0");
  EXPECT_EQ(text(claims, "tid"), tenant_id);
  EXPECT_EQ(text(claims, "ver"), "2.0");
  EXPECT_EQ(text(claims, "nonce"), "n-0S6_WzA2Mj");
  EXPECT_EQ(text(claims, "preferred_username"), user);
  EXPECT_EQ(text(claims, "email"), user);
  EXPECT_EQ(text(claims, "name"), "Test User");
  EXPECT_EQ(text(claims, "oid"), "6db172d4-85aa-4c71-a0e4-c18482f59007");
  EXPECT_EQ(claims.at("sub").as_string().size(), 43U);
  EXPECT_EQ(claims.at("exp").as_int64() - claims.at("iat").as_int64(), 3600);
}

TEST_F(authority_test, a_nonce_of_any_bytes_still_gets_an_id_token) {
  // The nonce is the client's text and goes into the ID token as it came: a NUL or bytes that
  // are not UTF-8 must not make signing fail.
  const auto redirect = sign_in_with_code("a%00b%FFc");
  const auto code = code_in(redirect);
  ASSERT_FALSE(code.empty()) << header(redirect, "Location");
  const auto out =
      post(base + "token", "client_id=" + mail_app + "&grant_type=authorization_code&code=" + code +
                               "&redirect_uri=http%3A%2F%2Flocalhost&code_verifier=" + verifier);
  ASSERT_EQ(out.status, 200U) << out.body;
  EXPECT_THAT(out.body, HasSubstr("\"id_token\""));
}

TEST_F(authority_test, request_text_that_is_not_utf8_is_quoted_as_valid_json) {
  // AADSTS700016 quotes the client_id: a byte that is not UTF-8 becomes U+FFFD, so that the
  // answer is still JSON (RFC 8259 section 8.1) and the client can read the error.
  const auto out =
      post(base + "token", "client_id=caf%C3%A9%FF%C0%80&grant_type=client_credentials");
  EXPECT_EQ(out.status, 400U);
  boost::system::error_code ec;
  const auto doc = boost::json::parse(out.body, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(text(doc.as_object(), "error"), "unauthorized_client");
  EXPECT_THAT(text(doc.as_object(), "error_description"),
              HasSubstr("'caf\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd'"));
}

TEST_F(authority_test, a_loopback_redirect_uri_matches_any_port_but_only_a_port) {
  const auto authorize = [&](const std::string& redirect) {
    return get(base + "authorize?client_id=" + mail_app +
               "&response_type=bogus&redirect_uri=" + redirect);
  };
  // RFC 8252 section 7.3: any port of the registered http://localhost, so the error goes back
  // to the app.
  const auto ok = authorize("http%3A%2F%2Flocalhost%3A53117");
  EXPECT_EQ(ok.status, 302U);
  EXPECT_THAT(header(ok, "Location"), ::testing::StartsWith("http://localhost:53117?error="));
  // A "port" with a line break in it is no port: the page says so, nothing is redirected.
  for (const auto* bad : {"http%3A%2F%2Flocalhost%3A1%0D%0ASet-Cookie%20a%3Db",
                          "http%3A%2F%2Flocalhost%3A5%007", "http%3A%2F%2Flocalhost%3Ax"}) {
    const auto out = authorize(bad);
    EXPECT_EQ(out.status, 400U) << bad;
    EXPECT_EQ(page_name(out), "error") << bad;
    EXPECT_THAT(out.body, HasSubstr("AADSTS50011")) << bad;
    EXPECT_EQ(header(out, "Location"), "") << bad;
  }
}

}  // namespace
}  // namespace mailoauth::identity_test
