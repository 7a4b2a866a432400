// libmailoauth_curl.so: HTTP requests through libcurl, behind the C table of curl_module.hpp.
// Built as a separately loaded module so that the mailoauth binary does not link libcurl (see
// curl_module.hpp for why). Nothing here logs: the program logs what it decides to log.
#include "curl_module.hpp"

#include <curl/curl.h>
#include <curl/header.h>
#include <strings.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is needed (CURLOPT_PROTOCOLS_STR, curl_easy_header)"
#endif

namespace {

constexpr const char* user_agent = "mailoauth/0.1";

// curl_global_init is not thread-safe in every libcurl; a function-local static is
// initialised exactly once even when two threads make their first request together.
CURLcode global_init() noexcept {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  return rc;
}

/// Overwrites memory in a way the optimiser keeps: response bodies hold access and refresh
/// tokens.
void wipe(void* p, std::size_t n) noexcept {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

/// The response body, grown by hand so that every buffer it leaves behind is wiped first.
struct body_sink {
  char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
  std::size_t limit = 0;
  bool too_large = false;
  bool out_of_memory = false;

  ~body_sink() {
    wipe(data, size);
    std::free(data);
  }

  bool append(const char* p, std::size_t n) noexcept {
    if (n > limit - size) {
      too_large = true;
      return false;
    }
    if (size + n > capacity) {
      std::size_t wanted = capacity == 0 ? 4096 : capacity * 2;
      while (wanted < size + n) wanted *= 2;
      if (wanted > limit) wanted = limit;
      auto* grown = static_cast<char*>(std::malloc(wanted + 1));
      if (grown == nullptr) {
        out_of_memory = true;
        return false;
      }
      if (size > 0) std::memcpy(grown, data, size);
      wipe(data, size);
      std::free(data);
      data = grown;
      capacity = wanted;
    }
    std::memcpy(data + size, p, n);
    size += n;
    data[size] = '\0';
    return true;
  }

  char* release() noexcept {
    char* p = data;
    data = nullptr;
    size = capacity = 0;
    return p;
  }
};

extern "C" std::size_t on_body(char* ptr, std::size_t size, std::size_t count,
                               void* user) noexcept {
  auto* sink = static_cast<body_sink*>(user);
  const std::size_t n = size * count;
  // Returning less than n makes curl stop with CURLE_WRITE_ERROR.
  return sink->append(ptr, n) ? n : 0;
}

char* copy_string(const char* s) noexcept {
  if (s == nullptr) return nullptr;
  const std::size_t n = std::strlen(s);
  auto* p = static_cast<char*>(std::malloc(n + 1));
  if (p != nullptr) std::memcpy(p, s, n + 1);
  return p;
}

void set_error(mailoauth_curl_response* response, const char* what, const char* detail) {
  if (detail != nullptr && detail[0] != '\0') {
    std::snprintf(response->error, sizeof response->error, "%s: %s", what, detail);
  } else {
    std::snprintf(response->error, sizeof response->error, "%s", what);
  }
}

struct easy_deleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
// curl_slist_append copies each header line; an Authorization line holds a credential.
struct slist_deleter {
  void operator()(curl_slist* l) const noexcept {
    for (curl_slist* item = l; item != nullptr; item = item->next) {
      if (item->data != nullptr) wipe(item->data, std::strlen(item->data));
    }
    curl_slist_free_all(l);
  }
};
struct url_deleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};

int classify(CURLcode rc, const body_sink& sink) noexcept {
  switch (rc) {
    case CURLE_OK:
      return mailoauth_curl_ok;
    case CURLE_OPERATION_TIMEDOUT:
      return mailoauth_curl_timed_out;
    case CURLE_FILESIZE_EXCEEDED:
      return mailoauth_curl_too_large;
    case CURLE_WRITE_ERROR:
      if (sink.too_large) return mailoauth_curl_too_large;
      return sink.out_of_memory ? mailoauth_curl_internal : mailoauth_curl_failed;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return mailoauth_curl_tls_verify_failed;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
      return mailoauth_curl_tls_failed;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return mailoauth_curl_refused;
    default:
      return mailoauth_curl_failed;
  }
}

// Sets an option and remembers the first failure: every option here is needed for the
// request to be safe (verification, protocols, timeouts), so a refused one aborts it.
class options {
 public:
  explicit options(CURL* h) : h_(h) {}
  template <class T>
  void set(CURLoption option, T value) {
    if (rc_ == CURLE_OK) rc_ = curl_easy_setopt(h_, option, value);
  }
  [[nodiscard]] CURLcode result() const { return rc_; }

