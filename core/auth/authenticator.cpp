#include "auth/authenticator.hpp"

#include <langgraph/auth.hpp>  // constant_time_equals, shared with plugins

#include <algorithm>
#include <cstring>
#include <memory>

#include "util/log.hpp"

namespace lgs {

namespace {

lg_str str(std::string_view s) { return lg_str{s.data(), s.size()}; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The buffers abi_request fills; one set per thread, grown when needed and then reused.
struct AbiRequestBuffers {
  std::unique_ptr<char[]> names;  // the lower-cased header names, back to back
  size_t names_capacity = 0;
  std::vector<size_t> offsets;  // where each header's name starts in `names`
  std::vector<lg_pair> headers, query, params;
  lg_auth_request raw{};

  char* room_for_names(size_t used, size_t more) {
    if (used + more > names_capacity) {
      const size_t capacity = std::max<size_t>(2 * names_capacity, used + more + 256);
      auto grown = std::make_unique<char[]>(capacity);
      if (used) std::memcpy(grown.get(), names.get(), used);
      names = std::move(grown);
      names_capacity = capacity;
    }
    return names.get() + used;
  }
};

}  // namespace

const lg_auth_request& abi_request(const HttpRequest& request, const Pairs& path_params) {
  thread_local AbiRequestBuffers b;
  b.offsets.clear();
  b.headers.clear();
  size_t used = 0;
  for (const auto& [name, value] : request.headers) {
    char* out = b.room_for_names(used, name.size());
    for (const char c : name) *out++ = lower(c);
    b.offsets.push_back(used);
    used += name.size();
    b.headers.push_back({lg_str{nullptr, name.size()}, str(value)});
  }
  // `names` may have grown while it was filled: point into it only now.
  for (size_t i = 0; i < b.headers.size(); ++i) b.headers[i].name.ptr = b.names.get() + b.offsets[i];
  b.query.clear();
  for (const auto& [name, value] : request.params) b.query.push_back({str(name), str(value)});
  b.params.clear();
  for (const auto& [name, value] : path_params) b.params.push_back({str(name), str(value)});
  b.raw = lg_auth_request{};
  b.raw.struct_size = sizeof(lg_auth_request);
  b.raw.method = str(request.method);
  b.raw.path = str(request.path);
  b.raw.client_address = str(request.remote_addr);
  b.raw.headers = b.headers.data();
  b.raw.header_count = b.headers.size();
  b.raw.query_params = b.query.data();
  b.raw.query_param_count = b.query.size();
  b.raw.path_params = b.params.data();
  b.raw.path_param_count = b.params.size();
  return b.raw;
}

User studio_user() {
  User user;
  user.identity = "langgraph-studio-user";
  user.object = {{"identity", user.identity},
                 {"display_name", user.identity},
                 {"is_authenticated", true},
                 {"kind", "StudioUser"},
                 {"permissions", json::array()}};
  user.serialized = user.object.dump();
  return user;
}

namespace {
bool is_loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address.rfind("::ffff:127.", 0) == 0;
}
}  // namespace

Authenticator::Authenticator(std::shared_ptr<const AuthPlugin> plugin, StudioAccess studio,
                             std::unique_ptr<AuthCache> cache)
    : plugin_(std::move(plugin)),
      studio_(std::move(studio)),
      cache_(std::move(cache)),
      studio_user_(std::make_shared<const User>(studio_user())) {}

namespace {
// The first value of a header in `raw` (lower-case `name`); empty when absent.
std::string_view header_value(const lg_auth_request& raw, std::string_view name) {
  for (size_t i = 0; i < raw.header_count; ++i)
    if (std::string_view(raw.headers[i].name.ptr, raw.headers[i].name.len) == name)
      return std::string_view(raw.headers[i].value.ptr, raw.headers[i].value.len);
  return {};
}
}  // namespace

bool Authenticator::is_studio_request(const HttpRequest& request, const lg_auth_request& raw) const {
  if (studio_.disabled || header_value(raw, "x-auth-scheme") != "langsmith") return false;
  if (studio_.dev && is_loopback(request.remote_addr)) return true;
  return !studio_.key.empty() && langgraph::auth::constant_time_equals(header_value(raw, "x-studio-key"), studio_.key);
}

GateDecision Authenticator::authenticate(const HttpRequest& request, const Pairs& path_params) const {
  GateDecision gate;
  if (!plugin_) {
    gate.kind = AuthDecision::Kind::allowed;
    return gate;
  }
  const lg_auth_request& raw = abi_request(request, path_params);
  if (is_studio_request(request, raw)) {
    gate.kind = AuthDecision::Kind::allowed;
    gate.user = studio_user_;
    return gate;
  }
  std::optional<std::string> cache_key;
  if (cache_) {
    cache_key = cache_->key_for(raw.headers, raw.header_count);
    if (cache_key) {
      if (auto user = cache_->get(*cache_key)) {
        gate.kind = AuthDecision::Kind::allowed;
        gate.user = std::move(user);
        return gate;
      }
    }
  }
  AuthDecision decision = plugin_->authenticate(raw, gate.user);
  if (decision.kind == AuthDecision::Kind::failed)
    log::error("auth plugin {} failed on {} {}: {}", plugin_->name(), request.method, request.path, decision.reason);
  if (cache_key && decision.kind == AuthDecision::Kind::allowed) cache_->put(*cache_key, gate.user);
  gate.kind = decision.kind;
  gate.status = decision.status;
  gate.detail = std::move(decision.detail);
  gate.headers = std::move(decision.headers);
  return gate;
}

}  // namespace lgs
