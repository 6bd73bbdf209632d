// Writing an auth plugin: an Auth object with an authenticate handler, exported with one macro.
//
//   #include <langgraph/auth.hpp>
//   using namespace langgraph::auth;
//
//   static Auth make() {
//     Auth auth;
//     auth.authenticate([](const Request& req) -> User {
//       if (req.bearer_token() != "secret") throw HttpException(401, "Invalid token");
//       return User{.identity = "user1"};
//     });
//     return auth;
//   }
//   LANGGRAPH_EXPORT_AUTH(auth, make)   // langgraph.json: "auth": {"path": "./auth.so:auth"}
//
// The factory may also take `const json& config`: the keys of langgraph.json's "auth" object
// that the server does not read itself (everything but path, disable_studio_auth, openapi, cache).
#pragma once

#include <langgraph/detail/boundary.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace langgraph::auth {

using langgraph::HttpException;
using langgraph::json;

// The request as authenticate sees it: a view, valid only during the call.
class Request {
 public:
  explicit Request(const lg_auth_request& raw) : raw_(raw) {}

  std::string_view method() const { return detail::from_lg(raw_.method); }
  std::string_view path() const { return detail::from_lg(raw_.path); }
  // The peer's address as the socket reports it (never taken from a header).
  std::string_view client_address() const { return detail::from_lg(raw_.client_address); }

  // A header's value, looked up case-insensitively; nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const {
    return find(raw_.headers, raw_.header_count, name, /*ignore_case=*/true);
  }
  std::optional<std::string_view> query_param(std::string_view name) const {
    return find(raw_.query_params, raw_.query_param_count, name, false);
  }
  std::optional<std::string_view> path_param(std::string_view name) const {
    return find(raw_.path_params, raw_.path_param_count, name, false);
  }
  // Every header as (lower-case name, value), in the order received.
  std::vector<std::pair<std::string_view, std::string_view>> headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> out;
    for (size_t i = 0; i < raw_.header_count; ++i)
      out.emplace_back(detail::from_lg(raw_.headers[i].name), detail::from_lg(raw_.headers[i].value));
    return out;
  }

  // The Authorization header; empty when absent.
  std::string_view authorization() const { return header("authorization").value_or(""); }

  // The token of "Authorization: Bearer <token>" (scheme case-insensitive); empty otherwise.
  std::string_view bearer_token() const {
    std::string_view value = authorization();
    constexpr std::string_view scheme = "bearer ";
    if (value.size() <= scheme.size() || !iequals(value.substr(0, scheme.size()), scheme)) return {};
    value.remove_prefix(scheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    return value.find(' ') == std::string_view::npos ? value : std::string_view();
  }

 private:
  static bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  }
  static std::optional<std::string_view> find(const lg_pair* pairs, size_t count, std::string_view name,
                                              bool ignore_case) {
    for (size_t i = 0; i < count; ++i) {
      std::string_view key = detail::from_lg(pairs[i].name);
      if (ignore_case ? iequals(key, name) : key == name) return detail::from_lg(pairs[i].value);
    }
    return std::nullopt;
  }

  const lg_auth_request& raw_;
};

// Who made the request. Custom fields (email, org_id, tokens...) reach graph runs in
// config.configurable.langgraph_auth_user.
struct User {
  std::string identity;
  std::string display_name;  // defaults to identity
  bool is_authenticated = true;
  std::vector<std::string> permissions;
  json fields = json::object();

  json to_json() const {
    json out = fields.is_object() ? fields : json::object();
    out["identity"] = identity;
    out["display_name"] = display_name.empty() ? identity : display_name;
    out["is_authenticated"] = is_authenticated;
    out["permissions"] = permissions;
    return out;
  }
};

// LangGraph Studio's user, when the server lets Studio in (see docs/plugins.md).
inline bool is_studio_user(const User& user) {
  return user.identity == "langgraph-studio-user" ||
         (user.fields.is_object() && user.fields.value("kind", "") == "StudioUser");
}

// Who asks to do what, for authorization handlers.
struct AuthContext {
  User user;
  std::vector<std::string> permissions;
  std::string resource;  // "threads", "assistants", "crons", "store"
  std::string action;    // "create", "read", "update", "delete", "search", "create_run", "put", "get", ...
};

