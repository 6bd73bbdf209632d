// The LangGraph Agent Server API: one file per resource, each adding its routes.
#pragma once

#include <mutex>
#include <string>

#include "http/router.hpp"
#include "runtime/run_manager.hpp"
#include "storage/storage.hpp"

namespace lgs {

struct Services {
  Storage& storage;
  const Graphs& graphs;
  RunManager& runs;
  std::string version;
};

void add_meta_routes(Router& router, Services& services);
void add_assistant_routes(Router& router, Services& services);
void add_thread_routes(Router& router, Services& services);
void add_run_routes(Router& router, Services& services);

// The system assistant of every graph: created at startup, id = UUIDv5 of the graph id.
std::string system_assistant_id(const std::string& graph_id);
void create_system_assistants(Services& services);
// An assistant by id, or a graph id meaning that graph's system assistant; 404 otherwise.
Assistant resolve_assistant(Services& services, const std::string& id_or_graph);

// The thread, or 404.
Thread require_thread(Services& services, const std::string& thread_id);

}  // namespace lgs
