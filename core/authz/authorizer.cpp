#include "authz/authorizer.hpp"

#include "authz/filter.hpp"
#include "http/responses.hpp"
#include "util/log.hpp"

namespace lgs {

namespace {
// The last filter this thread found valid. A plugin hands back the same parsed filter for the
// same text (AuthzDecision::filter is shared), so it is validated once, not on every call.
thread_local std::shared_ptr<const json> t_last_valid;
}  // namespace

json Authorizer::authorize(const User* user, std::string_view resource, std::string_view action, json& value) const {
  if (!plugin_ || !user) return json::object();
  AuthzDecision d = plugin_->authorize(*user, resource, action, value);
  if (d.kind == AuthzDecision::Kind::rejected) throw ApiError{d.status, d.detail, d.headers};
  if (d.kind == AuthzDecision::Kind::failed) {
    log::error("auth plugin {} failed to authorize {}:{}: {}", plugin_->name(), resource, action, d.reason);
    throw ApiError{500, "Internal server error while authorizing the request"};
  }
  if (!d.filter) return json::object();
  if (d.filter != t_last_valid) {
    try {
      validate_filter(*d.filter);
    } catch (const InvalidFilter& e) {
      log::error("auth plugin {} returned an invalid filter for {}:{}: {} ({})", plugin_->name(), resource, action,
                 e.what(), d.filter->dump());
      throw ApiError{500, "Internal server error while authorizing the request"};
    }
    t_last_valid = d.filter;
  }
  return *d.filter;
}

}  // namespace lgs
