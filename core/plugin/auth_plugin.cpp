#include "plugin/auth_plugin.hpp"

#include <fmt/format.h>

#include <atomic>
#include <optional>

#include "config/startup_error.hpp"
#include "plugin/host_sink.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace lgs {

namespace {

// The resources and actions the API authorizes: has_handler is resolved for each at load.
struct ResourceActions {
  std::string_view resource;
  std::array<std::string_view, 6> actions;
  size_t count;
};
constexpr std::array<ResourceActions, 4> kEvents{{
    {"threads", {"create", "read", "update", "delete", "search", "create_run"}, 6},
    {"assistants", {"create", "read", "update", "delete", "search"}, 5},
    {"crons", {"create", "read", "update", "delete", "search"}, 5},
    {"store", {"put", "get", "search", "list_namespaces", "delete"}, 5},
}};

// The sink of authenticate and authorize calls: the few keys they write, kept in buffers that
// each thread reuses from call to call (no allocation once they have grown). Calls never nest on
// a thread: a plugin cannot call back into the host while it authenticates or authorizes.
class CallSink {
 public:
  CallSink() {
    sink_.struct_size = sizeof(lg_sink);
    sink_.host = this;
    sink_.set_json = [](void* host, lg_str key, lg_str json) {
      auto* self = static_cast<CallSink*>(host);
      const std::string_view k = HostSink::view(key);
      Slot* slot = k == "user" ? &self->user : k == "value" ? &self->value : k == "filter" ? &self->filter : nullptr;
      if (!slot) return;  // "error_type" and the like: not used for auth calls
      slot->text.assign(HostSink::view(json));
      slot->set = true;
    };
    sink_.set_http_error = [](void* host, int32_t status, lg_str detail) {
      static_cast<CallSink*>(host)->http_error = HostSink::HttpError{status, std::string(HostSink::view(detail))};
    };
    sink_.add_header = [](void* host, lg_str name, lg_str value) {
      static_cast<CallSink*>(host)->headers.emplace_back(std::string(HostSink::view(name)), std::string(HostSink::view(value)));
    };
    sink_.set_failure = [](void* host, lg_str message) {
      static_cast<CallSink*>(host)->failure.assign(HostSink::view(message));
    };
    sink_.emit_custom = [](void*, lg_str) {};
    sink_.store = [](void*, lg_str, lg_str, lg_sink*) -> int32_t { return LG_FAILED; };
  }
  CallSink(const CallSink&) = delete;
  CallSink& operator=(const CallSink&) = delete;

  // This thread's sink, emptied for a new call.
  static CallSink& fresh() {
    thread_local CallSink sink;
    sink.user.set = sink.value.set = sink.filter.set = false;
    sink.http_error.reset();
    sink.headers.clear();
    sink.failure.clear();
    return sink;
  }
  lg_sink* get() { return &sink_; }

  struct Slot {
    bool set = false;
    std::string text;
  };
  Slot user, value, filter;
  std::optional<HostSink::HttpError> http_error;
  Pairs headers;
  std::string failure;