// The operation's payload (thread_id, metadata, namespace...). Handlers may change it: the
// server uses the changed value, e.g. metadata stamped with an owner or a rewritten namespace.
using Value = json;

// What an authorization handler decides: allow, deny (403 Forbidden), or allow only resources
// whose metadata matches a filter. Returning true/false means allow/deny.
class Result {
 public:
  enum class Kind { allow, deny, filter };
  Result(bool allowed) : kind_(allowed ? Kind::allow : Kind::deny) {}
  static Result with_filter(json filter) {
    Result r(true);
    r.kind_ = Kind::filter;
    r.filter_ = std::move(filter);
    return r;
  }
  Kind kind() const { return kind_; }
  const json& filter() const { return filter_; }

 private:
  Kind kind_;
  json filter_ = json::object();
};

inline Result allow() { return Result(true); }
inline Result deny() { return Result(false); }
// Only resources whose metadata matches: {"owner": "alice"}, {"tags": {"$contains": "x"}},
// {"$or": [...]}; operators $eq, $ne, $in, $contains, $or, $and.
inline Result filter(json conditions) { return Result::with_filter(std::move(conditions)); }

using AuthorizeHandler = std::function<Result(const AuthContext&, Value&)>;

namespace detail {
// What authenticate may return: a User, or just an identity string.
class Authenticated {
 public:
  Authenticated(User user) : json_(user.to_json()) {}
  Authenticated(std::string identity) : json_(std::move(identity)) {}
  Authenticated(const char* identity) : json_(identity) {}
  const json& to_json() const { return json_; }

 private:
  json json_;
};
}  // namespace detail

using AuthenticateHandler = std::function<detail::Authenticated(const Request&)>;

class Auth {
 public:
  // Registers the handler run on every request but /ok, /info, /docs, /openapi.json and CORS
  // preflights. Throw HttpException to reject; anything else thrown becomes a 500.
  Auth& authenticate(AuthenticateHandler handler) {
    authenticate_ = std::move(handler);
    return *this;
  }
  const AuthenticateHandler& authenticate_handler() const { return authenticate_; }

  // Registers an authorization handler. Events: "*" (every resource and action; same as
  // on(handler)), "threads" (every action on threads), "threads:create", "*:create" (create on
  // every resource), or a list of these. For each operation exactly one handler runs, the most
  // specific: resource:action, then resource, then *:action, then the global one; none allows.
  Auth& on(AuthorizeHandler handler) { return on("*", std::move(handler)); }
  Auth& on(const std::string& event, AuthorizeHandler handler) { return on(std::vector<std::string>{event}, std::move(handler)); }
  Auth& on(const std::vector<std::string>& events, AuthorizeHandler handler) {
    for (const auto& event : events) {
      const std::string key = normalize_event(event);
      if (!handlers_.emplace(key, handler).second) throw std::invalid_argument("a handler for \"" + key + "\" is already set");
    }
    return *this;
  }
  // The handler that decides `resource`:`action`, or null when everything is allowed.
  const AuthorizeHandler* handler_for(const std::string& resource, const std::string& action) const {
    for (const std::string& key : {resource + ":" + action, resource + ":*", "*:" + action, std::string("*:*")}) {
      auto it = handlers_.find(key);
      if (it != handlers_.end()) return &it->second;
    }
    return nullptr;
  }
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    for (const auto& [key, handler] : handlers_) out.push_back(key);
    return out;
  }

 private:
  static std::string normalize_event(const std::string& event) {
    static const std::map<std::string, std::vector<std::string>> kActions = {
        {"threads", {"create", "read", "update", "delete", "search", "create_run"}},
        {"assistants", {"create", "read", "update", "delete", "search"}},
        {"crons", {"create", "read", "update", "delete", "search"}},
        {"store", {"put", "get", "search", "list_namespaces", "delete"}}};
    const auto colon = event.find(':');
    const std::string resource = event.substr(0, colon);
    const std::string action = colon == std::string::npos ? "*" : event.substr(colon + 1);
    if (resource == "*") {
      bool known = action == "*";
      for (const auto& [r, actions] : kActions)
        known |= std::find(actions.begin(), actions.end(), action) != actions.end();
      if (!known) throw std::invalid_argument("unknown action in authorization event \"" + event + "\"");
      return "*:" + action;
    }
    auto it = kActions.find(resource);
    if (it == kActions.end()) throw std::invalid_argument("unknown resource in authorization event \"" + event + "\"");
    if (action != "*" && std::find(it->second.begin(), it->second.end(), action) == it->second.end())
      throw std::invalid_argument("unknown action in authorization event \"" + event + "\"");
    return resource + ":" + action;
  }

  AuthenticateHandler authenticate_;
  std::map<std::string, AuthorizeHandler> handlers_;
};

