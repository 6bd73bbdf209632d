// Assistants: one system assistant per graph, plus the ones users create; versions on every
// update. Each operation is authorized as assistants:<action>.
#include "api/api.hpp"
#include "api/body.hpp"
#include "authz/filter.hpp"
#include "http/responses.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

namespace {
// The namespace LangGraph's servers use for graph ids (one digit off RFC 4122's URL namespace).
constexpr const char* kGraphNamespace = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";

AssistantQuery assistant_query(Services& services, const ApiRequest& req, int default_limit) {
  const json& b = req.body();
  AssistantQuery q;
  json value = {{"graph_id", b.value("graph_id", json())},
                {"metadata", body::object(b, "metadata")},
                {"limit", body::integer(b, "limit", default_limit, 0, 1000)},
                {"offset", body::integer(b, "offset", 0, 0, INT32_MAX)}};
  q.auth_filter = services.authorize(req, "assistants", "search", value);
  q.metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
  q.graph_id = body::string(b, "graph_id");
  q.name = body::string(b, "name");
  q.limit = body::integer(b, "limit", default_limit, 0, 1000);
  q.offset = body::integer(b, "offset", 0, 0, INT32_MAX);
  return q;
}

std::string require_graph(Services& services, const json& b) {
  auto graph_id = body::string(b, "graph_id");
  if (!graph_id) throw ApiError{422, "\"graph_id\" is required"};
  if (!services.graphs.count(*graph_id)) throw ApiError{404, "Graph \"" + *graph_id + "\" not found"};
  return *graph_id;
}
}  // namespace

std::string system_assistant_id(const std::string& graph_id) { return uuid5(kGraphNamespace, graph_id); }

bool is_system_assistant(const Assistant& assistant) {
  return assistant.assistant_id == system_assistant_id(assistant.graph_id);
}

void create_system_assistants(Services& services) {
  const std::string now = now_iso8601();
  for (const auto& [graph_id, graph] : services.graphs) {
    Assistant a;
    a.assistant_id = system_assistant_id(graph_id);
    a.graph_id = graph_id;
    a.name = graph_id;
    a.metadata = {{"created_by", "system"}};
    a.created_at = a.updated_at = now;
    services.storage.put_assistant(a);
  }
}

std::optional<std::string> assistant_id_of(Services& services, const std::string& id_or_graph) {
  if (auto id = canonical_uuid(id_or_graph)) return id;
  if (services.graphs.count(id_or_graph)) return system_assistant_id(id_or_graph);
  return std::nullopt;
}

Assistant resolve_assistant(Services& services, const std::string& id_or_graph, const json& filter) {
  std::optional<Assistant> found;
  if (auto id = assistant_id_of(services, id_or_graph)) found = services.storage.get_assistant(*id);
  if (!found || !filter_matches(filter, found->metadata)) throw ApiError{404, "Assistant \"" + id_or_graph + "\" not found"};
  return *found;
}

