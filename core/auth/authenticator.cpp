#include "auth/authenticator.hpp"

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

AuthDecision Authenticator::authenticate(const httplib::Request& request, const Pairs& path_params) const {
  if (!plugin_) {
    AuthDecision d;
    d.kind = AuthDecision::Kind::allowed;
    return d;
  }
  const Pairs headers = request_headers(request);
  const Pairs query(request.params.begin(), request.params.end());
  AuthDecision decision = plugin_->authenticate(
      AuthRequest{request.method, request.path, request.remote_addr, headers, query, path_params});
  if (decision.kind == AuthDecision::Kind::failed)
    log::error("auth plugin {} failed on {} {}: {}", plugin_->name(), request.method, request.path, decision.reason);
  return decision;
}

}  // namespace lgs
