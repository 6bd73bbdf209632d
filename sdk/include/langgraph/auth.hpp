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
#include <array>
#include <cctype>
#include <cstring>
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
  // ASCII case-insensitive: header names and auth schemes are ASCII tokens.
  static bool iequals(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
  }
  static std::optional<std::string_view> find(const lg_pair* pairs, size_t count, std::string_view name,
                                              bool ignore_case) {
    for (size_t i = 0; i < count; ++i) {
      std::string_view key = detail::from_lg(pairs[i].name);
      if (key.size() == name.size() && (key == name || (ignore_case && iequals(key, name))))
        return detail::from_lg(pairs[i].value);
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
  // The filter; {} unless kind() is filter.
  const json& filter() const {
    static const json none = json::object();
    return kind_ == Kind::filter ? filter_ : none;
  }

 private:
  Kind kind_;
  json filter_;
};

inline Result allow() { return Result(true); }
inline Result deny() { return Result(false); }
// Only resources whose metadata matches: {"owner": "alice"}, {"tags": {"$contains": "x"}},
// {"$or": [...]}; operators $eq, $ne, $in, $contains, $or, $and.
inline Result filter(json conditions) { return Result::with_filter(std::move(conditions)); }

using AuthorizeHandler = std::function<Result(const AuthContext&, Value&)>;
// A handler that decides from the context alone (the user, its permissions, the resource and
// the action), for the events that only filter or refuse. The operation's value is not sent to
// it, and its answer is a function of the context: the server may reuse the answer it got for a
// user and an event instead of asking again, so it must not depend on anything else (the time,
// a counter, an outside service) nor be relied on to run on every operation.
using ContextHandler = std::function<Result(const AuthContext&)>;

// The actions whose value an AuthorizeHandler reads or changes, when not all of them: on the
// others it gets a null value, the server sends none, and it decides from the context alone as
// a ContextHandler does. See Auth::on.
struct ValueActions {
  std::vector<std::string> actions;
};
inline ValueActions value_for(std::vector<std::string> actions) { return ValueActions{std::move(actions)}; }

namespace detail {

// The authorization events: each resource with its actions.
struct ResourceActions {
  std::string_view resource;
  std::array<std::string_view, 6> actions;
  size_t count;
};
inline constexpr std::array<ResourceActions, 4> kEvents{{
    {"threads", {"create", "read", "update", "delete", "search", "create_run"}, 6},
    {"assistants", {"create", "read", "update", "delete", "search"}, 5},
    {"crons", {"create", "read", "update", "delete", "search"}, 5},
    {"store", {"put", "get", "search", "list_namespaces", "delete"}, 5},
}};

// True when both are the same JSON, down to the type of every number (1 and 1.0 are not the same
// here, as they are not serialized the same).
inline bool same_json(const json& a, const json& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::object: {
      const auto& x = a.get_ref<const json::object_t&>();
      const auto& y = b.get_ref<const json::object_t&>();
      return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](const auto& p, const auto& q) {
               return p.first == q.first && same_json(p.second, q.second);
             });
    }
    case json::value_t::array: {
      const auto& x = a.get_ref<const json::array_t&>();
      const auto& y = b.get_ref<const json::array_t&>();
      return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), same_json);
    }
    case json::value_t::number_float: {
      const double x = a.get<double>(), y = b.get<double>();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default:
      return a == b;
  }
}

inline bool same_user(const User& a, const User& b) {
  return a.identity == b.identity && a.display_name == b.display_name && a.is_authenticated == b.is_authenticated &&
         a.permissions == b.permissions && same_json(a.fields, b.fields);
}

// What authenticate may return: a User, or just an identity string.
class Authenticated {
 public:
  Authenticated(User user) : user_(std::move(user)), is_user_(true) {}
  Authenticated(std::string identity) : identity_(std::move(identity)) {}
  Authenticated(const char* identity) : identity_(identity) {}
  json to_json() const { return is_user_ ? user_.to_json() : json(identity_); }

  // to_json() serialized. A handler answers with the same user request after request: the text
  // of the last one is kept per thread and reused while the handler returns an equal user.
  const std::string& text() const {
    struct Last {
      bool valid = false;
      bool is_user = false;
      User user;
      std::string identity;
      std::string text;
    };
    thread_local Last last;
    if (last.valid && last.is_user == is_user_ && (is_user_ ? same_user(last.user, user_) : last.identity == identity_))
      return last.text;
    last.valid = false;
    last.text = to_json().dump();
    if (is_user_) last.user = user_;
    else last.identity = identity_;
    last.is_user = is_user_;
    last.valid = true;
    return last.text;
  }

 private:
  User user_;
  std::string identity_;
  bool is_user_ = false;
};
}  // namespace detail

using AuthenticateHandler = std::function<detail::Authenticated(const Request&)>;

