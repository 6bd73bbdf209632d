// The LangGraph Agent Server API: one file per resource, each adding its routes.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "authz/authorizer.hpp"
#include "http/router.hpp"
#include "runtime/cron_scheduler.hpp"
#include "runtime/run_manager.hpp"
#include "runtime/stream_hub.hpp"
#include "storage/storage.hpp"

namespace lgs {

struct Services {
  Storage& storage;
  const Graphs& graphs;
  RunManager& runs;
  StreamHub& streams;
  const Authorizer& authz;
  std::string version;
  CronScheduler* crons = nullptr;  // woken when a cron is created or changed (null: none to wake)

  // Authorization for one operation of the request's user (authz/authorizer.hpp).
  json authorize(const ApiRequest& req, const char* resource, const char* action, json& value) const {
    return authz.authorize(req.user(), resource, action, value);
  }
};

void add_meta_routes(Router& router, Services& services);
void add_assistant_routes(Router& router, Services& services);
void add_thread_routes(Router& router, Services& services);
void add_run_routes(Router& router, Services& services);
void add_store_routes(Router& router, Services& services);
void add_stream_routes(Router& router, Services& services);
void add_state_routes(Router& router, Services& services);
void add_cron_routes(Router& router, Services& services);

// The system assistant of every graph: created at startup, id = UUIDv5 of the graph id.
std::string system_assistant_id(const std::string& graph_id);
void create_system_assistants(Services& services);
// The assistant id `id_or_graph` names: a UUID (in canonical form), or a graph id meaning that
// graph's system assistant; nullopt when it is neither. Nothing is read from storage.
std::optional<std::string> assistant_id_of(Services& services, const std::string& id_or_graph);
// An assistant by id, or a graph id meaning that graph's system assistant; 404 when there is
// none or `filter` (an authorization filter on its metadata) hides it.
Assistant resolve_assistant(Services& services, const std::string& id_or_graph, const json& filter = json::object());
bool is_system_assistant(const Assistant& assistant);

// The stream modes a request names: a string or a list of strings; absent or null means
// "values"; 422 for anything else or an unknown mode.
std::set<std::string> parse_modes(const json& value);
// Checks the types of a run's config fields that LangGraph's schema names (recursion_limit,
// configurable, tags); 422 when one is wrong, before any run or assistant is created with it.
void check_run_config(const json& config);

// Creating runs from a request body (api/runs.cpp), for every route that starts one: the run
// is authorized and stored as pending; the caller queues it with services.runs.enqueue.
Run create_thread_run(Services& services, const ApiRequest& req);
Run create_stateless_run(Services& services, const ApiRequest& req);
// Checks a run request body as create_thread_run and create_stateless_run do (422 for bad
// input, 404 for an unknown or hidden assistant, assistants:read for a user-created one),
// without creating anything. Returns the assistant it would run.
Assistant check_run_request(Services& services, const ApiRequest& req);
// Creates and queues the run of a due cron (api/crons.cpp), as the cron's creator; throws
// std::runtime_error saying why when it cannot.
void fire_cron(Services& services, const Cron& cron);
// The Content-Location of a run: /threads/<tid>/runs/<rid>, or /runs/<rid> when stateless.
std::string run_location(const Run& run, bool stateless);

// The thread, or 404 when there is none or `filter` hides it.
Thread require_thread(Services& services, const std::string& thread_id, const json& filter = json::object());

}  // namespace lgs
