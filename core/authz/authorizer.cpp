#include "authz/authorizer.hpp"

#include "authz/filter.hpp"
#include "http/responses.hpp"
#include "util/log.hpp"

namespace lgs {

json Authorizer::authorize(const User* user, const std::string& resource, const std::string& action,
                           json& value) const {
  if (!plugin_ || !user) return json::object();
  AuthzDecision d = plugin_->authorize(*user, resource, action, value);
  if (d.kind == AuthzDecision::Kind::rejected) throw ApiError{d.status, d.detail, d.headers};
  if (d.kind == AuthzDecision::Kind::failed) {
    log::error("auth plugin {} failed to authorize {}:{}: {}", plugin_->name(), resource, action, d.reason);
    throw ApiError{500, "Internal server error while authorizing the request"};
  }
  try {
    validate_filter(d.filter);
  } catch (const InvalidFilter& e) {
    log::error("auth plugin {} returned an invalid filter for {}:{}: {} ({})", plugin_->name(), resource, action,
               e.what(), d.filter.dump());
    throw ApiError{500, "Internal server error while authorizing the request"};
  }
  return d.filter;
}

}  // namespace lgs
