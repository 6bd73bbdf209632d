// The authenticate gate every protected request passes: builds what the plugin may read of
// the request, calls it, and fails closed.
#pragma once

#include <memory>

#include <httplib.h>

#include "auth/auth_cache.hpp"
#include "plugin/auth_plugin.hpp"

namespace lgs {

// When LangGraph Studio's header (x-auth-scheme: langsmith) may stand in for authentication.
// Never when disable_studio_auth is set; otherwise from a loopback client of a --dev server, or
// from a request carrying the configured studio key in x-studio-key.
struct StudioAccess {
  bool disabled = false;
  bool dev = false;
  std::string key;  // empty: no key configured
};

class Authenticator {
 public:
  // `plugin` may be null: the server then runs without authentication, as LangGraph does.
  // `cache` (auth.cache) may be null: every request then asks the plugin.
  explicit Authenticator(std::shared_ptr<const AuthPlugin> plugin, StudioAccess studio = {},
                         std::unique_ptr<AuthCache> cache = nullptr)
      : plugin_(std::move(plugin)), studio_(std::move(studio)), cache_(std::move(cache)) {}

  bool enabled() const { return plugin_ != nullptr; }
  // Allowed with no user when disabled; otherwise the Studio user, a cached success, or the
  // plugin's decision, in that order.
  AuthDecision authenticate(const httplib::Request& request, const Pairs& path_params) const;

 private:
  bool is_studio_request(const httplib::Request& request) const;

  std::shared_ptr<const AuthPlugin> plugin_;
  StudioAccess studio_;
  std::unique_ptr<AuthCache> cache_;  // thread-safe itself
};

// The fixed user Studio requests run as: identity "langgraph-studio-user", kind "StudioUser".
User studio_user();

// The request's headers with lower-case names, without the pseudo-headers cpp-httplib adds
// (REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR, LOCAL_PORT), which a client could also send.
Pairs request_headers(const httplib::Request& request);

}  // namespace lgs
