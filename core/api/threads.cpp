// Threads: create, read, update metadata, delete, search and count — each authorized as
// threads:<action>, with the handler's filter applied to the thread's metadata.
#include "api/api.hpp"
#include "api/body.hpp"
#include "authz/filter.hpp"
#include "http/responses.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

Thread require_thread(Services& services, const std::string& thread_id, const json& filter) {
  auto thread = services.storage.get_thread(thread_id);
  if (!thread || !filter_matches(filter, thread->metadata))
    throw ApiError{404, "Thread with ID " + thread_id + " not found"};
  return *thread;
}

namespace {

// threads:search for a search or a count: the request's filters, the handler's on top.
ThreadQuery thread_query(Services& services, const ApiRequest& req, int default_limit) {
  const json& b = req.body();
  json value = {{"metadata", body::object(b, "metadata")},
                {"values", body::object(b, "values")},
                {"status", b.value("status", json())},
                {"limit", body::integer(b, "limit", default_limit, 0, 1000)},
                {"offset", body::integer(b, "offset", 0, 0, INT32_MAX)}};
  ThreadQuery q;
  q.auth_filter = services.authorize(req, "threads", "search", value);
  q.metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
  q.values = body::object(b, "values");
  if (body::string(b, "status")) q.status = body::choice(b, "status", {"idle", "busy", "interrupted", "error"}, "idle");
  for (const auto& id : body::strings(b, "ids")) {
    auto canonical = canonical_uuid(id);
    if (!canonical) throw ApiError{422, "\"ids\" must hold UUIDs, got \"" + id + "\""};
    q.ids.push_back(*canonical);
  }
  q.limit = body::integer(b, "limit", default_limit, 0, 1000);
  q.offset = body::integer(b, "offset", 0, 0, INT32_MAX);
  return q;
}

}  // namespace

void add_thread_routes(Router& router, Services& services) {
  router.add("POST", "/threads", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    Thread t;
    if (auto id = body::string(b, "thread_id")) {
      auto canonical = canonical_uuid(*id);
      if (!canonical) throw ApiError{422, "\"thread_id\" must be a UUID, got \"" + *id + "\""};
      t.thread_id = *canonical;
    } else {
      t.thread_id = uuid7();
    }
    json metadata = body::object(b, "metadata");
    if (auto graph_id = body::string(b, "graph_id")) metadata["graph_id"] = *graph_id;
    const std::string if_exists = body::choice(b, "if_exists", {"raise", "do_nothing"}, "raise");
    if (b.contains("supersteps") && !b["supersteps"].is_null())
      throw ApiError{422, "\"supersteps\" is not supported by this server yet"};

    json value = {{"thread_id", t.thread_id}, {"metadata", metadata}, {"if_exists", if_exists}};
    const json filter = services.authorize(req, "threads", "create", value);
    t.metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
    t.created_at = t.updated_at = now_iso8601();
    if (!services.storage.create_thread(t)) {
      auto existing = services.storage.get_thread(t.thread_id);
      if (if_exists == "do_nothing" && existing && filter_matches(filter, existing->metadata))
        return send_json(res, 200, existing->to_json());
      throw ApiError{409, "Thread with ID " + t.thread_id + " already exists"};
    }
    send_json(res, 200, t.to_json());
  });

  router.add("POST", "/threads/search", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    ThreadQuery q = thread_query(services, req, 10);
    q.sort_by = body::choice(b, "sort_by", {"thread_id", "status", "created_at", "updated_at"}, "created_at");
    q.descending = body::choice(b, "sort_order", {"asc", "desc"}, "desc") == "desc";
    const auto select = body::select(body::strings(b, "select"), {"thread_id", "created_at", "updated_at",
                                                                   "state_updated_at", "metadata", "config", "context",
                                                                   "status", "values", "interrupts"});
    const auto page = services.storage.search_threads(q);
    json out = json::array();
    for (auto& t : page.items) out.push_back(body::selected(std::move(t).to_json(), select));
    // As LangGraph's server: no count; the total is as far as the next page, which is named.
    const size_t next = static_cast<size_t>(q.offset) + page.items.size();
    res.set_header("X-Pagination-Total", std::to_string(page.more ? next + 1 : next));
    if (page.more) res.set_header("X-Pagination-Next", std::to_string(next));
    send_json(res, 200, out);
  });

  router.add("POST", "/threads/count", [&services](const ApiRequest& req, HttpResponse& res) {
    ThreadQuery q = thread_query(services, req, 0);
    q.limit = 0;
    q.offset = 0;
    send_json(res, 200, services.storage.count_threads(q));
  });

  router.add("GET", "/threads/{thread_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string id = req.uuid_param("thread_id");
    json value = {{"thread_id", id}};
    const json filter = services.authorize(req, "threads", "read", value);
    send_json(res, 200, require_thread(services, id, filter).to_json());
  });

  router.add("PATCH", "/threads/{thread_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string id = req.uuid_param("thread_id");
    json value = {{"thread_id", id}, {"metadata", body::object(req.body(), "metadata")}};
    const json filter = services.authorize(req, "threads", "update", value);
    require_thread(services, id, filter);
    const json metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
    Thread updated;
    const bool found = services.storage.update_thread(id, [&](Thread& t) {
      for (const auto& [key, v] : metadata.items()) t.metadata[key] = v;
      t.updated_at = now_iso8601();
      updated = t;
    });
    if (!found) throw ApiError{404, "Thread with ID " + id + " not found"};
    send_json(res, 200, updated.to_json());
  });

  router.add("DELETE", "/threads/{thread_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string id = req.uuid_param("thread_id");
    json value = {{"thread_id", id}};
    const json filter = services.authorize(req, "threads", "delete", value);
    require_thread(services, id, filter);
    if (!services.storage.delete_thread(id)) throw ApiError{404, "Thread with ID " + id + " not found"};
    res.status = 204;
  });
}

}  // namespace lgs
