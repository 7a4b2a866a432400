#include "terminal_ui.hpp"

#include <fmt/core.h>
#include <qrencode.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

extern char** environ;

namespace mailoauth::cli {
namespace {

// Starts the browser without waiting for it and without a shell parsing the URL: $BROWSER
// (which may hold arguments, hence sh -c with the URL as "$1"), else xdg-open.
bool launch_browser(const std::string& url) {
  const char* browser = std::getenv("BROWSER");
  std::string command = browser && *browser ? std::string(browser) + " \"$1\"" : "xdg-open \"$1\"";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The browser's chatter must not mix with our output; its errors go to /dev/null too, since
  // we print the URL anyway.
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const char* argv[] = {"sh", "-c", command.c_str(), "sh", url.c_str(), nullptr};
  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0;
}

}  // namespace

std::string qr_code(const std::string& text) {
  QRcode* qr = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1);
  if (!qr) return {};
  const int n = qr->width;
  const int quiet = 2;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= n || y >= n) return false;
    return (qr->data[y * n + x] & 1) != 0;
  };
  // Light modules drawn as full blocks so that the code reads on dark terminals too.
  std::string out;
  for (int y = -quiet; y < n + quiet; y += 2) {
    for (int x = -quiet; x < n + quiet; ++x) {
      const bool top = dark(x, y);
      const bool bottom = dark(x, y + 1);
      if (!top && !bottom)
        out += "\u2588";
      else if (!top && bottom)
        out += "\u2580";
      else if (top && !bottom)
        out += "\u2584";
      else
        out += " ";
    }
    out += "\n";
  }
  QRcode_free(qr);
  return out;
}

void terminal_ui::open_authorization_url(const std::string& url, bool print_only) {
  if (print_only) {
    fmt::print(stderr,
               "Open this URL in a browser on any machine and sign in:\n\n  {}\n\n"
               "The browser then ends on a page that cannot be reached (nothing listens here). "
               "Copy the whole address from its address bar and paste it below.\n",
               url);
    return;
  }
  fmt::print(stderr, "Opening the browser to sign in. If it does not open, visit:\n\n  {}\n\n",
             url);
  if (!launch_browser(url)) spdlog::warn("could not start a browser; open the URL yourself");
  fmt::print(stderr, "Waiting for the sign-in to finish in the browser...\n");
}

std::string terminal_ui::read_redirect_url() {
  fmt::print(stderr, "Redirected URL: ");
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

void terminal_ui::show_device_code(const oauth::device_code_info& info) {
  if (!info.message.empty()) {
    fmt::print(stderr, "{}\n", info.message);
  } else {
    fmt::print(stderr, "To sign in, open {} in a browser and enter the code {}\n",
               info.verification_uri, info.user_code);
  }
  const auto& target = info.verification_uri_complete.empty() ? info.verification_uri
                                                              : info.verification_uri_complete;
  if (auto qr = qr_code(target); !qr.empty())
    fmt::print(stderr, "\nOr scan this with a phone ({}):\n{}\n", target, qr);
  fmt::print(stderr, "Code: {}\n", info.user_code);
}

void terminal_ui::device_waiting(std::chrono::seconds remaining) {
  // A live countdown on a terminal; one line now and then when stderr is a file or a pipe.
  const auto mins = remaining.count() / 60;
  const auto secs = remaining.count() % 60;
  if (::isatty(2)) {
    fmt::print(stderr, "\rWaiting for the sign-in... the code expires in {}:{:02} ", mins, secs);
    countdown_shown_ = true;
  } else if (remaining.count() % 30 == 0) {
    fmt::print(stderr, "Waiting for the sign-in... the code expires in {}:{:02}\n", mins, secs);
  }
}

void terminal_ui::device_done() {
  if (countdown_shown_) fmt::print(stderr, "\n");
  countdown_shown_ = false;
}

void terminal_ui::notice(const std::string& text) {
  fmt::print(stderr, "mailoauth: warning: {}\n", text);
}

}  // namespace mailoauth::cli
