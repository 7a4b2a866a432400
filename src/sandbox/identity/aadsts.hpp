// Internal: Microsoft identity platform errors, with the AADSTS codes Entra ID returns for the
// same situations (https://login.microsoftonline.com/error), in its JSON shape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailoauth::sandbox::detail {

struct aad_error {
  unsigned http_status = 400;
  std::string error;     // the OAuth error: invalid_grant, invalid_client, ...
  int code = 0;          // the AADSTS number
  std::string message;   // what follows "AADSTSnnnnn: "
  std::string suberror;  // consent_required, bad_token, ... (empty: none)
};

/// Where an error happened, for the description's trailer and the JSON's ids.
struct error_context {
  std::int64_t now = 0;
  std::string trace_id;
  std::string correlation_id;
};

/// "AADSTSnnnnn: message\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ...".
std::string error_description(const aad_error& e, const error_context& c);
/// {"error","error_description","error_codes":[n],"timestamp","trace_id","correlation_id",
/// "error_uri"[, "suberror"]}.
std::string error_json(const aad_error& e, const error_context& c);

/// An error of the given shape (the rarer ones).
aad_error custom_error(unsigned status, std::string error, int code, std::string message);

// The errors, by situation. Names and descriptions follow Entra ID's; the parameters are what
// its messages quote (never a credential).
aad_error missing_parameter(std::string_view name);
aad_error malformed_request(std::string_view why);
aad_error post_only(std::string_view method);
aad_error unknown_tenant(std::string_view tenant);
aad_error unknown_client(std::string_view client_id, std::string_view tenant);
aad_error consumers_refused(std::string_view client_id, std::string_view app_name);
aad_error redirect_mismatch(std::string_view redirect_uri, std::string_view client_id);
aad_error no_redirect_registered(std::string_view client_id);
aad_error consent_missing(std::string_view client_id, std::string_view app_name);
aad_error consent_declined();
aad_error public_client_sent_secret();
aad_error secret_required();
aad_error invalid_secret(std::string_view client_id);
aad_error implicit_access_tokens_disabled();
aad_error implicit_id_tokens_disabled();
aad_error unsupported_response_type(std::string_view type);
aad_error unsupported_response_mode(std::string_view mode);
aad_error invalid_scope(std::string_view scope, std::string_view why = {});
aad_error default_scope_required(std::string_view scope);
aad_error invalid_resource(std::string_view resource, std::string_view tenant);
aad_error pkce_required(std::string_view why);
aad_error pkce_mismatch();
aad_error bad_authorization_code(std::string_view why);
aad_error code_redeemed();
aad_error code_expired();
aad_error unsupported_grant_type(std::string_view grant);
aad_error authorization_pending();
aad_error slow_down(std::int64_t interval);
aad_error device_code_expired();
aad_error device_code_declined();
aad_error bad_verification_code();
aad_error invalid_refresh_token();
aad_error refresh_token_reused();
aad_error refresh_token_revoked();
aad_error refresh_token_expired();
aad_error grant_of_another_client();
aad_error login_required();

}  // namespace mailoauth::sandbox::detail
