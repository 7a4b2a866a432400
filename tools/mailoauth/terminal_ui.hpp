// The interactive flows' terminal side: the authorization URL (and the browser), the device
// code with a QR code and a countdown, the pasted redirect.
#pragma once

#include <mailoauth/oauth.hpp>

namespace mailoauth::cli {

class terminal_ui final : public oauth::interaction {
 public:
  void open_authorization_url(const std::string& url, bool print_only) override;
  std::string read_redirect_url() override;
  void show_device_code(const oauth::device_code_info& info) override;
  void device_waiting(std::chrono::seconds remaining) override;
  void device_done() override;
  void notice(const std::string& text) override;

 private:
  bool countdown_shown_ = false;
};

/// The QR code of `text` drawn with half-block characters, two modules per character cell
/// (libqrencode); empty when it cannot be encoded.
std::string qr_code(const std::string& text);

}  // namespace mailoauth::cli
