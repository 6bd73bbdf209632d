// Threads: create, read, update metadata, delete, search and count.
#include "api/api.hpp"
#include "api/body.hpp"
#include "http/responses.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

Thread require_thread(Services& services, const std::string& thread_id) {
  auto thread = services.storage.get_thread(thread_id);
  if (!thread) throw ApiError{404, "Thread with ID " + thread_id + " not found"};
  return *thread;
}

namespace {

ThreadQuery thread_query(const json& b) {
  ThreadQuery q;
  q.metadata = body::object(b, "metadata");
  q.values = body::object(b, "values");
  if (auto status = body::string(b, "status")) {
    q.status = body::choice(b, "status", {"idle", "busy", "interrupted", "error"}, "idle");
  }
  for (const auto& id : body::strings(b, "ids")) {
    auto canonical = canonical_uuid(id);
    if (!canonical) throw ApiError{422, "\"ids\" must hold UUIDs, got \"" + id + "\""};
    q.ids.push_back(*canonical);
  }
  return q;
}

}  // namespace

void add_thread_routes(Router& router, Services& services) {
  router.add("POST", "/threads", [&services](const ApiRequest& req, httplib::Response& res) {
    const json& b = req.body();
    Thread t;
    if (auto id = body::string(b, "thread_id")) {
      auto canonical = canonical_uuid(*id);
      if (!canonical) throw ApiError{422, "\"thread_id\" must be a UUID, got \"" + *id + "\""};
      t.thread_id = *canonical;
    } else {
      t.thread_id = uuid4();
    }
    t.metadata = body::object(b, "metadata");
    if (auto graph_id = body::string(b, "graph_id")) t.metadata["graph_id"] = *graph_id;
    const std::string if_exists = body::choice(b, "if_exists", {"raise", "do_nothing"}, "raise");
    if (b.contains("supersteps") && !b["supersteps"].is_null())
      throw ApiError{422, "\"supersteps\" is not supported by this server yet"};
    t.created_at = t.updated_at = now_iso8601();
    if (!services.storage.create_thread(t)) {
      if (if_exists == "do_nothing") return send_json(res, 200, require_thread(services, t.thread_id).to_json());
      throw ApiError{409, "Thread with ID " + t.thread_id + " already exists"};
    }
    send_json(res, 200, t.to_json());
  });

  router.add("POST", "/threads/search", [&services](const ApiRequest& req, httplib::Response& res) {
    const json& b = req.body();
    ThreadQuery q = thread_query(b);
    q.limit = body::integer(b, "limit", 10, 1, 1000);
    q.offset = body::integer(b, "offset", 0, 0, INT32_MAX);
    q.sort_by = body::choice(b, "sort_by", {"thread_id", "status", "created_at", "updated_at"}, "created_at");
    q.descending = body::choice(b, "sort_order", {"asc", "desc"}, "desc") == "desc";
    const auto page = services.storage.search_threads(q);
    json out = json::array();
    for (const auto& t : page.items) out.push_back(t.to_json());
    res.set_header("X-Pagination-Total", std::to_string(page.total));
    send_json(res, 200, out);
  });

  router.add("POST", "/threads/count", [&services](const ApiRequest& req, httplib::Response& res) {
    ThreadQuery q = thread_query(req.body());
    q.limit = 0;
    send_json(res, 200, services.storage.search_threads(q).total);
  });

  router.add("GET", "/threads/{thread_id}", [&services](const ApiRequest& req, httplib::Response& res) {
    send_json(res, 200, require_thread(services, req.uuid_param("thread_id")).to_json());
  });

  router.add("PATCH", "/threads/{thread_id}", [&services](const ApiRequest& req, httplib::Response& res) {
    const std::string id = req.uuid_param("thread_id");
    const json metadata = body::object(req.body(), "metadata");
    Thread updated;
    const bool found = services.storage.update_thread(id, [&](Thread& t) {
      for (const auto& [key, value] : metadata.items()) t.metadata[key] = value;
      t.updated_at = now_iso8601();
      updated = t;
    });
    if (!found) throw ApiError{404, "Thread with ID " + id + " not found"};
    send_json(res, 200, updated.to_json());
  });

  router.add("DELETE", "/threads/{thread_id}", [&services](const ApiRequest& req, httplib::Response& res) {
    const std::string id = req.uuid_param("thread_id");
    if (!services.storage.delete_thread(id)) throw ApiError{404, "Thread with ID " + id + " not found"};
    res.status = 204;
  });
}

}  // namespace lgs