 private:
  CURL* h_;
  CURLcode rc_ = CURLE_OK;
};

int perform_unchecked(const mailoauth_curl_request* request, mailoauth_curl_response* response) {
  if (global_init() != CURLE_OK) {
    set_error(response, "libcurl could not be initialised", nullptr);
    return mailoauth_curl_internal;
  }
  if (request->url == nullptr || request->method == nullptr) {
    set_error(response, "no URL or method", nullptr);
    return mailoauth_curl_refused;
  }
  // Declared before the easy handle, which refers to all of them until it is cleaned up.
  char curl_error[CURL_ERROR_SIZE] = {};
  body_sink sink;
  sink.limit = request->max_body;
  std::unique_ptr<curl_slist, slist_deleter> headers;
  std::unique_ptr<CURLU, url_deleter> url(curl_url());
  std::unique_ptr<CURL, easy_deleter> easy(curl_easy_init());
  if (!easy || !url) {
    set_error(response, "libcurl could not allocate a handle", nullptr);
    return mailoauth_curl_internal;
  }
  CURL* h = easy.get();

  // Parse once with curl's own parser and hand curl the parsed URL, so that the host checked
  // below is the host curl connects to.
  if (curl_url_set(url.get(), CURLUPART_URL, request->url, 0) != CURLUE_OK) {
    set_error(response, "malformed URL", nullptr);
    return mailoauth_curl_refused;
  }
  if (request->loopback_host != nullptr) {
    char* host = nullptr;
    char* scheme = nullptr;
    const bool same = curl_url_get(url.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK &&
                      curl_url_get(url.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                      strcasecmp(host, request->loopback_host) == 0 &&
                      strcasecmp(scheme, "http") == 0;
    curl_free(host);
    curl_free(scheme);
    if (!same) {
      set_error(response, "refusing plain http:// to a host that is not a loopback address",
                nullptr);
      return mailoauth_curl_refused;
    }
  }

  for (std::size_t k = 0; k < request->header_count; ++k) {
    curl_slist* grown = curl_slist_append(headers.get(), request->headers[k]);
    if (grown == nullptr) {
      set_error(response, "out of memory", nullptr);
      return mailoauth_curl_internal;
    }
    static_cast<void>(headers.release());
    headers.reset(grown);
  }

  options o(h);
  o.set(CURLOPT_CURLU, url.get());
  o.set(CURLOPT_ERRORBUFFER, curl_error);
  o.set(CURLOPT_NOSIGNAL, 1L);  // no SIGALRM-based DNS timeouts in a multi-threaded program
  o.set(CURLOPT_PROTOCOLS_STR, "http,https");
  // Identity endpoints answer, they do not redirect; a redirect is handed back as a response
  // (RFC 6749 token requests must not be replayed elsewhere with their secrets).
  o.set(CURLOPT_FOLLOWLOCATION, 0L);
  o.set(CURLOPT_USERAGENT, user_agent);
  o.set(CURLOPT_HTTPHEADER, headers.get());
  o.set(CURLOPT_CONNECTTIMEOUT_MS, request->connect_timeout_ms);
  o.set(CURLOPT_TIMEOUT_MS, request->timeout_ms);
  // Verification stays on whatever the caller asks; there is deliberately no way around it.
  o.set(CURLOPT_SSL_VERIFYPEER, 1L);
  o.set(CURLOPT_SSL_VERIFYHOST, 2L);
  o.set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (request->cafile != nullptr && request->cafile[0] != '\0') {
    o.set(CURLOPT_CAINFO, request->cafile);
  }
  // Proxies come from the environment (https_proxy, HTTPS_PROXY, no_proxy...) as curl does
  // by default, which is why CURLOPT_PROXY is left alone. A loopback target can never be
  // reached through a proxy, so it bypasses one.
  if (request->loopback_host != nullptr) o.set(CURLOPT_NOPROXY, "*");
  o.set(CURLOPT_WRITEFUNCTION, &on_body);
  o.set(CURLOPT_WRITEDATA, &sink);
  // Refuses early when Content-Length already says too much; on_body catches the rest.
  o.set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request->max_body));
  if (std::strcmp(request->method, "POST") == 0) {
    o.set(CURLOPT_POST, 1L);
    o.set(CURLOPT_POSTFIELDS, request->body);
    o.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request->body_size));
  } else if (std::strcmp(request->method, "GET") == 0) {
    o.set(CURLOPT_HTTPGET, 1L);
  } else {
    set_error(response, "unsupported method", request->method);
    return mailoauth_curl_refused;
  }
  if (o.result() != CURLE_OK) {
    set_error(response, "libcurl refused an option", curl_easy_strerror(o.result()));
    return mailoauth_curl_internal;
  }

  const CURLcode rc = curl_easy_perform(h);

  curl_off_t elapsed_us = 0;
  if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &elapsed_us) == CURLE_OK) {
    response->elapsed_ms = static_cast<long>(elapsed_us / 1000);
  }
  const int outcome = classify(rc, sink);
  if (outcome != mailoauth_curl_ok) {
    if (outcome == mailoauth_curl_too_large) {
      set_error(response, "response body too large", nullptr);
    } else {
      set_error(response, curl_easy_strerror(rc), curl_error);
    }
    return outcome;
  }

  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response->status);
  char* content_type = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK) {
    response->content_type = copy_string(content_type);
  }
  // The last response's header only: not a proxy's CONNECT reply or a 100 Continue.
  curl_header* retry_after = nullptr;
  if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &retry_after) == CURLHE_OK) {
    response->retry_after = copy_string(retry_after->value);
  }
  response->body_size = sink.size;
  response->body = sink.release();
  if (response->body == nullptr) response->body = copy_string("");
  return mailoauth_curl_ok;
}