class Auth {
 public:
  Auth() { resolve(); }

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
  // A handler taking only the context (ContextHandler) never receives the operation's value; one
  // given value_for({"create", ...}) receives it for those actions only (null for the others).
  Auth& on(AuthorizeHandler handler) { return on("*", std::move(handler)); }
  Auth& on(const std::string& event, AuthorizeHandler handler) { return on(std::vector<std::string>{event}, std::move(handler)); }
  Auth& on(const std::vector<std::string>& events, AuthorizeHandler handler) { return add(events, std::move(handler), true, {}); }
  Auth& on(AuthorizeHandler handler, ValueActions reads) { return on("*", std::move(handler), std::move(reads)); }
  Auth& on(const std::string& event, AuthorizeHandler handler, ValueActions reads) {
    return on(std::vector<std::string>{event}, std::move(handler), std::move(reads));
  }
  Auth& on(const std::vector<std::string>& events, AuthorizeHandler handler, ValueActions reads) {
    for (const auto& action : reads.actions) normalize_event("*:" + action);  // throws on an unknown action
    return add(events, std::move(handler), false, std::move(reads.actions));
  }
  Auth& on(ContextHandler handler) { return on("*", std::move(handler)); }
  Auth& on(const std::string& event, ContextHandler handler) { return on(std::vector<std::string>{event}, std::move(handler)); }
  Auth& on(const std::vector<std::string>& events, ContextHandler handler) {
    return add(events, [decide = std::move(handler)](const AuthContext& ctx, Value&) { return decide(ctx); }, false, {});
  }

  // The handler that decides `resource`:`action`, or null when everything is allowed. Known
  // events are resolved once, when handlers are registered.
  const AuthorizeHandler* handler_for(std::string_view resource, std::string_view action) const {
    const int index = index_for(resource, action);
    return index < 0 ? nullptr : &handlers_[static_cast<size_t>(index)].handler;
  }
  // Whether the handler for `resource`:`action` reads the operation's value (false for a
  // ContextHandler or an action outside its value_for list; true when there is no handler).
  bool reads_value(std::string_view resource, std::string_view action) const {
    const int index = index_for(resource, action);
    return index < 0 || handlers_[static_cast<size_t>(index)].reads(action);
  }
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    for (const auto& [key, index] : events_) out.push_back(key);
    return out;
  }
  // Every known "resource:action" decided from the context alone (by a ContextHandler, or by a
  // handler whose value_for list leaves the action out): the server sends no value for those,
  // and may reuse their answers per user.
  std::vector<std::string> context_events() const {
    std::vector<std::string> out;
    for (size_t r = 0; r < detail::kEvents.size(); ++r)
      for (size_t a = 0; a < detail::kEvents[r].count; ++a) {
        const int index = resolved_[r][a];
        if (index >= 0 && !handlers_[static_cast<size_t>(index)].reads(detail::kEvents[r].actions[a]))
          out.push_back(std::string(detail::kEvents[r].resource) + ":" + std::string(detail::kEvents[r].actions[a]));
      }
    return out;
  }

 private:
  struct Registered {
    AuthorizeHandler handler;
    bool reads_every_value;
    std::vector<std::string> value_actions;  // the actions whose value it reads, when not every one
    bool reads(std::string_view action) const {
      return reads_every_value || std::find(value_actions.begin(), value_actions.end(), action) != value_actions.end();
    }
  };

  Auth& add(const std::vector<std::string>& events, AuthorizeHandler handler, bool reads_every_value,
            std::vector<std::string> value_actions) {
    const int index = static_cast<int>(handlers_.size());
    handlers_.push_back(Registered{std::move(handler), reads_every_value, std::move(value_actions)});
    try {
      for (const auto& event : events) {
        const std::string key = normalize_event(event);
        if (!events_.emplace(key, index).second) throw std::invalid_argument("a handler for \"" + key + "\" is already set");
      }
    } catch (...) {
      resolve();
      throw;
    }
    resolve();
    return *this;
  }
  int index_for(std::string_view resource, std::string_view action) const {
    for (size_t r = 0; r < detail::kEvents.size(); ++r) {
      if (detail::kEvents[r].resource != resource) continue;
      for (size_t a = 0; a < detail::kEvents[r].count; ++a)
        if (detail::kEvents[r].actions[a] == action) return resolved_[r][a];
      break;
    }
    return lookup(resource, action);
  }
  // The index of the most specific handler for `resource`:`action`; -1 when there is none.
  int lookup(std::string_view resource, std::string_view action) const {
    const std::string r(resource), a(action);
    for (const std::string& key : {r + ":" + a, r + ":*", "*:" + a, std::string("*:*")}) {
      auto it = events_.find(key);
      if (it != events_.end()) return it->second;
    }
    return -1;
  }
  void resolve() {
    for (size_t r = 0; r < detail::kEvents.size(); ++r)
      for (size_t a = 0; a < resolved_[r].size(); ++a)
        resolved_[r][a] = a < detail::kEvents[r].count ? lookup(detail::kEvents[r].resource, detail::kEvents[r].actions[a]) : -1;
  }

  static std::string normalize_event(const std::string& event) {
    const auto colon = event.find(':');
    const std::string resource = event.substr(0, colon);
    const std::string action = colon == std::string::npos ? "*" : event.substr(colon + 1);
    auto has = [&](const detail::ResourceActions& r) {
      return std::find(r.actions.begin(), r.actions.begin() + static_cast<std::ptrdiff_t>(r.count), action) !=
             r.actions.begin() + static_cast<std::ptrdiff_t>(r.count);
    };
    if (resource == "*") {
      bool known = action == "*";
      for (const auto& r : detail::kEvents) known |= has(r);
      if (!known) throw std::invalid_argument("unknown action in authorization event \"" + event + "\"");
      return "*:" + action;
    }
    auto it = std::find_if(detail::kEvents.begin(), detail::kEvents.end(),
                           [&](const detail::ResourceActions& r) { return r.resource == resource; });
    if (it == detail::kEvents.end()) throw std::invalid_argument("unknown resource in authorization event \"" + event + "\"");
    if (action != "*" && !has(*it)) throw std::invalid_argument("unknown action in authorization event \"" + event + "\"");
    return resource + ":" + action;
  }

  AuthenticateHandler authenticate_;
  std::map<std::string, int> events_;       // "resource:action" -> index in handlers_
  std::vector<Registered> handlers_;        // in registration order
  std::array<std::array<int, 6>, detail::kEvents.size()> resolved_{};  // kEvents -> index, -1: none
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
    const std::string& text = result.text();
    out->set_json(out->host, langgraph::detail::to_lg("user"), langgraph::detail::to_lg(text));
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

