// A loaded auth plugin: its library, its descriptor and its instance, called without exceptions.
#pragma once

#include <langgraph/abi.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/user.hpp"
#include "config/config.hpp"
#include "plugin/plugin_library.hpp"

namespace lgs {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct AuthRequest {
  std::string_view method;
  std::string_view path;
  std::string_view client_address;
  const Pairs& headers;  // lower-case names
  const Pairs& query_params;
  const Pairs& path_params;
};

// What authenticate decided. Fail closed: only kind == allowed lets a request through.
struct AuthDecision {
  enum class Kind { allowed, rejected, failed } kind = Kind::failed;
  User user;           // when allowed
  int status = 500;    // when rejected or failed
  std::string detail;  // sent to the client
  Pairs headers;       // sent with a rejection (e.g. WWW-Authenticate)
  std::string reason;  // for the server log only, when failed
};

// What an authorization handler decided.
struct AuthzDecision {
  enum class Kind { allowed, rejected, failed } kind = Kind::failed;
  json filter = json::object();  // when allowed: {} = no restriction
  int status = 500;               // when rejected or failed
  std::string detail;
  Pairs headers;
  std::string reason;  // for the server log only, when failed
};

class AuthPlugin {
 public:
  // Loads and instantiates the plugin; throws StartupError with one line naming the cause.
  static std::shared_ptr<const AuthPlugin> load(const AuthConfig& config);
  ~AuthPlugin();
  AuthPlugin(const AuthPlugin&) = delete;
  AuthPlugin& operator=(const AuthPlugin&) = delete;

  AuthDecision authenticate(const AuthRequest& request) const noexcept;
  // Asks the plugin's authorization handler for (resource, action); `value` is replaced by the
  // handler's changed copy. Plugins without a matching handler are not called: allowed.
  AuthzDecision authorize(const User& user, const std::string& resource, const std::string& action,
                          json& value) const noexcept;
  bool has_handler(const std::string& resource, const std::string& action) const;
  const std::string& name() const { return name_; }

 private:
  AuthPlugin() = default;
  SharedLibrary library_;  // first member: destroyed last, after the instance
  const lg_auth_plugin* descriptor_ = nullptr;
  void* instance_ = nullptr;
  std::string name_;
  std::set<std::string> handlers_;  // "resource:action" keys with handlers; "*" wildcards
};

}  // namespace lgs
