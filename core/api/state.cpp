// Thread state from its checkpoints: current state, a past checkpoint, history, updates and
// copies; and each assistant's graph structure.
#include "api/api.hpp"
#include "api/body.hpp"
#include "http/responses.hpp"
#include "authz/filter.hpp"
#include "runtime/executor.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

namespace {

// The state of a thread without checkpoints yet.
json empty_state(const Thread& thread) {
  return {{"values", thread.values.is_null() ? json::object() : thread.values},
          {"next", json::array()},
          {"tasks", json::array()},
          {"metadata", json::object()},
          {"created_at", nullptr},
          {"checkpoint", nullptr},
          {"parent_checkpoint", nullptr},
          {"checkpoint_id", nullptr},
          {"parent_checkpoint_id", nullptr},
          {"interrupts", json::array()}};
}

// A checkpoint as ThreadState, with the interrupts of its pending tasks listed too.
json state_json(const Checkpoint& c) {
  json state = c.to_state_json();
  json interrupts = json::array();
  for (const auto& task : c.tasks)
    for (const auto& i : task.value("interrupts", json::array())) interrupts.push_back(i);
  state["interrupts"] = interrupts;
  return state;
}

Thread readable_thread(Services& services, const ApiRequest& req, const std::string& thread_id) {
  json value = {{"thread_id", thread_id}};
  return require_thread(services, thread_id, services.authorize(req, "threads", "read", value));
}

// The checkpoint id that `field` names, as the id or as {"checkpoint_id": id}; "" when it names
// none, 422 when it is anything else.
std::string checkpoint_id_of(const json& checkpoint, const std::string& field) {
  if (checkpoint.is_null()) return {};
  if (checkpoint.is_string()) return checkpoint.get<std::string>();
  if (checkpoint.is_object()) {
    const auto id = checkpoint.find("checkpoint_id");
    if (id == checkpoint.end() || id->is_null()) return {};
    if (id->is_string()) return id->get<std::string>();
  }
  throw ApiError{422, "\"" + field + "\" must be a checkpoint id, or an object whose \"checkpoint_id\" is one"};
}

json state_at(Services& services, const std::string& thread_id, const std::string& checkpoint_id) {
  auto c = services.storage.get_checkpoint(thread_id, checkpoint_id);
  if (!c) throw ApiError{404, "Checkpoint " + checkpoint_id + " not found"};
  return state_json(*c);
}

GraphPluginPtr graph_of(Services& services, const Thread& thread) {
  const std::string graph_id = thread.metadata.value("graph_id", "");
  auto it = services.graphs.find(graph_id);
  if (it == services.graphs.end())
    throw ApiError{409, "Thread " + thread.thread_id + " has no graph yet: run it, or create it with graph_id"};
  return it->second;
}

// LangGraph's drawable graph: {nodes: [{id, type, data}], edges: [{source, target, conditional?}]}.
json graph_json(const GraphSpec& spec) {
  json nodes = json::array({{{"id", kStart}, {"type", "schema"}, {"data", kStart}}});
  for (const auto& n : spec.nodes) nodes.push_back({{"id", n}, {"type", "runnable"}, {"data", {{"id", {"langgraph", n}}, {"name", n}}}});
  nodes.push_back({{"id", kEnd}, {"type", "schema"}, {"data", kEnd}});
  json edges = json::array();
  for (const auto& [from, to] : spec.edges) edges.push_back({{"source", from}, {"target", to}});
  for (const auto& b : spec.branches) {
    std::vector<std::string> targets = b.destinations;
    if (targets.empty()) targets = spec.nodes;
    for (const auto& to : targets) edges.push_back({{"source", b.source}, {"target", to}, {"conditional", true}});
  }
  return {{"nodes", nodes}, {"edges", edges}};
}

json state_schema(const GraphSpec& spec) {
  json properties = json::object();
  for (const auto& [name, reducer] : spec.channels)
    properties[name] = reducer == "last_value" ? json::object() : json{{"type", "array"}};
  return {{"title", "State"}, {"type", "object"}, {"properties", properties}};
}

}  // namespace

