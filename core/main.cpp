// langgraph-server: loads langgraph.json and its plugins, then serves the LangGraph API.
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "api/api.hpp"
#include "api/openapi.hpp"
#include "auth/authenticator.hpp"
#include "config/config.hpp"
#include "config/options.hpp"
#include "config/startup_error.hpp"
#include "http/server.hpp"
#include "plugin/auth_plugin.hpp"
#include "plugin/graph_plugin.hpp"
#include "runtime/cron_scheduler.hpp"
#include "runtime/run_manager.hpp"
#include "runtime/stream_hub.hpp"
#include "storage/storage.hpp"
#include "util/log.hpp"

#ifndef LANGGRAPH_SERVER_VERSION
#define LANGGRAPH_SERVER_VERSION "0.0.0"
#endif

namespace {

constexpr int kExitConfigError = 2;
constexpr int kExitRuntimeError = 1;

[[noreturn]] void fail(int code, const std::string& message) {
  fmt::print(stderr, "langgraph-server: error: {}\n", message);
  std::exit(code);
}

struct Plugins {
  std::shared_ptr<const lgs::AuthPlugin> auth;
  lgs::Graphs graphs;
};

// Loads every plugin the config names; a failure names the config file, the plugin and why.
Plugins load_plugins(const lgs::Config& config) {
  Plugins plugins;
  try {
    if (config.auth) plugins.auth = lgs::AuthPlugin::load(*config.auth);
    for (const auto& [graph_id, ref] : config.graphs) plugins.graphs[graph_id] = lgs::GraphPlugin::load(graph_id, ref);
  } catch (const lgs::StartupError& e) {
    throw lgs::StartupError(fmt::format("{}: {}", config.file.string(), e.what()));
  }
  return plugins;
}

}  // namespace

int main(int argc, char** argv) {
  lgs::Options options;
  lgs::Config config;
  Plugins plugins;
  try {
    options = lgs::parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (options.help) {
      fmt::print("{}", lgs::usage());
      return 0;
    }
    if (options.version) {
      fmt::print("langgraph-server {}\n", LANGGRAPH_SERVER_VERSION);
      return 0;
    }
    config = lgs::load_config(options.config);
    for (const auto& warning : config.warnings) lgs::log::warn("{}: {}", config.file.string(), warning);
    lgs::apply_env(config.env);  // before plugins load, so they can read it
    plugins = load_plugins(config);
  } catch (const lgs::StartupError& e) {
    fail(kExitConfigError, e.what());
  }

  // SIGINT/SIGTERM are handled by one thread that stops the server; every other thread,
  // created after this point, inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The database: SQLite in a data folder beside the config unless --database-uri says otherwise.
  const std::string data_dir = (config.file.parent_path() / ".langgraph_data").string();
  std::string database;
  std::unique_ptr<lgs::Storage> database_storage;
  try {
    database = lgs::describe_database(options.database_uri, data_dir);
    database_storage = lgs::open_storage(options.database_uri, data_dir);
  } catch (const lgs::StartupError& e) {
    fail(kExitConfigError, database.empty() ? e.what() : database + ": " + e.what());
  }
  lgs::Storage& storage = *database_storage;
  lgs::StreamHub streams(storage.shared() ? &storage : nullptr);
  lgs::RunManager runs(storage, plugins.graphs, streams, options.workers);
  lgs::Authorizer authorizer(plugins.auth);
  lgs::Services services{storage, plugins.graphs, runs, streams, authorizer, LANGGRAPH_SERVER_VERSION};
  lgs::CronScheduler crons(storage, [&services](const lgs::Cron& cron) { lgs::fire_cron(services, cron); });
  services.crons = &crons;
  lgs::create_system_assistants(services);

  lgs::Router router;
  lgs::add_meta_routes(router, services);
  lgs::add_assistant_routes(router, services);
  lgs::add_thread_routes(router, services);
  lgs::add_run_routes(router, services);
  lgs::add_state_routes(router, services);
  lgs::add_store_routes(router, services);
  lgs::add_stream_routes(router, services);
  lgs::add_cron_routes(router, services);
  // Last: /openapi.json documents the routes added above.
  lgs::add_openapi_routes(router, {LANGGRAPH_SERVER_VERSION, plugins.auth != nullptr,
                                   config.auth ? config.auth->openapi : lgs::json::object()});

  lgs::StudioAccess studio;
  studio.disabled = config.auth && config.auth->disable_studio_auth;
  studio.dev = options.dev;
  if (const char* key = std::getenv("LANGGRAPH_STUDIO_KEY")) studio.key = key;
  lgs::Authenticator authenticator(plugins.auth, studio,
                                   config.auth && config.auth->cache_settings
                                       ? std::make_unique<lgs::AuthCache>(*config.auth->cache_settings)
                                       : nullptr);
  lgs::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.http_threads = options.http_threads;
  lgs::HttpServer server(server_options, router, authenticator, config.cors);
  try {
    server.bind();
  } catch (const lgs::StartupError& e) {
    fail(kExitRuntimeError, e.what());
  }

  std::thread signal_waiter([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    lgs::log::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
    runs.drain();  // first: no queued run starts while the requests in progress finish
    server.stop();
  });

  const std::string base = fmt::format("http://{}:{}", options.host, options.port);
  std::string graph_ids;
  for (const auto& [id, graph] : plugins.graphs) graph_ids += (graph_ids.empty() ? "" : ", ") + id;
  fmt::print(stderr,
             "\n  langgraph-server {}\n\n"
             "  - API:    {}\n"
             "  - Health: {}/ok\n"
             "  - Info:   {}/info\n\n"
             "  Config: {}\n"
             "  Graphs: {}\n"
             "  Auth:   {}\n"
             "  Database: {}\n\n",
             LANGGRAPH_SERVER_VERSION, base, base, base, config.file.string(),
             graph_ids.empty() ? "(none)" : graph_ids,
             config.auth ? config.auth->plugin.describe() : "none (every request is allowed)", database);
  std::fflush(stderr);

  crons.start();
  server.serve();  // returns after stop(), once every connection's worker has finished
  crons.stop();
  runs.shutdown();
  if (signal_waiter.joinable()) {
    pthread_kill(signal_waiter.native_handle(), SIGTERM);  // no-op if it already returned
    signal_waiter.join();
  }
  lgs::log::info("stopped");
  return 0;
}