extern "C" int module_perform(const mailoauth_curl_request* request,
                              mailoauth_curl_response* response) noexcept {
  if (response == nullptr) return mailoauth_curl_internal;
  std::memset(response, 0, sizeof *response);
  int outcome = mailoauth_curl_internal;
  try {
    outcome = request != nullptr ? perform_unchecked(request, response) : mailoauth_curl_internal;
  } catch (const std::bad_alloc&) {
    set_error(response, "out of memory", nullptr);
  } catch (...) {
    // Nothing above throws by design; no exception may cross into the program.
    set_error(response, "internal error in the HTTP module", nullptr);
  }
  response->outcome = outcome;
  return outcome;
}

extern "C" void module_release(mailoauth_curl_response* response) noexcept {
  if (response == nullptr) return;
  wipe(response->body, response->body_size);
  std::free(response->body);
  std::free(response->content_type);
  std::free(response->retry_after);
  response->body = response->content_type = response->retry_after = nullptr;
  response->body_size = 0;
}

extern "C" const char* module_curl_version() noexcept {
  return curl_version();
}

constexpr mailoauth_curl_api api_v1 = {
    MAILOAUTH_CURL_ABI_VERSION,
    sizeof(mailoauth_curl_api),
    &module_curl_version,
    &module_perform,
    &module_release,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const mailoauth_curl_api* mailoauth_curl_module(
    unsigned abi_version) noexcept {
  return abi_version == MAILOAUTH_CURL_ABI_VERSION ? &api_v1 : nullptr;
}
