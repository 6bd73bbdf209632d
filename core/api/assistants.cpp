// Assistants: the system assistant of each graph, read and searched.
#include "api/api.hpp"
#include "api/body.hpp"
#include "http/responses.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

namespace {
// The namespace LangGraph's servers use for graph ids (one digit off RFC 4122's URL namespace).
constexpr const char* kGraphNamespace = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";
}  // namespace

std::string system_assistant_id(const std::string& graph_id) { return uuid5(kGraphNamespace, graph_id); }

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

Assistant resolve_assistant(Services& services, const std::string& id_or_graph) {
  std::optional<Assistant> found;
  if (auto id = canonical_uuid(id_or_graph)) found = services.storage.get_assistant(*id);
  else if (services.graphs.count(id_or_graph)) found = services.storage.get_assistant(system_assistant_id(id_or_graph));
  if (!found) throw ApiError{404, "Assistant \"" + id_or_graph + "\" not found"};
  return *found;
}

void add_assistant_routes(Router& router, Services& services) {
  router.add("POST", "/assistants/search", [&services](const ApiRequest& req, httplib::Response& res) {
    const json& b = req.body();
    AssistantQuery q;
    q.metadata = body::object(b, "metadata");
    q.graph_id = body::string(b, "graph_id");
    q.name = body::string(b, "name");
    q.limit = body::integer(b, "limit", 10, 1, 1000);
    q.offset = body::integer(b, "offset", 0, 0, INT32_MAX);
    q.sort_by = body::choice(b, "sort_by", {"assistant_id", "graph_id", "name", "created_at", "updated_at"}, "created_at");
    q.descending = body::choice(b, "sort_order", {"asc", "desc"}, "desc") == "desc";
    const auto page = services.storage.search_assistants(q);
    json out = json::array();
    for (const auto& a : page.items) out.push_back(a.to_json());
    res.set_header("X-Pagination-Total", std::to_string(page.total));
    send_json(res, 200, out);
  });
  router.add("GET", "/assistants/{assistant_id}", [&services](const ApiRequest& req, httplib::Response& res) {
    send_json(res, 200, resolve_assistant(services, req.param("assistant_id")).to_json());
  });
}

}  // namespace lgs
