// Writing a graph plugin: declare channels, nodes and edges; the server runs the supersteps.
//
//   #include <langgraph/graph.hpp>
//   using namespace langgraph;
//
//   static StateGraph make() {
//     StateGraph g;
//     g.channel("messages", reducers::add_messages);
//     g.node("call_model", [](const State& state, const RunConfig& config) -> Update {
//       return {{"messages", {ai_message("Hello " + config.auth_user().identity() + "!")}}};
//     });
//     g.edge(START, "call_model").edge("call_model", END);
//     return g;
//   }
//   LANGGRAPH_EXPORT_GRAPH(graph, make)   // langgraph.json: "graphs": {"agent": "./agent.so:graph"}
//
// Node and router functions must be thread-safe: runs of the same graph execute concurrently.
#pragma once

#include <langgraph/detail/boundary.hpp>

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace langgraph {

using State = json;   // the whole state: channel name -> value
using Update = json;  // a partial state: channel name -> value, merged by each channel's reducer

inline constexpr const char* START = "__start__";
inline constexpr const char* END = "__end__";

// How a channel merges the updates written to it. The runtime in the server applies them.
enum class Reducer { last_value, append, add_messages };
namespace reducers {
inline constexpr Reducer last_value = Reducer::last_value;      // the newest write wins
inline constexpr Reducer append = Reducer::append;              // lists are concatenated
inline constexpr Reducer add_messages = Reducer::add_messages;  // LangGraph's add_messages
}  // namespace reducers

inline const char* reducer_name(Reducer r) {
  switch (r) {
    case Reducer::append: return "append";
    case Reducer::add_messages: return "add_messages";
    default: return "last_value";
  }
}

// The authenticated user a run acts for: config.configurable.langgraph_auth_user.
class AuthUser {
 public:
  explicit AuthUser(const json& raw) : raw_(raw) {}
  std::string identity() const { return value("identity", std::string()); }
  std::string display_name() const { return value("display_name", identity()); }
  std::vector<std::string> permissions() const {
    return raw_.is_object() && raw_.contains("permissions") ? raw_["permissions"].get<std::vector<std::string>>()
                                                            : std::vector<std::string>{};
  }
  // A custom field returned by authenticate (email, github_token...), or `fallback`.
  template <typename T>
  T value(const std::string& key, T fallback) const {
    if (!raw_.is_object() || !raw_.contains(key) || raw_[key].is_null()) return fallback;
    try {
      return raw_[key].get<T>();
    } catch (const json::exception&) {
      return fallback;
    }
  }
  std::string value(const std::string& key, const char* fallback) const { return value(key, std::string(fallback)); }
  bool exists() const { return raw_.is_object(); }
  const json& raw() const { return raw_; }

 private:
  const json& raw_;
};

// The run's config, as LangGraph passes it to nodes.
class RunConfig {
 public:
  explicit RunConfig(json raw) : raw_(std::move(raw)) {
    if (!raw_.is_object()) raw_ = json::object();
    if (!raw_.contains("configurable") || !raw_["configurable"].is_object()) raw_["configurable"] = json::object();
  }
  const json& configurable() const { return raw_["configurable"]; }
  AuthUser auth_user() const {
    static const json none;
    const json& c = configurable();
    return AuthUser(c.contains("langgraph_auth_user") ? c["langgraph_auth_user"] : none);
  }
  std::string thread_id() const { return configurable().value("thread_id", std::string()); }
  std::string run_id() const { return configurable().value("run_id", std::string()); }
  const json& raw() const { return raw_; }

 private:
  json raw_;
};

// Messages in LangGraph's shape. add_messages fills in ids and the remaining fields.
inline json ai_message(std::string content) { return json{{"type", "ai"}, {"content", std::move(content)}}; }
inline json human_message(std::string content) { return json{{"type", "human"}, {"content", std::move(content)}}; }
inline json system_message(std::string content) { return json{{"type", "system"}, {"content", std::move(content)}}; }

// The text of a message: its content string, or the text parts of a content list.
inline std::string message_text(const json& message) {
  const json& content = message.is_object() && message.contains("content") ? message["content"] : message;
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (content.is_array())
    for (const auto& part : content)
      if (part.is_object() && part.value("type", "") == "text") text += part.value("text", "");
  return text;
}

// The newest message of `type` ("human", "ai", ...) in a messages channel, or null. A
// reference into `state`: valid while the state is.
inline const json& last_message(const State& state, const std::string& type, const std::string& channel = "messages") {
  static const json none;
  auto found = state.find(channel);
  if (found == state.end() || !found->is_array()) return none;
  for (auto it = found->rbegin(); it != found->rend(); ++it)
    if (it->is_object() && it->value("type", "") == type) return *it;
  return none;
}

namespace detail {
// What a node call can reach while it runs: its resume values and the host's sink.
struct NodeScope {
  const json* resume = nullptr;  // a list, or null
  size_t used = 0;
  lg_sink* sink = nullptr;
  std::optional<json> interrupted;
};
inline thread_local NodeScope* current_node = nullptr;
struct Interrupted {};  // unwinds the node after interrupt(); not an std::exception on purpose
}  // namespace detail

// Pauses the run for a human: the first time, the run stops with `value` as the interrupt
// (thread status "interrupted"); when the client resumes with Command{resume: x}, the node
// runs again from its start and this call returns x. Call it only from node code.
inline json interrupt(json value) {
  detail::NodeScope* scope = detail::current_node;
  if (!scope) throw std::logic_error("interrupt() called outside a node");
  if (scope->resume && scope->resume->is_array() && scope->used < scope->resume->size())
    return (*scope->resume)[scope->used++];
  scope->interrupted = std::move(value);
  throw detail::Interrupted{};
}

// Sends a "custom" stream event (stream_mode "custom") from node code.
class StreamWriter {
 public:
  void operator()(const json& payload) const {
    detail::NodeScope* scope = detail::current_node;
    if (!scope || !scope->sink || scope->sink->struct_size < sizeof(lg_sink) || !scope->sink->emit_custom) return;
    const std::string text = payload.dump();
    scope->sink->emit_custom(scope->sink->host, detail::to_lg(text));
  }
};
inline StreamWriter get_stream_writer() { return {}; }

// The server's store (namespaced JSON documents, shared across threads), from node code.
// Calls from graphs are not subject to the auth plugin's store handlers.
class Store {
 public:
  // The item {namespace, key, value, created_at, updated_at}, or null.
  json get(const std::vector<std::string>& ns, const std::string& key) const {
    return call("get", {{"namespace", ns}, {"key", key}});
  }
  void put(const std::vector<std::string>& ns, const std::string& key, const json& value) const {
    call("put", {{"namespace", ns}, {"key", key}, {"value", value}});
  }
  void remove(const std::vector<std::string>& ns, const std::string& key) const {
    call("delete", {{"namespace", ns}, {"key", key}});
  }
  // Items under a namespace prefix whose value matches `filter` (equality), newest first.
  json search(const std::vector<std::string>& prefix, const json& filter = json::object(), int limit = 10,
              int offset = 0) const {
    return call("search", {{"namespace_prefix", prefix}, {"filter", filter}, {"limit", limit}, {"offset", offset}});
  }

 private:
  static json call(const char* op, const json& request) {
    detail::NodeScope* scope = detail::current_node;
    if (!scope || !scope->sink || scope->sink->struct_size < sizeof(lg_sink) || !scope->sink->store)
      throw std::logic_error("the store is only available inside a node");
    struct Reply {
      json result;
      std::string failure;  // why the server refused the call
    } answer;
    lg_sink reply{};
    reply.struct_size = sizeof(lg_sink);
    reply.host = &answer;
    reply.set_json = [](void* host, lg_str, lg_str text) {
      static_cast<Reply*>(host)->result = json::parse(detail::from_lg(text));
    };
    reply.set_http_error = [](void*, int32_t, lg_str) {};
    reply.add_header = [](void*, lg_str, lg_str) {};
    reply.set_failure = [](void* host, lg_str message) {
      static_cast<Reply*>(host)->failure = std::string(detail::from_lg(message));
    };
    const std::string text = request.dump();
    if (scope->sink->store(scope->sink->host, detail::to_lg(op), detail::to_lg(text), &reply) != LG_OK)
      throw std::runtime_error(std::string("store ") + op + " failed" +
                               (answer.failure.empty() ? std::string() : ": " + answer.failure));
    return answer.result;
  }
};
inline Store get_store() { return {}; }

using NodeFunction = std::function<Update(const State&, const RunConfig&)>;
// Returns the next node's name (or END); return a json list to fan out to several nodes.
using RouterFunction = std::function<json(const State&, const RunConfig&)>;

class StateGraph {
 public:
  StateGraph& channel(std::string name, Reducer reducer = reducers::last_value) {
    channels_[std::move(name)] = reducer;
    return *this;
  }
  StateGraph& node(std::string name, NodeFunction fn) {
    if (name == START || name == END) throw std::invalid_argument("node name is reserved: " + name);
    if (nodes_.count(name)) throw std::invalid_argument("node already exists: " + name);
    order_.push_back(name);
    nodes_[std::move(name)] = std::move(fn);
    return *this;
  }
  StateGraph& edge(std::string from, std::string to) {
    edges_.emplace_back(std::move(from), std::move(to));
    return *this;
  }
  // After `from`, `router` picks where to go. `destinations` (optional) lists the possible
  // targets so the graph can be drawn.
  StateGraph& conditional_edges(std::string from, RouterFunction router, std::vector<std::string> destinations = {}) {
    Branch b{from + ":" + std::to_string(branches_.size()), std::move(from), std::move(router), std::move(destinations)};
    branches_.push_back(std::move(b));
    return *this;
  }

  // Pauses every run before / after these nodes run (LangGraph's compile-time
  // interrupt_before / interrupt_after); a run can also ask for it in its own payload.
  StateGraph& interrupt_before(std::vector<std::string> nodes) {
    interrupt_before_ = std::move(nodes);
    return *this;
  }
  StateGraph& interrupt_after(std::vector<std::string> nodes) {
    interrupt_after_ = std::move(nodes);
    return *this;
  }

  // The structure the server's runtime executes. Throws std::invalid_argument on a dangling edge.
  json describe() const {
    auto known = [&](const std::string& n, bool as_source) {
      return nodes_.count(n) || (as_source ? n == START : n == END);
    };
    json channels = json::object();
    for (const auto& [name, reducer] : channels_) channels[name] = reducer_name(reducer);
    json edges = json::array();
    for (const auto& [from, to] : edges_) {
      if (!known(from, true)) throw std::invalid_argument("edge from unknown node: " + from);
      if (!known(to, false)) throw std::invalid_argument("edge to unknown node: " + to);
      edges.push_back({from, to});
    }
    json branches = json::array();
    for (const auto& b : branches_) {
      if (!known(b.source, true)) throw std::invalid_argument("conditional edge from unknown node: " + b.source);
      branches.push_back({{"id", b.id}, {"source", b.source}, {"destinations", b.destinations}});
    }
    return {{"channels", channels}, {"nodes", order_}, {"edges", edges}, {"branches", branches},
            {"interrupt_before", interrupt_before_}, {"interrupt_after", interrupt_after_}};
  }

  Update run_node(const std::string& name, const State& state, const RunConfig& config) const {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) throw std::invalid_argument("unknown node: " + name);
    Update update = it->second(state, config);
    return update.is_null() ? json::object() : update;
  }

  json route(const std::string& branch, const State& state, const RunConfig& config) const {
    for (const auto& b : branches_)
      if (b.id == branch) return b.router(state, config);
    throw std::invalid_argument("unknown branch: " + branch);
  }

 private:
  struct Branch {
    std::string id, source;
    RouterFunction router;
    std::vector<std::string> destinations;
  };
  std::map<std::string, Reducer> channels_;
  std::map<std::string, NodeFunction> nodes_;
  std::vector<std::string> order_;
  std::vector<std::pair<std::string, std::string>> edges_;
  std::vector<Branch> branches_;
  std::vector<std::string> interrupt_before_, interrupt_after_;
};

