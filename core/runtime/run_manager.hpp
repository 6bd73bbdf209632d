// Runs in the background: a queue and a pool of workers that execute graph plugins.
// A worker picks a run up as soon as it is queued (or its after_seconds delay is over); runs of
// one thread execute one at a time, in the order they were created.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "plugin/graph_plugin.hpp"
#include "runtime/stream_hub.hpp"
#include "storage/storage.hpp"

namespace lgs {

using Graphs = std::map<std::string, GraphPluginPtr>;

class RunManager {
 public:
  // Every queued run gets a stream in `streams` (metadata first), closed when it finishes.
  RunManager(Storage& storage, const Graphs& graphs, StreamHub& streams, int workers);
  ~RunManager();
  RunManager(const RunManager&) = delete;
  RunManager& operator=(const RunManager&) = delete;

  // Queues a stored, pending run; it starts after its kwargs.after_seconds.
  void enqueue(const std::string& run_id);
  // Queues a stored, pending run and blocks until it has finished; returns it as it finished
  // (also for temporary runs, whose thread and run records are gone by then). nullopt when
  // the server is stopping or the run was deleted.
  std::optional<Run> enqueue_and_wait(const std::string& run_id);
  // Blocks until an existing run has finished; nullopt as above or when there is no such run.
  std::optional<Run> wait(const std::string& run_id);
  // Stops a pending or running run. "interrupt": it ends as "interrupted", keeping the steps it
  // completed; "rollback": it is deleted with every checkpoint it wrote. A running run stops
  // between two steps. Returns false when the run is not pending or running.
  bool cancel(const std::string& run_id, const std::string& action);
  // Stops the workers after the runs they are executing; queued runs stay pending.
  void shutdown();

 private:
  struct Queued {
    std::string run_id;
    std::chrono::steady_clock::time_point ready_at;
  };
  void work();
  void execute(const std::string& run_id);
  void finish(Run& run);
  void roll_back(const Run& run);
  void open_stream(const std::string& run_id);
  std::optional<Run> wait_locked(std::unique_lock<std::mutex>& lock, const std::string& run_id);

  Storage& storage_;
  const Graphs& graphs_;
  StreamHub& streams_;
  std::mutex mutex_;
  std::condition_variable queued_;    // a run was queued, a thread freed, or shutdown
  std::condition_variable finished_;  // a run finished, or shutdown
  std::deque<Queued> queue_;          // oldest first
  std::set<std::string> busy_threads_;
  std::map<std::string, std::string> cancels_;  // running run id -> requested action
  std::map<std::string, int> waiters_;          // run id -> callers blocked in wait
  std::map<std::string, Run> completed_;        // finished runs someone waits for
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace lgs