// The context of an authorization call. The server sends the same user JSON for every operation
// of a request, and of the requests that follow from the same caller: the user parsed from the
// last text is kept per thread and reused while the text is the same.
inline const AuthContext& context_for(std::string_view user_json, std::string_view resource, std::string_view action) {
  struct Last {
    bool valid = false;
    std::string user_json;
    AuthContext ctx;
  };
  thread_local Last last;
  if (!last.valid || last.user_json != user_json) {
    last.valid = false;
    last.ctx.user = user_from_json(json::parse(user_json));
    last.ctx.permissions = last.ctx.user.permissions;
    last.user_json.assign(user_json);
    last.valid = true;
  }
  last.ctx.resource.assign(resource);
  last.ctx.action.assign(action);
  return last.ctx;
}

// The filter serialized. A handler returns the same filter request after request: the text of
// the last one is kept per thread and reused while the filter is the same.
inline const std::string& filter_text(const json& filter) {
  struct Last {
    bool valid = false;
    json filter;
    std::string text;
  };
  thread_local Last last;
  if (last.valid && same_json(last.filter, filter)) return last.text;
  last.valid = false;
  last.text = filter.dump();
  last.filter = filter;
  last.valid = true;
  return last.text;
}

// Writes "value" only when the handler changed it, and "filter" when the handler returned one.
// A handler that does not read the value (a ContextHandler, an action outside its value_for
// list) gets a null one: nothing is parsed, and nothing it does to it is sent back.
inline int32_t authorize(void* instance, const lg_authz_request* request, lg_sink* out) noexcept {
  return langgraph::detail::guarded(out, [&] {
    const auto* auth = static_cast<const Auth*>(instance);
    const std::string_view resource = langgraph::detail::from_lg(request->resource);
    const std::string_view action = langgraph::detail::from_lg(request->action);
    const AuthorizeHandler* handler = auth->handler_for(resource, action);
    if (!handler) return;  // no handler: allowed as is
    const AuthContext& ctx = context_for(langgraph::detail::from_lg(request->user_json), resource, action);
    std::optional<Result> result;
    if (!auth->reads_value(resource, action)) {
      Value none;
      result.emplace((*handler)(ctx, none));
    } else {
      const Value sent = json::parse(langgraph::detail::from_lg(request->value_json));
      Value value = sent;
      result.emplace((*handler)(ctx, value));
      if (result->kind() != Result::Kind::deny && !same_json(value, sent))
        langgraph::detail::set_json(out, "value", value);
    }
    if (result->kind() == Result::Kind::deny) throw HttpException(403, "Forbidden");
    if (result->kind() == Result::Kind::filter) {
      const std::string& text = filter_text(result->filter());
      out->set_json(out->host, langgraph::detail::to_lg("filter"), langgraph::detail::to_lg(text));
    }
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
      // Tells the server which events have handlers, so it asks only about those, and which are
      // decided from the context alone, so it sends them no value and may reuse their answers.
      if (instance) {
        langgraph::detail::set_json(err, "handlers", static_cast<Auth*>(instance)->events());
        langgraph::detail::set_json(err, "context_events", static_cast<Auth*>(instance)->context_events());
      }
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
