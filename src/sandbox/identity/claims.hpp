// Internal: the one place the identity platform decides what its tokens say. Access tokens
// (Exchange Online's v1.0 shape, delegated or app-only) and ID tokens (v2.0) get their issuer,
// tenant and lifetimes here, and are signed by the core's one signer (sandbox/core/jwt.hpp).
#pragma once

#include "sandbox/core/jwt.hpp"
#include "sandbox/identity/authority_state.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace mailoauth::sandbox::detail {

/// A delegated access token's claims: the user's grant on https://outlook.office365.com.
access_claims delegated_access_claims(const platform_state& s, const grant& g, time_point issued,
                                      std::chrono::seconds lifetime);
/// An app-only access token's claims: the app's service principal and `roles`.
access_claims app_access_claims(const platform_state& s, const app_registration& app,
                                std::vector<std::string> roles, time_point issued,
                                std::chrono::seconds lifetime);
/// An ID token's claims for the app of `g`, issued now for the access token lifetime, with a
/// pairwise `sub` per user and app as Entra ID's v2.0 ID tokens have.
id_claims id_token_claims(const platform_state& s, const grant& g, const std::string& nonce);

/// Signed with the platform's key; the failure names no claim.
result<std::string> issue_access_token(const platform_state& s, const access_claims& c);
result<std::string> issue_id_token(const platform_state& s, const grant& g,
                                   const std::string& nonce);

}  // namespace mailoauth::sandbox::detail
