// A loaded auth plugin: its library, its descriptor and its instance, called without exceptions.
#pragma once

#include <langgraph/abi.h>

#include <array>
#include <cstdint>
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
  // When allowed: the filter the operation must respect; null = no restriction. Shared: a
  // handler that returns the same filter text again gets the same parsed object.
  std::shared_ptr<const json> filter;
  int status = 500;  // when rejected or failed
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
  // The same for a request already in the ABI's form; the user is shared, not copied: on success
  // `user` is set and the decision's own `user` stays empty. The last user a thread received is
  // kept, so a plugin answering with the same user text again is not parsed again.
  AuthDecision authenticate(const lg_auth_request& request, std::shared_ptr<const User>& user) const noexcept;
  // Asks the plugin's authorization handler for (resource, action); `value` is replaced by the
  // handler's changed copy when it changed it. Plugins without a matching handler are not
  // called: allowed. For an event the plugin decides from the context alone ("context_events"
  // at create) no value is sent, and a thread reuses the last answer (allowed or rejected) it
  // got for the same event and the same user instead of asking again.
  AuthzDecision authorize(const User& user, std::string_view resource, std::string_view action,
                          json& value) const noexcept;
  bool has_handler(std::string_view resource, std::string_view action) const;
  // True when the plugin said it decides (resource, action) from the context alone.
  bool decides_from_context(std::string_view resource, std::string_view action) const;
  const std::string& name() const { return name_; }

 private:
  AuthPlugin() = default;
  bool listed(std::string_view resource, std::string_view action) const;
  struct Asked {
    bool handler;   // has_handler
    bool context;   // decides_from_context
    int event = -1;  // the known event's index (kEvents), -1 for another one
  };
  Asked asked(std::string_view resource, std::string_view action) const;
  AuthzDecision ask_plugin(const std::string& user_text, std::string_view resource, std::string_view action,
                           json* value) const;

  SharedLibrary library_;  // first member: destroyed last, after the instance
  const lg_auth_plugin* descriptor_ = nullptr;
  void* instance_ = nullptr;
  std::string name_;
  std::set<std::string, std::less<>> handlers_;  // "resource:action" keys with handlers; "*" wildcards
  // For every known resource and action (kEvents in auth_plugin.cpp), resolved at load: whether
  // the plugin has a handler, and whether that handler decides from the context alone.
  std::array<std::array<bool, 6>, 4> resolved_{};
  std::array<std::array<bool, 6>, 4> from_context_{};
  uint64_t id_ = 0;  // unique per loaded plugin: the key of the answers threads remember
};

}  // namespace lgs
