// How the HTTP module is found and when libcurl is loaded. Tests that depend on what a process
// has loaded run in a fresh child (death tests re-execute the binary, see net_test_main.cpp).
#include "net/http_client.hpp"

#include "net/curl_module.hpp"

#include "net_test_util.hpp"
#include "test_http_server.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace mailoauth::net {
namespace {

std::string real_module_dir() {
  const char* dir = std::getenv("MAILOAUTH_MODULE_DIR");
  return dir != nullptr ? std::filesystem::canonical(dir).string() : std::string();
}

[[noreturn]] void exit_with(bool ok, const std::string& why) {
  std::fprintf(stderr, "%s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(ok ? 0 : 1);
}

TEST(HttpModule, MailoauthDoesNotLinkLibcurl) {
  const auto r = test::run_process({"/usr/bin/ldd", MAILOAUTH_BINARY});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("libc.so"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("libcurl"), std::string::npos) << r.out;
}

TEST(HttpModule, BuiltBesideTheMailoauthBinary) {
  const auto exe_dir = std::filesystem::path(MAILOAUTH_BINARY).parent_path();
  EXPECT_TRUE(std::filesystem::exists(exe_dir / "libmailoauth_curl.so")) << exe_dir;
}

TEST(HttpModuleDeathTest, LibcurlIsLoadedOnlyByTheFirstRequest) {
  EXPECT_EXIT(
      {
        if (test::libcurl_loaded()) exit_with(false, "libcurl loaded at start");
        // A refused URL fails before the module is needed.
        http_request refused;
        refused.url = "http://example.com/token";
        if (perform(refused)) exit_with(false, "plain http to example.com allowed");
        if (test::libcurl_loaded()) exit_with(false, "libcurl loaded by a refused request");

        test::test_http_server server(
            [](const test::http_request&) { return test::make_http_response(200, "{}"); });
        http_request req;
        req.url = server.url("/token");
        const auto res = perform(req);
        if (!res) exit_with(false, "request failed: " + res.error().message);
        if (!test::libcurl_loaded()) exit_with(false, "libcurl not loaded after a request");
        const auto module = real_module_dir() + "/libmailoauth_curl.so";
        if (test::mapped_files().find(module) == std::string::npos) {
          exit_with(false, "module not loaded from " + module);
        }
        exit_with(true, "lazy loading ok");
      },
      ::testing::ExitedWithCode(0), "lazy loading ok");
}

TEST(HttpModuleDeathTest, AMissingModuleIsAClearFailure) {
  EXPECT_EXIT(
      {
        char dir[] = "/tmp/mailoauth-empty-XXXXXX";
        if (::mkdtemp(dir) == nullptr) exit_with(false, "mkdtemp failed");
        ::setenv("MAILOAUTH_MODULE_DIR", dir, 1);
        http_request req;
        req.url = "https://127.0.0.1:1/token";
        const auto res = perform(req);
        ::rmdir(dir);
        if (res) exit_with(false, "a request succeeded without the module");
        if (res.error().code != errc::http_failed) exit_with(false, res.error().message);
        if (test::libcurl_loaded()) exit_with(false, "libcurl loaded anyway");
        exit_with(true, res.error().message);
      },
      ::testing::ExitedWithCode(0),
      "mailoauth's HTTP module \\(libmailoauth_curl.so\\) was not found \\(searched "
      "/tmp/mailoauth-empty-.*\\); reinstall mailoauth");
}

TEST(HttpModule, FoundFromTheExecutablesLocationWithoutTheVariable) {
  // The build tree has the module beside the executable; an installation has it in
  // <prefix>/lib/mailoauth with the executable in <prefix>/bin. Copies of this test binary (a
  // symlink would not do: /proc/self/exe resolves it) are run in both layouts.
  const auto module = std::filesystem::path(real_module_dir()) / "libmailoauth_curl.so";
  char dir[] = "/tmp/mailoauth-exe-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::filesystem::path root(dir);
  for (const char* module_dir : {"bin", "lib/mailoauth"}) {
    std::filesystem::remove_all(root / "bin");
    std::filesystem::remove_all(root / "lib");
    std::filesystem::create_directories(root / "bin");
    std::filesystem::create_directories(root / module_dir);
    std::filesystem::copy_file("/proc/self/exe", root / "bin" / "net_tests");
    std::filesystem::copy_file(module, root / module_dir / "libmailoauth_curl.so");
    const auto r = test::run_process(
        {"/usr/bin/env", "-u", "MAILOAUTH_MODULE_DIR", "MAILOAUTH_TEST_NO_MODULE_DIR=1",
         (root / "bin" / "net_tests").string(), "--gtest_filter=HttpModuleChild.RequestWorks"});
    EXPECT_EQ(r.exit_code, 0) << module_dir << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("[  PASSED  ] 1 test"), std::string::npos) << r.out;
  }
  // And with no module in either place, the failure names both.
  std::filesystem::remove(root / "lib/mailoauth/libmailoauth_curl.so");
  const auto r = test::run_process(
      {"/usr/bin/env", "-u", "MAILOAUTH_MODULE_DIR", "MAILOAUTH_TEST_NO_MODULE_DIR=1",
       (root / "bin" / "net_tests").string(), "--gtest_filter=HttpModuleChild.RequestWorks"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("was not found (searched " + (root / "bin").string() + ", " +
                       (root / "lib/mailoauth").string() + ")"),
            std::string::npos)
      << r.out;
  std::filesystem::remove_all(root);
}

/// The module's own entry point, as http_client.cpp finds it.
const mailoauth_curl_api* module_api(unsigned version) {
  const auto path = std::filesystem::path(real_module_dir()) / "libmailoauth_curl.so";
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return nullptr;
  void* symbol = ::dlsym(handle, MAILOAUTH_CURL_ENTRY_POINT);
  mailoauth_curl_entry_fn entry = nullptr;
  std::memcpy(&entry, &symbol, sizeof entry);
  return entry != nullptr ? entry(version) : nullptr;
}

TEST(HttpModule, RefusesOtherAbiVersions) {
  EXPECT_NE(module_api(MAILOAUTH_CURL_ABI_VERSION), nullptr);
  EXPECT_EQ(module_api(MAILOAUTH_CURL_ABI_VERSION + 1), nullptr);
}

TEST(HttpModule, ChecksThePlaintextHostWithCurlsOwnParser) {
  // Defence in depth behind url_allowed(): if our URL parser and curl's ever disagree about
  // the host of an http:// URL, the module refuses before connecting.
  const auto* api = module_api(MAILOAUTH_CURL_ABI_VERSION);
  ASSERT_NE(api, nullptr);
  test::test_http_server server(
      [](const test::http_request&) { return test::make_http_response(200, "{}"); });
  const std::string url = server.url("/token");
  mailoauth_curl_request req{};
  req.method = "GET";
  req.url = url.c_str();
  req.connect_timeout_ms = 1000;
  req.timeout_ms = 1000;
  req.max_body = 1024;

  mailoauth_curl_response res{};
  req.loopback_host = "127.0.0.1";
  EXPECT_EQ(api->perform(&req, &res), mailoauth_curl_ok) << res.error;
  EXPECT_EQ(res.status, 200);
  api->release(&res);

  req.loopback_host = "localhost";
  EXPECT_EQ(api->perform(&req, &res), mailoauth_curl_refused);
  EXPECT_NE(std::string(res.error).find("not a loopback address"), std::string::npos);
  api->release(&res);
  EXPECT_EQ(server.requests().size(), 1u);
}

// Run by FoundBesideTheExecutableWithoutTheVariable in a copy of this binary; passes trivially
// in place.
TEST(HttpModuleChild, RequestWorks) {
  test::test_http_server server(
      [](const test::http_request&) { return test::make_http_response(200, "{}"); });
  http_request req;
  req.url = server.url("/token");
  const auto res = perform(req);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace mailoauth::net
