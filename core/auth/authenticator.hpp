// The authenticate gate every protected request passes: builds what the plugin may read of
// the request, calls it, and fails closed.
#pragma once

#include <memory>


#include "auth/auth_cache.hpp"
#include "http/message.hpp"
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

// What the gate decided for a request. The user is shared (with auth.cache, with the plugin's
// last answer on this thread), never copied per request.
struct GateDecision {
  AuthDecision::Kind kind = AuthDecision::Kind::failed;
  std::shared_ptr<const User> user;  // when allowed; null when authentication is disabled
  int status = 500;                  // when rejected or failed
  std::string detail;                // sent to the client
  Pairs headers;                     // sent with a rejection (e.g. WWW-Authenticate)
};

class Authenticator {
 public:
  // `plugin` may be null: the server then runs without authentication, as LangGraph does.
  // `cache` (auth.cache) may be null: every request then asks the plugin.
  explicit Authenticator(std::shared_ptr<const AuthPlugin> plugin, StudioAccess studio = {},
                         std::unique_ptr<AuthCache> cache = nullptr);

  bool enabled() const { return plugin_ != nullptr; }
  // Allowed with no user when disabled; otherwise the Studio user, a cached success, or the
  // plugin's decision, in that order.
  GateDecision authenticate(const HttpRequest& request, const Pairs& path_params) const;

 private:
  bool is_studio_request(const HttpRequest& request, const lg_auth_request& raw) const;

  std::shared_ptr<const AuthPlugin> plugin_;
  StudioAccess studio_;
  std::unique_ptr<AuthCache> cache_;  // thread-safe itself
  std::shared_ptr<const User> studio_user_;
};

// The fixed user Studio requests run as: identity "langgraph-studio-user", kind "StudioUser".
User studio_user();

// A request in the form the plugin ABI carries it: header names lower-cased into one buffer;
// header values, query and path parameters point into `request`
// and `path_params`, which must outlive it. The buffers belong to the calling thread and are
// reused: the result is valid until the thread builds the next one.
const lg_auth_request& abi_request(const HttpRequest& request, const Pairs& path_params);

}  // namespace lgs
