// Internal: the C interface between mailoauth and its HTTP module, libmailoauth_curl.so, the
// only code that links libcurl. The module is loaded with dlopen() on the first HTTP request
// (http_client.cpp), because loading libcurl and its ~30 dependencies costs the token helper
// about 4 ms on every call even when the cached token is still valid (see
// shared/notes/performance-facts.md).
//
// Only C types cross this boundary: the module and the program may be built by different
// compilers and standard libraries in principle, and no exception may cross it.
#pragma once

#include <stddef.h>  // NOLINT(modernize-deprecated-headers): shared with C-style code

extern "C" {

/// Bumped whenever a structure below changes shape; the module refuses other versions.
#define MAILOAUTH_CURL_ABI_VERSION 1u

/// The one exported symbol of the module.
#define MAILOAUTH_CURL_ENTRY_POINT "mailoauth_curl_module"

struct mailoauth_curl_request {
  const char* method;  ///< "GET" or "POST"
  const char* url;
  const char* body;  ///< POST body (form-encoded; may hold secrets)
  size_t body_size;
  const char* const* headers;  ///< "Name: value" lines
  size_t header_count;
  long connect_timeout_ms;
  long timeout_ms;
  const char* cafile;  ///< null or empty: the default CA store
  size_t max_body;     ///< larger responses fail with mailoauth_curl_too_large
  /// For http:// URLs, the host that the program found to be a loopback address; the module
  /// checks that curl's own URL parser sees the same host, so that no parser difference can
  /// send a request in plaintext elsewhere. Null for https://.
  const char* loopback_host;
};

enum mailoauth_curl_outcome {
  mailoauth_curl_ok = 0,
  mailoauth_curl_failed,             ///< connection or protocol failure (see error)
  mailoauth_curl_timed_out,          ///< connect or total timeout
  mailoauth_curl_too_large,          ///< the body exceeded max_body
  mailoauth_curl_tls_verify_failed,  ///< certificate chain or host name not verified
  mailoauth_curl_tls_failed,         ///< handshake failed for another reason
  mailoauth_curl_refused,            ///< the URL was refused before any I/O
  mailoauth_curl_internal,           ///< the module itself failed (allocation, init)
};

struct mailoauth_curl_response {
  int outcome;  ///< a mailoauth_curl_outcome
  long status;
  char* body;  ///< owned by the module until release()
  size_t body_size;
  char* content_type;  ///< null when absent
  char* retry_after;   ///< the raw Retry-After value, null when absent
  long elapsed_ms;
  char error[512];  ///< curl's description of a failure, NUL-terminated
};

struct mailoauth_curl_api {
  unsigned abi_version;
  size_t size;  ///< sizeof(mailoauth_curl_api) as the module knows it
  /// libcurl's version string, for --verbose output.
  const char* (*curl_version)(void);
  /// Performs one request; always fills `response` (release it afterwards). Returns outcome.
  int (*perform)(const struct mailoauth_curl_request* request,
                 struct mailoauth_curl_response* response);
  /// Wipes (the body may hold tokens) and frees what perform() allocated.
  void (*release)(struct mailoauth_curl_response* response);
};

/// Returns the function table when the module speaks `abi_version`, else null.
typedef const struct mailoauth_curl_api* (*mailoauth_curl_entry_fn)(unsigned abi_version);

}  // extern "C"
