// Internal: the identity platform's pages (sign-in, consent, device login, errors), plain HTML
// with a strict Content-Security-Policy. Each page's <body> names itself in data-page, so that
// tests and scripts can tell them apart without reading their text.
#pragma once

#include "sandbox/identity/aadsts.hpp"

#include <string>
#include <utility>
#include <vector>

namespace mailoauth::sandbox::detail {

struct page {
  std::string html;
  std::string content_security_policy;
};

struct permission_line {
  std::string name;
  std::string description;
};

/// The sign-in form (data-page="signin"): posts ctx, login and passwd to /login.
/// `redirect_source` (a CSP source such as http://localhost:*) lets the form's response redirect
/// to the app: Content-Security-Policy's form-action also governs redirects after a submission.
page signin_page(const std::string& ctx, const std::string& app_name,
                 const std::string& tenant_name, const std::string& login_hint,
                 const std::string& error_text, const std::string& redirect_source = {});
/// The consent form (data-page="consent"): posts ctx and decision=accept|cancel to /consent.
/// `device` adds the device flow's "Are you trying to sign in to ...?" question.
page consent_page(const std::string& ctx, const std::string& app_name,
                  const std::string& tenant_name, const std::string& username,
                  const std::vector<permission_line>& permissions, bool device,
                  const std::string& redirect_source = {});
/// The device login's code entry (data-page="devicelogin"): posts otc to /devicelogin.
page devicelogin_page(const std::string& error_text);
/// After the device sign-in (data-page="device-done").
page device_done_page(const std::string& app_name);
/// After the user cancelled the device sign-in (data-page="device-declined").
page device_declined_page(const std::string& app_name);
/// An error Entra ID shows instead of redirecting (data-page="error"), with its AADSTS code.
page error_page(const aad_error& e, const error_context& c);
/// response_mode=form_post: a form that posts `fields` to `action` by itself.
page form_post_page(const std::string& action,
                    const std::vector<std::pair<std::string, std::string>>& fields);

/// What the consent page says for a permission.
std::string permission_description(const std::string& name);

}  // namespace mailoauth::sandbox::detail
