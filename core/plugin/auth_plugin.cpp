#include "plugin/auth_plugin.hpp"

#include <fmt/format.h>

#include "config/startup_error.hpp"
#include "plugin/host_sink.hpp"
#include "util/log.hpp"

namespace lgs {

namespace {

std::vector<lg_pair> to_pairs(const Pairs& pairs) {
  std::vector<lg_pair> out;
  out.reserve(pairs.size());
  for (const auto& [name, value] : pairs) out.push_back({HostSink::str(name), HostSink::str(value)});
  return out;
}

AuthDecision failed(std::string reason) {
  AuthDecision d;
  d.kind = AuthDecision::Kind::failed;
  d.status = 500;
  d.detail = "Internal server error while authenticating the request";
  d.reason = std::move(reason);
  return d;
}

}  // namespace

std::shared_ptr<const AuthPlugin> AuthPlugin::load(const AuthConfig& config) {
  const PluginRef& ref = config.plugin;
  std::shared_ptr<AuthPlugin> plugin(new AuthPlugin());
  plugin->library_ = open_library(ref);
  const void* entry = entry_descriptor(plugin->library_, ref, "LANGGRAPH_EXPORT_AUTH");
  check_descriptor(static_cast<const DescriptorHeader*>(entry), sizeof(lg_auth_plugin), ref);
  const auto* descriptor = static_cast<const lg_auth_plugin*>(entry);
  if (!descriptor->create || !descriptor->destroy)
    throw StartupError(plugin_error(ref, "the descriptor has no create/destroy functions"));
  if (!descriptor->authenticate)
    throw StartupError(plugin_error(ref, "the auth plugin has no authenticate handler"));

  HostSink sink;
  const std::string config_json = config.plugin_config.dump();
  void* instance = descriptor->create(HostSink::str(config_json), sink.get());
  if (!instance) {
    std::string why = sink.failure();
    if (sink.http_error()) why = sink.http_error()->detail;
    throw StartupError(plugin_error(ref, "the plugin failed to start: " + (why.empty() ? "no reason given" : why)));
  }
  plugin->descriptor_ = descriptor;
  plugin->instance_ = instance;
  plugin->name_ = descriptor->name ? descriptor->name : ref.symbol;
  if (descriptor->authorize) {
    // Plugins may list their handlers; one that does not is asked about every operation.
    const std::string* listed = sink.json("handlers");
    const json handlers = listed ? json::parse(*listed, nullptr, false) : json(json::array({"*:*"}));
    if (!handlers.is_array()) throw StartupError(plugin_error(ref, "the plugin listed its handlers as invalid JSON"));
    for (const auto& key : handlers)
      if (key.is_string()) plugin->handlers_.insert(key.get<std::string>());
  }
  return plugin;
}

bool AuthPlugin::has_handler(const std::string& resource, const std::string& action) const {
  if (handlers_.empty()) return false;
  return handlers_.count(resource + ":" + action) || handlers_.count(resource + ":*") || handlers_.count("*:" + action) ||
         handlers_.count("*:*");
}

AuthzDecision AuthPlugin::authorize(const User& user, const std::string& resource, const std::string& action,
                                    json& value) const noexcept {
  AuthzDecision d;
  try {
    if (!has_handler(resource, action)) {
      d.kind = AuthzDecision::Kind::allowed;
      return d;
    }
    json user_object = user.object;
    user_object["permissions"] = user.permissions;
    const std::string user_text = user_object.dump();
    const std::string value_text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    lg_authz_request raw{};
    raw.struct_size = sizeof(lg_authz_request);
    raw.resource = HostSink::str(resource);
    raw.action = HostSink::str(action);
    raw.user_json = HostSink::str(user_text);
    raw.value_json = HostSink::str(value_text);
    HostSink sink;
    const int32_t rc = descriptor_->authorize(instance_, &raw, sink.get());
    if (rc == LG_DENIED && sink.http_error()) {
      d.kind = AuthzDecision::Kind::rejected;
      d.status = sink.http_error()->status;
      d.detail = sink.http_error()->detail;
      d.headers = sink.headers();
      if (d.status < 400 || d.status > 599) {
        d.kind = AuthzDecision::Kind::failed;
        d.reason = "authorization handler raised non-error status " + std::to_string(d.status);
      }
      return d;
    }
    if (rc != LG_OK) {
      d.reason = "authorization handler failed: " + (sink.failure().empty() ? "no reason given" : sink.failure());
      return d;
    }
    if (const std::string* changed = sink.json("value")) {
      json parsed = json::parse(*changed, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        d.reason = "authorization handler returned an invalid value";
        return d;
      }
      value = std::move(parsed);
    }
    if (const std::string* filter = sink.json("filter")) {
      json parsed = json::parse(*filter, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        d.reason = "authorization handler returned a filter that is not an object";
        return d;
      }
      d.filter = std::move(parsed);
    }
    d.kind = AuthzDecision::Kind::allowed;
    return d;
  } catch (const std::exception& e) {
    d.kind = AuthzDecision::Kind::failed;
    d.reason = std::string("authorize: ") + e.what();
    return d;
  }
}

AuthPlugin::~AuthPlugin() {
  if (instance_) descriptor_->destroy(instance_);
}

AuthDecision AuthPlugin::authenticate(const AuthRequest& request) const noexcept {
  try {
    const auto headers = to_pairs(request.headers);
    const auto query = to_pairs(request.query_params);
    const auto params = to_pairs(request.path_params);
    lg_auth_request raw{};
    raw.struct_size = sizeof(lg_auth_request);
    raw.method = HostSink::str(request.method);
    raw.path = HostSink::str(request.path);
    raw.client_address = HostSink::str(request.client_address);
    raw.headers = headers.data();
    raw.header_count = headers.size();
    raw.query_params = query.data();
    raw.query_param_count = query.size();
    raw.path_params = params.data();
    raw.path_param_count = params.size();

    HostSink sink;
    const int32_t rc = descriptor_->authenticate(instance_, &raw, sink.get());
    if (rc == LG_DENIED && sink.http_error()) {
      const auto& error = *sink.http_error();
      if (error.status < 400 || error.status > 599)
        return failed(fmt::format("authenticate raised HTTP status {}, which is not an error status", error.status));
      AuthDecision d;
      d.kind = AuthDecision::Kind::rejected;
      d.status = error.status;
      d.detail = error.detail;
      d.headers = sink.headers();
      return d;
    }
    if (rc != LG_OK) return failed("authenticate failed: " + (sink.failure().empty() ? "no reason given" : sink.failure()));
    const std::string* text = sink.json("user");
    if (!text) return failed("authenticate returned no user");
    std::string why;
    const json returned = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (returned.is_discarded()) return failed("authenticate returned invalid JSON");
    auto user = normalize_user(returned, why);
    if (!user) return failed(why);
    AuthDecision d;
    d.kind = AuthDecision::Kind::allowed;
    d.user = std::move(*user);
    return d;
  } catch (const std::exception& e) {
    return failed(std::string("authenticate: ") + e.what());
  } catch (...) {
    return failed("authenticate: unknown error");
  }
}

}  // namespace lgs
