// The one place authorization happens: the API asks before every storage operation, with the
// operation's payload; the answer is a filter for the storage query, or an ApiError.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "auth/user.hpp"
#include "plugin/auth_plugin.hpp"

namespace lgs {

class Authorizer {
 public:
  explicit Authorizer(std::shared_ptr<const AuthPlugin> plugin) : plugin_(std::move(plugin)) {}

  // Returns the filter the operation must respect ({} = none); `value` becomes the handler's
  // changed copy. Throws ApiError: the handler's status when it raised one, 403 "Forbidden" when
  // it denied, 500 when it failed or returned an invalid filter. No user (auth disabled): {}.
  json authorize(const User* user, std::string_view resource, std::string_view action, json& value) const;
  // True when an auth plugin decides (the server authenticates requests).
  bool enabled() const { return plugin_ != nullptr; }

 private:
  std::shared_ptr<const AuthPlugin> plugin_;
};

}  // namespace lgs