// Compares secrets in time independent of where they differ.
inline bool constant_time_equals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace detail {

inline int32_t authenticate(void* instance, const lg_auth_request* request, lg_sink* out) noexcept {
  return langgraph::detail::guarded(out, [&] {
    const auto& handler = static_cast<const Auth*>(instance)->authenticate_handler();
    const Authenticated result = handler(Request(*request));
    langgraph::detail::set_json(out, "user", result.to_json());
  });
}

inline User user_from_json(const json& object) {
  User user;
  user.identity = object.value("identity", "");
  user.display_name = object.value("display_name", user.identity);
  user.is_authenticated = object.value("is_authenticated", true);
  if (object.contains("permissions") && object["permissions"].is_array())
    user.permissions = object["permissions"].get<std::vector<std::string>>();
  user.fields = json::object();
  for (const auto& [key, value] : object.items())
    if (key != "identity" && key != "display_name" && key != "is_authenticated" && key != "permissions")
      user.fields[key] = value;
  return user;
}

inline int32_t authorize(void* instance, const lg_authz_request* request, lg_sink* out) noexcept {
  return langgraph::detail::guarded(out, [&] {
    const auto* auth = static_cast<const Auth*>(instance);
    AuthContext ctx;
    ctx.resource = std::string(langgraph::detail::from_lg(request->resource));
    ctx.action = std::string(langgraph::detail::from_lg(request->action));
    const AuthorizeHandler* handler = auth->handler_for(ctx.resource, ctx.action);
    if (!handler) return;  // no handler: allowed as is
    ctx.user = user_from_json(json::parse(langgraph::detail::from_lg(request->user_json)));
    ctx.permissions = ctx.user.permissions;
    Value value = json::parse(langgraph::detail::from_lg(request->value_json));
    const Result result = (*handler)(ctx, value);
    if (result.kind() == Result::Kind::deny) throw HttpException(403, "Forbidden");
    langgraph::detail::set_json(out, "value", value);
    if (result.kind() == Result::Kind::filter) langgraph::detail::set_json(out, "filter", result.filter());
  });
}

template <auto Factory>
const lg_auth_plugin* descriptor(const char* name) noexcept {
  static lg_auth_plugin plugin = [name] {
    lg_auth_plugin p{};
    p.abi_version = LG_ABI_VERSION;
    p.struct_size = sizeof(lg_auth_plugin);
    p.name = name;
    p.create = [](lg_str config, lg_sink* err) noexcept -> void* {
      void* instance = langgraph::detail::create_instance<Auth, Factory>(config, err);
      if (instance && !static_cast<Auth*>(instance)->authenticate_handler()) {
        delete static_cast<Auth*>(instance);
        err->set_failure(err->host, langgraph::detail::to_lg("the Auth object has no authenticate handler"));
        return nullptr;
      }
      // Tells the server which events have handlers, so it asks only about those.
      if (instance) langgraph::detail::set_json(err, "handlers", static_cast<Auth*>(instance)->events());
      return instance;
    };
    p.destroy = &langgraph::detail::destroy_instance<Auth>;
    p.authenticate = &authenticate;
    p.authorize = &authorize;
    return p;
  }();
  return &plugin;
}

}  // namespace detail
}  // namespace langgraph::auth

// Exports `symbol` for langgraph.json ("lib.so:symbol"); `factory` returns the Auth object.
#define LANGGRAPH_EXPORT_AUTH(symbol, factory)                        \
  LANGGRAPH_PLUGIN_API const lg_auth_plugin* symbol(void) {           \
    return ::langgraph::auth::detail::descriptor<&factory>(#symbol); \
  }