void add_state_routes(Router& router, Services& services) {
  router.add("GET", "/threads/{thread_id}/state", [&services](const ApiRequest& req, HttpResponse& res) {
    const Thread thread = readable_thread(services, req, req.uuid_param("thread_id"));
    auto latest = services.storage.latest_checkpoint(thread.thread_id);
    send_json(res, 200, latest ? state_json(*latest) : empty_state(thread));
  });

  router.add("GET", "/threads/{thread_id}/state/{checkpoint_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const Thread thread = readable_thread(services, req, req.uuid_param("thread_id"));
    send_json(res, 200, state_at(services, thread.thread_id, req.param("checkpoint_id")));
  });

  router.add("POST", "/threads/{thread_id}/state/checkpoint", [&services](const ApiRequest& req, HttpResponse& res) {
    const Thread thread = readable_thread(services, req, req.uuid_param("thread_id"));
    const std::string id = checkpoint_id_of(body::object(req.body(), "checkpoint"), "checkpoint");
    if (id.empty()) throw ApiError{422, "\"checkpoint.checkpoint_id\" is required"};
    send_json(res, 200, state_at(services, thread.thread_id, id));
  });

  auto history = [&services](const ApiRequest& req, HttpResponse& res, const json& b) {
    const Thread thread = readable_thread(services, req, req.uuid_param("thread_id"));
    const int limit = body::integer(b, "limit", 10, 1, 1000);
    const std::string before = checkpoint_id_of(b.value("before", json()), "before");
    json out = json::array();
    for (const auto& c : services.storage.list_checkpoints(thread.thread_id, limit, before, body::object(b, "metadata")))
      out.push_back(state_json(c));
    send_json(res, 200, out);
  };
  router.add("POST", "/threads/{thread_id}/history", [history](const ApiRequest& req, HttpResponse& res) {
    history(req, res, req.body());
  });
  router.add("GET", "/threads/{thread_id}/history", [history](const ApiRequest& req, HttpResponse& res) {
    json b = json::object();
    if (req.query("limit")) b["limit"] = req.query_int("limit", 10, 1, 1000);
    if (auto before = req.query("before")) b["before"] = *before;
    history(req, res, b);
  });

  router.add("POST", "/threads/{thread_id}/state", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string thread_id = req.uuid_param("thread_id");
    const json& b = req.body();
    json value = {{"thread_id", thread_id}};
    json read = value;
    require_thread(services, thread_id, services.authorize(req, "threads", "read", read));
    const Thread thread = require_thread(services, thread_id, services.authorize(req, "threads", "update", value));
    if (thread.status == "busy") throw ApiError{409, "Thread " + thread_id + " is busy with a run"};
    const auto graph = graph_of(services, thread);
    const std::string as_node = body::string(b, "as_node").value_or("");
    std::optional<Checkpoint> base = services.storage.latest_checkpoint(thread_id);
    const std::string at = b.contains("checkpoint") ? checkpoint_id_of(b["checkpoint"], "checkpoint")
                                                    : checkpoint_id_of(b.value("checkpoint_id", json()), "checkpoint_id");
    if (!at.empty()) {
      base = services.storage.get_checkpoint(thread_id, at);
      if (!base) throw ApiError{404, "Checkpoint " + at + " not found"};
    }
    Checkpoint c;
    try {
      c = update_state(*graph, base, b.value("values", json()), as_node, thread_id, {{"configurable", thread.config.value("configurable", json::object())}});
    } catch (const GraphError& e) {
      throw ApiError{422, e.what()};
    }
    services.storage.put_checkpoint(c);
    services.storage.update_thread(thread_id, [&](Thread& t) {
      t.values = c.values;
      t.status = "idle";
      t.interrupts = json::object();
      t.updated_at = now_iso8601();
    });
    send_json(res, 200, {{"checkpoint", c.to_state_json()["checkpoint"]}});
  });

  router.add("POST", "/threads/{thread_id}/copy", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string source_id = req.uuid_param("thread_id");
    json read = {{"thread_id", source_id}};
    const json filter = services.authorize(req, "threads", "read", read);
    auto source = services.storage.get_thread(source_id);
    if (!source) throw ApiError{404, "Thread with ID " + source_id + " not found"};
    if (!filter_matches(filter, source->metadata)) throw ApiError{409, "Thread with ID " + source_id + " not found"};
    Thread copy = *source;
    copy.thread_id = uuid7();
    json value = {{"thread_id", copy.thread_id}, {"metadata", copy.metadata}};
    services.authorize(req, "threads", "create", value);  // its filter does not apply to a copy
    if (value["metadata"].is_object()) copy.metadata = value["metadata"];
    copy.created_at = copy.updated_at = now_iso8601();
    if (copy.status == "busy") copy.status = "idle";
    services.storage.create_thread(copy);
    auto checkpoints = services.storage.list_checkpoints(source_id, INT32_MAX);
    for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
      Checkpoint c = *it;
      c.thread_id = copy.thread_id;
      c.metadata["thread_id"] = copy.thread_id;
      services.storage.put_checkpoint(c);
    }
    send_json(res, 200, copy.to_json());
  });

  router.add("GET", "/assistants/{assistant_id}/graph", [&services](const ApiRequest& req, HttpResponse& res) {
    json value = {{"assistant_id", req.param("assistant_id")}};
    const Assistant a = resolve_assistant(services, req.param("assistant_id"), services.authorize(req, "assistants", "read", value));
    send_json(res, 200, graph_json(services.graphs.at(a.graph_id)->spec()));
  });

  router.add("GET", "/assistants/{assistant_id}/schemas", [&services](const ApiRequest& req, HttpResponse& res) {
    json value = {{"assistant_id", req.param("assistant_id")}};
    const Assistant a = resolve_assistant(services, req.param("assistant_id"), services.authorize(req, "assistants", "read", value));
    const json state = state_schema(services.graphs.at(a.graph_id)->spec());
    send_json(res, 200, {{"graph_id", a.graph_id}, {"input_schema", state}, {"output_schema", state},
                         {"state_schema", state}, {"config_schema", nullptr}, {"context_schema", nullptr}});
  });
}

}  // namespace lgs
