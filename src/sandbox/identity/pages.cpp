#include "sandbox/identity/pages.hpp"

#include "sandbox/identity/text.hpp"

namespace mailoauth::sandbox::detail {
namespace {

// No scripts, no outside resources, forms only to ourselves.
constexpr std::string_view base_policy =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

std::string layout(std::string_view page_name, std::string_view title, std::string_view body) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\"><title>";
  out += html_escape(title);
  out +=
      "</title><style>body{font-family:'Segoe UI',system-ui,sans-serif;background:#f2f2f2;"
      "margin:0}main{background:#fff;max-width:440px;margin:3em auto;padding:44px;"
      "box-shadow:0 2px 6px rgba(0,0,0,.2)}h1{font-size:1.5rem;font-weight:600}"
      "input[type=text],input[type=email],input[type=password]{width:100%;padding:6px 0;"
      "border:0;border-bottom:1px solid #666;font-size:1rem;margin:.5em 0}"
      "button{padding:6px 24px;font-size:1rem;margin:1em .5em 0 0}"
      ".primary{background:#0067b8;color:#fff;border:0}.error{color:#e81123}"
      ".small{font-size:.8rem;color:#555}</style></head><body data-page=\"";
  out += page_name;
  out += "\"><main><p class=\"small\">mailoauth sandbox &middot; Microsoft identity platform</p>";
  out += body;
  out += "</main></body></html>\n";
  return out;
}

std::string policy_for(const std::string& redirect_source) {
  if (redirect_source.empty()) return std::string(base_policy);
  return "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self' " +
         redirect_source + "; frame-ancestors 'none'";
}

std::string hidden(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + html_escape(name) + "\" value=\"" + html_escape(value) +
         "\">";
}

}  // namespace

std::string permission_description(const std::string& name) {
  if (name == "IMAP.AccessAsUser.All") return "Read and write access to mailboxes via IMAP.";
  if (name == "POP.AccessAsUser.All") return "Read and write access to mailboxes via POP.";
  if (name == "SMTP.Send") return "Send emails from mailboxes using SMTP AUTH.";
  if (name == "offline_access") return "Maintain access to data you have given it access to.";
  if (name == "openid") return "Sign you in.";
  if (name == "profile") return "View your basic profile.";
  if (name == "email") return "View your email address.";
  return name;
}

page signin_page(const std::string& ctx, const std::string& app_name,
                 const std::string& tenant_name, const std::string& login_hint,
                 const std::string& error_text, const std::string& redirect_source) {
  std::string body = "<h1>Sign in</h1><p>to continue to " + html_escape(app_name) + " (" +
                     html_escape(tenant_name) + ")</p>";
  if (!error_text.empty())
    body += "<p class=\"error\" id=\"usernameError\">" + html_escape(error_text) + "</p>";
  body += "<form method=\"post\" action=\"/login\" autocomplete=\"off\">" + hidden("ctx", ctx) +
          "<label>Email, phone, or Skype<input type=\"email\" name=\"login\" value=\"" +
          html_escape(login_hint) +
          "\" required></label>"
          "<label>Password<input type=\"password\" name=\"passwd\" required></label>"
          "<button type=\"submit\" class=\"primary\" id=\"idSIButton9\">Sign in</button>"
          "</form>";
  return {layout("signin", "Sign in to your account", body), policy_for(redirect_source)};
}

page consent_page(const std::string& ctx, const std::string& app_name,
                  const std::string& tenant_name, const std::string& username,
                  const std::vector<permission_line>& permissions, bool device,
                  const std::string& redirect_source) {
  std::string body = "<p>" + html_escape(username) + "</p>";
  if (device) {
    body += "<h1>Are you trying to sign in to " + html_escape(app_name) +
            "?</h1><p>Only continue if you downloaded the app from a store or website that you "
            "trust.</p>";
  } else {
    body += "<h1>Permissions requested</h1>";
  }
  body += "<p><strong>" + html_escape(app_name) + "</strong> (" + html_escape(tenant_name) +
          ")</p><p>This app would like to:</p><ul id=\"permissions\">";
  for (const auto& p : permissions)
    body += "<li data-permission=\"" + html_escape(p.name) + "\">" + html_escape(p.description) +
            "</li>";
  body +=
      "</ul><p class=\"small\">Accepting these permissions means that you allow this app to "
      "use your data as specified in their terms of service and privacy statement.</p>"
      "<form method=\"post\" action=\"/consent\">" +
      hidden("ctx", ctx) +
      "<button type=\"submit\" name=\"decision\" value=\"cancel\" id=\"idBtn_Back\">"
      "Cancel</button><button type=\"submit\" name=\"decision\" value=\"accept\" "
      "class=\"primary\" id=\"idSIButton9\">Accept</button></form>";
  return {layout("consent", "Permissions requested", body), policy_for(redirect_source)};
}

page devicelogin_page(const std::string& error_text) {
  std::string body = "<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>";
  if (!error_text.empty())
    body += "<p class=\"error\" id=\"otcError\">" + html_escape(error_text) + "</p>";
  body +=
      "<form method=\"post\" action=\"/devicelogin\" autocomplete=\"off\">"
      "<label>Code<input type=\"text\" name=\"otc\" maxlength=\"32\" required autofocus>"
      "</label><button type=\"submit\" class=\"primary\" id=\"idSIButton9\">Next</button></form>";
  return {layout("devicelogin", "Enter code", body), std::string(base_policy)};
}

page device_done_page(const std::string& app_name) {
  const std::string body = "<h1>" + html_escape(app_name) + "</h1><p>You have signed in to the " +
                           html_escape(app_name) +
                           " application on your device. You may now close this window.</p>";
  return {layout("device-done", "Sign-in complete", body), std::string(base_policy)};
}

page device_declined_page(const std::string& app_name) {
  const std::string body = "<h1>" + html_escape(app_name) +
                           "</h1><p>You have declined to sign in to the application on your "
                           "device. You may now close this window.</p>";
  return {layout("device-declined", "Sign-in declined", body), std::string(base_policy)};
}

page error_page(const aad_error& e, const error_context& c) {
  const std::string body =
      "<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p>"
      "<p class=\"error\" id=\"errorMessage\">AADSTS" +
      std::to_string(e.code) + ": " + html_escape(e.message) +
      "</p><p class=\"small\">Request Id: " + html_escape(c.trace_id) +
      "<br>Correlation Id: " + html_escape(c.correlation_id) +
      "<br>Timestamp: " + html_escape(timestamp(c.now)) + "</p>";
  return {layout("error", "Sign in to your account", body), std::string(base_policy)};
}

page form_post_page(const std::string& action,
                    const std::vector<std::pair<std::string, std::string>>& fields) {
  const auto nonce = random_token(16);
  std::string body =
      "<form method=\"post\" id=\"response\" action=\"" + html_escape(action) + "\">";
  for (const auto& [k, v] : fields) body += hidden(k, v);
  body += "<noscript><button type=\"submit\">Continue</button></noscript></form><script nonce=\"" +
          nonce + "\">document.getElementById('response').submit();</script>";
  return {layout("form-post", "Working...", body),
          "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-" + nonce +
              "'; base-uri 'none'; form-action http: https:; frame-ancestors 'none'"};
}

}  // namespace mailoauth::sandbox::detail