 private:
  lg_sink sink_{};
};

// Where (resource, action) is in kEvents; nullopt when it is not a known event.
std::optional<std::pair<size_t, size_t>> event_index(std::string_view resource, std::string_view action) {
  for (size_t r = 0; r < kEvents.size(); ++r) {
    if (kEvents[r].resource != resource) continue;
    for (size_t a = 0; a < kEvents[r].count; ++a)
      if (kEvents[r].actions[a] == action) return std::pair{r, a};
    break;
  }
  return std::nullopt;
}

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

// The last user text this thread received from authenticate, with the user it normalises to.
// normalize_user depends on the text alone, so the same text gives the same user.
struct LastUser {
  std::string text;
  std::shared_ptr<const User> user;
};
thread_local LastUser t_last_user;

// The last filter text this thread received from authorize, parsed.
struct LastFilter {
  std::string text;
  std::shared_ptr<const json> filter;
};
thread_local LastFilter t_last_filter;

// Per known event, the last answer this thread got for an event decided from the context alone:
// which plugin gave it, for which user.
struct Remembered {
  uint64_t plugin = 0;  // AuthPlugin id; 0: nothing remembered
  std::string user;     // the user text it was given for
  AuthzDecision decision;
};
thread_local std::array<Remembered, kEvents.size() * 6> t_remembered;

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
  for (size_t r = 0; r < kEvents.size(); ++r)
    for (size_t a = 0; a < kEvents[r].count; ++a)
      plugin->resolved_[r][a] = plugin->listed(kEvents[r].resource, kEvents[r].actions[a]);
  if (const std::string* listed = descriptor->authorize ? sink.json("context_events") : nullptr) {
    const json events = json::parse(*listed, nullptr, false);
    if (!events.is_array())
      throw StartupError(plugin_error(ref, "the plugin listed its context events as invalid JSON"));
    for (const auto& event : events) {
      if (!event.is_string()) continue;
      const std::string_view key = event.get_ref<const std::string&>();
      const size_t colon = key.find(':');
      if (colon == std::string_view::npos) continue;
      if (auto index = event_index(key.substr(0, colon), key.substr(colon + 1)))
        plugin->from_context_[index->first][index->second] = true;
    }
  }
  static std::atomic<uint64_t> loaded{0};
  plugin->id_ = ++loaded;
  return plugin;
}

bool AuthPlugin::listed(std::string_view resource, std::string_view action) const {
  if (handlers_.empty()) return false;
  const std::string r(resource), a(action);
  return handlers_.count(r + ":" + a) || handlers_.count(r + ":*") || handlers_.count("*:" + a) || handlers_.count("*:*");
}

bool AuthPlugin::has_handler(std::string_view resource, std::string_view action) const {
  if (auto index = event_index(resource, action)) return resolved_[index->first][index->second];
  return listed(resource, action);
}

bool AuthPlugin::decides_from_context(std::string_view resource, std::string_view action) const {
  auto index = event_index(resource, action);
  return index && from_context_[index->first][index->second];
}

AuthPlugin::Asked AuthPlugin::asked(std::string_view resource, std::string_view action) const {
  if (auto index = event_index(resource, action))
    return {resolved_[index->first][index->second], from_context_[index->first][index->second],
            static_cast<int>(index->first * 6 + index->second)};
  return {listed(resource, action), false, -1};
}

AuthzDecision AuthPlugin::authorize(const User& user, std::string_view resource, std::string_view action,
                                    json& value) const noexcept {
  try {
    const Asked ask = asked(resource, action);
    if (!ask.handler) {
      AuthzDecision d;
      d.kind = AuthzDecision::Kind::allowed;
      return d;
    }
    std::string scratch;
    const std::string& user_text = serialized_user(user, scratch);
    if (!ask.context) return ask_plugin(user_text, resource, action, &value);
    // Decided from the context alone: the same user gets the same answer, asked once per thread.
    Remembered& last = t_remembered[static_cast<size_t>(ask.event)];
    if (last.plugin == id_ && last.user == user_text) return last.decision;
    AuthzDecision d = ask_plugin(user_text, resource, action, nullptr);
    if (d.kind != AuthzDecision::Kind::failed) {
      last.plugin = 0;
      last.user = user_text;
      last.decision = d;
      last.plugin = id_;
    }
    return d;
  } catch (const std::exception& e) {
    AuthzDecision d;
    d.kind = AuthzDecision::Kind::failed;
    d.reason = std::string("authorize: ") + e.what();
    return d;
  }
}

