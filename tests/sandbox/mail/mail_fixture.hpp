// What the sandbox mail tests share: the servers running in-process on an io_context thread
// pair, the sandbox's keys (made once per test binary), tokens minted with them, and the
// recorded (redacted) transcript of every session.
#pragma once

#include "sandbox/mail/mail_servers.hpp"

#include "line_client.hpp"
#include "process_run.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mailoauth::sandbox::test {

using mailoauth::test::process_options;
using mailoauth::test::process_result;
using mailoauth::test::run_process;

struct token_spec {
  std::string user = "alice@contoso.onmicrosoft.com";  // upn; empty for an app-only token
  std::vector<std::string> scopes{"IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send"};
  std::vector<std::string> roles{};
  std::int64_t lifetime = 3600;  // seconds from now; negative: expired that long ago
  std::string audience = "https://outlook.office365.com";
};

/// The sandbox's keys (made once per process in a temporary folder) and a second, unrelated set.
const pki& sandbox_keys();
const pki& other_keys();

std::string mint(const token_spec& spec, const signing_key& key = sandbox_keys().token_key);
/// A token with the given JWS header algorithm ("HS256" keyed with the public key, or "none").
std::string forged_token(const std::string& alg, const token_spec& spec);

std::string xoauth2_b64(const std::string& user, const std::string& token);
std::string oauthbearer_b64(const std::string& user, const std::string& token);

/// Runs a program; fails (not skips) when it cannot be started.
process_result run(const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

class mail_fixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  /// Lets a test change the options before the servers start.
  virtual void configure(mail_server_options&) {}

  void start_servers();
  void stop_servers();

  std::uint16_t port(mail_listener l) const { return servers_->ports().get(l); }
  std::string ca_file() const { return sandbox_keys().ca_file.string(); }
  std::unique_ptr<line_client> connect(mail_listener l);
  /// Writes a file in this test's folder (mode 0600) and returns its path.
  std::string write_file(const std::string& name, const std::string& content);

  /// The recorded lines of the sessions so far, "C: ..." and "S: ...", for one listener.
  std::vector<std::string> transcript(mail_listener l);
  /// Everything recorded, as text.
  std::string all_transcripts();

  std::filesystem::path dir_;
  mail_server_options options_;

 private:
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<mail_servers> servers_;
  std::vector<std::thread> threads_;
  std::mutex transcript_mutex_;
  std::vector<transcript_line> lines_;
};

}  // namespace mailoauth::sandbox::test
