// The authenticate gate every protected request passes: builds what the plugin may read of
// the request, calls it, and fails closed.
#pragma once

#include <memory>

#include <httplib.h>

#include "plugin/auth_plugin.hpp"

namespace lgs {

class Authenticator {
 public:
  // `plugin` may be null: the server then runs without authentication, as LangGraph does.
  explicit Authenticator(std::shared_ptr<const AuthPlugin> plugin) : plugin_(std::move(plugin)) {}

  bool enabled() const { return plugin_ != nullptr; }
  // Allowed with no user when disabled; otherwise the plugin's decision.
  AuthDecision authenticate(const httplib::Request& request, const Pairs& path_params) const;

 private:
  std::shared_ptr<const AuthPlugin> plugin_;
};

// The request's headers with lower-case names, without the pseudo-headers cpp-httplib adds
// (REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR, LOCAL_PORT), which a client could also send.
Pairs request_headers(const httplib::Request& request);

}  // namespace lgs