// One call of the plugin's authorize. `value` is null for an event decided from the context
// alone: none is sent, and a "value" written back is ignored.
AuthzDecision AuthPlugin::ask_plugin(const std::string& user_text, std::string_view resource, std::string_view action,
                                     json* value) const {
  AuthzDecision d;
  const std::string value_text = value ? value->dump(-1, ' ', false, json::error_handler_t::replace) : std::string();
  lg_authz_request raw{};
  raw.struct_size = sizeof(lg_authz_request);
  raw.resource = HostSink::str(resource);
  raw.action = HostSink::str(action);
  raw.user_json = HostSink::str(user_text);
  raw.value_json = HostSink::str(value_text);
  CallSink& sink = CallSink::fresh();
  const int32_t rc = descriptor_->authorize(instance_, &raw, sink.get());
  if (rc == LG_DENIED && sink.http_error) {
    d.kind = AuthzDecision::Kind::rejected;
    d.status = sink.http_error->status;
    d.detail = sink.http_error->detail;
    d.headers = sink.headers;
    if (d.status < 400 || d.status > 599) {
      d.kind = AuthzDecision::Kind::failed;
      d.reason = "authorization handler raised non-error status " + std::to_string(d.status);
    }
    return d;
  }
  if (rc != LG_OK) {
    d.reason = "authorization handler failed: " + (sink.failure.empty() ? "no reason given" : sink.failure);
    return d;
  }
  // No "value": the handler left it as it was sent.
  if (sink.value.set && value) {
    json parsed = json::parse(sink.value.text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      d.reason = "authorization handler returned an invalid value";
      return d;
    }
    if (holds_nul(parsed)) {
      d.reason = "authorization handler returned a value holding a NUL character, which no database stores";
      return d;
    }
    *value = std::move(parsed);
  }
  if (sink.filter.set) {
    LastFilter& last = t_last_filter;
    if (!last.filter || last.text != sink.filter.text) {
      last.filter.reset();
      json parsed = json::parse(sink.filter.text, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        d.reason = "authorization handler returned a filter that is not an object";
        return d;
      }
      if (holds_nul(parsed)) {
        d.reason = "authorization handler returned a filter holding a NUL character, which no database stores";
        return d;
      }
      last.text = sink.filter.text;
      last.filter = std::make_shared<const json>(std::move(parsed));
    }
    d.filter = last.filter;
  }
  d.kind = AuthzDecision::Kind::allowed;
  return d;
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
    std::shared_ptr<const User> user;
    AuthDecision d = authenticate(raw, user);
    if (user) d.user = *user;
    return d;
  } catch (const std::exception& e) {
    return failed(std::string("authenticate: ") + e.what());
  } catch (...) {
    return failed("authenticate: unknown error");
  }
}

AuthDecision AuthPlugin::authenticate(const lg_auth_request& raw, std::shared_ptr<const User>& user) const noexcept {
  try {
    CallSink& sink = CallSink::fresh();
    const int32_t rc = descriptor_->authenticate(instance_, &raw, sink.get());
    if (rc == LG_DENIED && sink.http_error) {
      const auto& error = *sink.http_error;
      if (error.status < 400 || error.status > 599)
        return failed(fmt::format("authenticate raised HTTP status {}, which is not an error status", error.status));
      AuthDecision d;
      d.kind = AuthDecision::Kind::rejected;
      d.status = error.status;
      d.detail = error.detail;
      d.headers = sink.headers;
      return d;
    }
    if (rc != LG_OK) return failed("authenticate failed: " + (sink.failure.empty() ? "no reason given" : sink.failure));
    if (!sink.user.set) return failed("authenticate returned no user");
    LastUser& last = t_last_user;
    if (!last.user || last.text != sink.user.text) {
      last.user.reset();
      std::string why;
      const json returned = json::parse(sink.user.text, nullptr, /*allow_exceptions=*/false);
      if (returned.is_discarded()) return failed("authenticate returned invalid JSON");
      if (holds_nul(returned)) return failed("authenticate returned a user holding a NUL character, which no database stores");
      auto normalized = normalize_user(returned, why);
      if (!normalized) return failed(why);
      last.text = sink.user.text;
      last.user = std::make_shared<const User>(std::move(*normalized));
    }
    user = last.user;
    AuthDecision d;
    d.kind = AuthDecision::Kind::allowed;
    return d;
  } catch (const std::exception& e) {
    return failed(std::string("authenticate: ") + e.what());
  } catch (...) {
    return failed("authenticate: unknown error");
  }
}

}  // namespace lgs