void add_assistant_routes(Router& router, Services& services) {
  router.add("POST", "/assistants", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    Assistant a;
    if (auto id = body::string(b, "assistant_id")) {
      auto canonical = canonical_uuid(*id);
      if (!canonical) throw ApiError{422, "\"assistant_id\" must be a UUID, got \"" + *id + "\""};
      a.assistant_id = *canonical;
    } else {
      a.assistant_id = uuid7();
    }
    a.graph_id = require_graph(services, b);
    const std::string if_exists = body::choice(b, "if_exists", {"raise", "do_nothing"}, "raise");
    const json config = body::object(b, "config");
    check_run_config(config);
    body::string(b, "description");  // a string or null
    json value = {{"assistant_id", a.assistant_id}, {"graph_id", a.graph_id},
                  {"config", config}, {"context", body::object(b, "context")},
                  {"metadata", body::object(b, "metadata")}, {"if_exists", if_exists},
                  {"name", body::string(b, "name").value_or("Untitled")},
                  {"description", b.value("description", json())}};
    const json filter = services.authorize(req, "assistants", "create", value);
    if (auto existing = services.storage.get_assistant(a.assistant_id)) {
      if (if_exists == "do_nothing" && filter_matches(filter, existing->metadata))
        return send_json(res, 200, existing->to_json());
      throw ApiError{409, "Assistant with ID " + a.assistant_id + " already exists"};
    }
    a.config = value.value("config", json::object());
    a.context = value.value("context", json::object());
    a.metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
    a.name = value.value("name", "Untitled");
    a.description = value.value("description", json());
    a.created_at = a.updated_at = now_iso8601();
    services.storage.put_assistant(a);
    send_json(res, 200, a.to_json());
  });

  router.add("POST", "/assistants/search", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    AssistantQuery q = assistant_query(services, req, 10);
    q.sort_by = body::choice(b, "sort_by", {"assistant_id", "graph_id", "name", "created_at", "updated_at"}, "created_at");
    q.descending = body::choice(b, "sort_order", {"asc", "desc"}, "desc") == "desc";
    const auto select = body::select(body::strings(b, "select"), {"assistant_id", "graph_id", "name", "description",
                                                                   "config", "context", "created_at", "updated_at",
                                                                   "metadata", "version"});
    const auto page = services.storage.search_assistants(q);
    json out = json::array();
    for (const auto& a : page.items) out.push_back(body::selected(a.to_json(), select));
    res.set_header("X-Pagination-Total", std::to_string(page.total));
    send_json(res, 200, out);
  });

  router.add("POST", "/assistants/count", [&services](const ApiRequest& req, HttpResponse& res) {
    AssistantQuery q = assistant_query(services, req, 0);
    q.limit = 0;
    q.offset = 0;
    send_json(res, 200, services.storage.search_assistants(q).total);
  });

  router.add("GET", "/assistants/{assistant_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    json value = {{"assistant_id", req.param("assistant_id")}};
    const json filter = services.authorize(req, "assistants", "read", value);
    send_json(res, 200, resolve_assistant(services, req.param("assistant_id"), filter).to_json());
  });

  router.add("PATCH", "/assistants/{assistant_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    json value = {{"assistant_id", req.param("assistant_id")}, {"graph_id", b.value("graph_id", json())},
                  {"config", b.value("config", json())}, {"context", b.value("context", json())},
                  {"metadata", body::object(b, "metadata")}, {"name", b.value("name", json())},
                  {"description", b.value("description", json())}};
    check_run_config(body::object(b, "config"));
    body::object(b, "context");
    body::string(b, "name");  // strings or null
    body::string(b, "description");
    const json filter = services.authorize(req, "assistants", "update", value);
    Assistant a = resolve_assistant(services, req.param("assistant_id"), filter);
    if (auto graph_id = body::string(b, "graph_id")) a.graph_id = require_graph(services, b);
    if (value["config"].is_object()) a.config = value["config"];
    if (value["context"].is_object()) a.context = value["context"];
    if (value["metadata"].is_object())
      for (const auto& [key, v] : value["metadata"].items()) a.metadata[key] = v;
    if (value["name"].is_string()) a.name = value["name"];
    if (!value["description"].is_null()) a.description = value["description"];
    const auto versions = services.storage.assistant_versions(a.assistant_id);
    a.version = versions.empty() ? 1 : versions.front().version + 1;
    a.updated_at = now_iso8601();
    services.storage.put_assistant(a);
    send_json(res, 200, a.to_json());
  });

  router.add("DELETE", "/assistants/{assistant_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    json value = {{"assistant_id", req.param("assistant_id")}};
    const json filter = services.authorize(req, "assistants", "delete", value);
    const Assistant a = resolve_assistant(services, req.param("assistant_id"), filter);
    const auto delete_threads = req.query("delete_threads");
    if (delete_threads && *delete_threads != "true" && *delete_threads != "false")
      throw ApiError{422, "\"delete_threads\" must be true or false"};
    services.storage.delete_assistant(a.assistant_id);
    if (delete_threads == "true") {
      ThreadQuery q;
      q.metadata = {{"assistant_id", a.assistant_id}};
      q.limit = INT32_MAX;
      for (const auto& t : services.storage.search_threads(q).items) services.storage.delete_thread(t.thread_id);
    }
    res.status = 204;
  });

  router.add("POST", "/assistants/{assistant_id}/versions", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    json value = {{"assistant_id", req.param("assistant_id")}, {"metadata", body::object(b, "metadata")},
                  {"limit", body::integer(b, "limit", 10, 0, 1000)}, {"offset", body::integer(b, "offset", 0, 0, INT32_MAX)}};
    const json filter = services.authorize(req, "assistants", "search", value);
    json out = json::array();
    std::optional<Assistant> current;
    try {
      current = resolve_assistant(services, req.param("assistant_id"), filter);
    } catch (const ApiError&) {
      return send_json(res, 200, out);  // hidden or absent: no versions to show
    }
    const json wanted = body::object(b, "metadata");
    const int limit = value["limit"], offset = value["offset"];
    int index = 0;
    for (auto& v : services.storage.assistant_versions(current->assistant_id)) {
      if (!json_contains(v.metadata, wanted) || index++ < offset) continue;
      if (static_cast<int>(out.size()) >= limit) break;
      json j = v.to_json();
      j.erase("updated_at");
      out.push_back(std::move(j));
    }
    send_json(res, 200, out);
  });

  router.add("POST", "/assistants/{assistant_id}/latest", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    const int version = body::integer(b, "version", 0, 1, INT32_MAX);
    if (version == 0) throw ApiError{422, "\"version\" is required"};
    json value = {{"assistant_id", req.param("assistant_id")}, {"version", version}};
    const json filter = services.authorize(req, "assistants", "update", value);
    const Assistant current = resolve_assistant(services, req.param("assistant_id"), filter);
    for (auto v : services.storage.assistant_versions(current.assistant_id)) {
      if (v.version != version) continue;
      v.updated_at = now_iso8601();
      services.storage.put_assistant(v);
      return send_json(res, 200, v.to_json());
    }
    throw ApiError{404, "Assistant version " + std::to_string(version) + " not found"};
  });
}

}  // namespace lgs