namespace detail {

inline std::string_view view(lg_str s) { return from_lg(s); }
inline json parse(lg_str s) { return s.len ? json::parse(view(s)) : json::object(); }

template <auto Factory>
const lg_graph_plugin* graph_descriptor(const char* name) noexcept {
  static lg_graph_plugin plugin = [name] {
    lg_graph_plugin p{};
    p.abi_version = LG_ABI_VERSION;
    p.struct_size = sizeof(lg_graph_plugin);
    p.name = name;
    p.create = &create_instance<StateGraph, Factory>;
    p.destroy = &destroy_instance<StateGraph>;
    p.describe = [](void* self, lg_sink* out) noexcept {
      return guarded(out, [&] { set_json(out, "graph", static_cast<const StateGraph*>(self)->describe()); });
    };
    p.run_node = [](void* self, const lg_node_call* call, lg_sink* out) noexcept {
      NodeScope scope;
      scope.sink = out;
      const int32_t rc = guarded(out, [&] {
        json resume;
        if (call->struct_size >= sizeof(lg_node_call) && call->resume_json.len) {
          resume = parse(call->resume_json);
          scope.resume = &resume;
        }
        struct Enter {  // the scope is this thread's while the node runs
          NodeScope* previous;
          explicit Enter(NodeScope* s) : previous(current_node) { current_node = s; }
          ~Enter() { current_node = previous; }
        } enter(&scope);
        const auto* graph = static_cast<const StateGraph*>(self);
        try {
          const Update update = graph->run_node(std::string(view(call->node)), parse(call->state_json),
                                                RunConfig(parse(call->config_json)));
          set_json(out, "update", update);
        } catch (const Interrupted&) {
          set_json(out, "interrupt", *scope.interrupted);
        }
      });
      return rc == LG_OK && scope.interrupted ? static_cast<int32_t>(LG_INTERRUPTED) : rc;
    };
    p.route = [](void* self, const lg_route_call* call, lg_sink* out) noexcept {
      return guarded(out, [&] {
        const auto* graph = static_cast<const StateGraph*>(self);
        set_json(out, "next", graph->route(std::string(view(call->branch)), parse(call->state_json),
                                           RunConfig(parse(call->config_json))));
      });
    };
    return p;
  }();
  return &plugin;
}

}  // namespace detail
}  // namespace langgraph

// Exports `symbol` for langgraph.json ("lib.so:symbol"); `factory` returns the StateGraph.
#define LANGGRAPH_EXPORT_GRAPH(symbol, factory)                      \
  LANGGRAPH_PLUGIN_API const lg_graph_plugin* symbol(void) {         \
    return ::langgraph::detail::graph_descriptor<&factory>(#symbol); \
  }
