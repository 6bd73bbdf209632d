#include "auth/authenticator.hpp"

#include <langgraph/auth.hpp>  // constant_time_equals, shared with plugins

#include <algorithm>
#include <cctype>

#include "util/log.hpp"

namespace lgs {

Pairs request_headers(const httplib::Request& request) {
  Pairs headers;
  headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "remote_addr" || lower == "remote_port" || lower == "local_addr" || lower == "local_port") continue;
    headers.emplace_back(std::move(lower), value);
  }
  return headers;
}

User studio_user() {
  User user;
  user.identity = "langgraph-studio-user";
  user.object = {{"identity", user.identity},
                 {"display_name", user.identity},
                 {"is_authenticated", true},
                 {"kind", "StudioUser"},
                 {"permissions", json::array()}};
  return user;
}

namespace {
bool is_loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address.rfind("::ffff:127.", 0) == 0;
}
}  // namespace

bool Authenticator::is_studio_request(const httplib::Request& request) const {
  if (studio_.disabled || request.get_header_value("x-auth-scheme") != "langsmith") return false;
  if (studio_.dev && is_loopback(request.remote_addr)) return true;
  return !studio_.key.empty() && langgraph::auth::constant_time_equals(request.get_header_value("x-studio-key"), studio_.key);
}

AuthDecision Authenticator::authenticate(const httplib::Request& request, const Pairs& path_params) const {
  if (!plugin_) {
    AuthDecision d;
    d.kind = AuthDecision::Kind::allowed;
    return d;
  }
  if (is_studio_request(request)) {
    AuthDecision d;
    d.kind = AuthDecision::Kind::allowed;
    d.user = studio_user();
    return d;
  }
  const Pairs headers = request_headers(request);
  std::optional<std::string> cache_key;
  if (cache_) {
    cache_key = cache_->key_for(headers);
    if (cache_key) {
      if (auto user = cache_->get(*cache_key)) {
        AuthDecision d;
        d.kind = AuthDecision::Kind::allowed;
        d.user = std::move(*user);
        return d;
      }
    }
  }
  const Pairs query(request.params.begin(), request.params.end());
  AuthDecision decision = plugin_->authenticate(
      AuthRequest{request.method, request.path, request.remote_addr, headers, query, path_params});
  if (decision.kind == AuthDecision::Kind::failed)
    log::error("auth plugin {} failed on {} {}: {}", plugin_->name(), request.method, request.path, decision.reason);
  if (cache_key && decision.kind == AuthDecision::Kind::allowed) cache_->put(*cache_key, decision.user);
  return decision;
}

}  // namespace lgs
