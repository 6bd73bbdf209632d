// Runs in the background: a pool of workers that claim pending runs from storage and execute
// graph plugins. The queue is the storage itself, so every server on one database shares it and
// a queued run outlives a restart. A worker picks a run up as soon as it is queued here (or its
// after_seconds delay is over, or another server queued it: workers also look every 250 ms);
// runs of one thread execute one at a time, in the order they became ready.
//
// A running run is leased to this server and the lease renewed while it runs. A run whose lease
// ran out (its server was killed) is marked "error" by whichever server notices, never re-run: its
// nodes may have had side effects a second execution would repeat.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
  // Every run this server executes gets a stream in `streams` (metadata first), closed when it
  // finishes. Running runs left by a previous server on an unshared database fail at once.
  RunManager(Storage& storage, const Graphs& graphs, StreamHub& streams, int workers);
  ~RunManager();
  RunManager(const RunManager&) = delete;
  RunManager& operator=(const RunManager&) = delete;

  // A stored, pending run is ready: wakes a worker (it starts after its ready_at).
  void enqueue(const std::string& run_id);
  // As enqueue, then blocks until the run has finished; returns it as it finished (also for
  // temporary runs, whose thread and run records are gone by then). nullopt when the run was
  // deleted, or when the server is stopping and the run does not execute here (see drain).
  std::optional<Run> enqueue_and_wait(const std::string& run_id);
  // Blocks until an existing run has finished; nullopt as above or when there is no such run.
  std::optional<Run> wait(const std::string& run_id);
  // Stops a pending or running run, whichever server runs it. "interrupt": it ends as
  // "interrupted", keeping the steps it completed; "rollback": it is deleted with every
  // checkpoint it wrote. A running run stops between two steps. Returns false when the run is
  // not pending or running.
  bool cancel(const std::string& run_id, const std::string& action);
  // The server is stopping (SIGTERM): no queued run is taken any more, and the runs executing
  // here go on to their end. Waits for other runs return at once, and their streams end
  // (draining_away): those runs stay queued for the next start or another replica.
  void drain();
  // True once drain() was called, for a run that does not execute here.
  bool draining_away(const std::string& run_id);
  // Stops the workers after the runs they are executing; queued runs stay pending.
  void shutdown();

 private:
  void work();
  void keep_leases();
  void execute(Run run);
  void fail_orphan(const Run& run);
  using ThreadChange = std::function<void(Thread&)>;
  void finish(Run& run, const std::string& cancel_action, const ThreadChange& succeeded = {});
  void store_end(const Run& run, const std::string& cancel_action, bool& error_published, const ThreadChange& succeeded);
  void store_unstored_ends();
  void roll_back(const Run& run);
  void open_stream(const std::string& run_id);
  void notify_queued();
  std::optional<Run> wait_for(const std::string& run_id, bool registered);
  void wake_waiters(const std::string& run_id);  // with mutex_ held
  void wake_all_waiters();                       // with mutex_ held
  void keep_end(const Run& run);                 // with mutex_ held
  bool draining_away_locked(const std::string& run_id) const;  // draining_away, mutex_ held
  std::optional<Run> ended_elsewhere(const std::string& run_id);

  Storage& storage_;
  const Graphs& graphs_;
  StreamHub& streams_;
  const std::string worker_id_;  // this server, as the lease holder of the runs it executes
  std::mutex mutex_;
  std::condition_variable queued_;    // a run was queued here, or shutdown: wakes one idle worker per run
  std::condition_variable keeper_cv_;  // the lease keeper may stop
  uint64_t queued_count_ = 0;         // bumped with every queued_ notification
  std::set<std::string> running_here_;          // runs this server's workers claimed and execute
  int claiming_ = 0;                            // workers claiming a run from storage right now
  std::map<std::string, std::string> cancels_;  // run id -> action, for runs executing here
  // The callers blocked in wait for one run. They share a condition of their own, so that a run's
  // end wakes only those who wait for it.
  struct Waiters {
    int count = 0;
    uint64_t wakes = 0;  // bumped at every notification
    std::condition_variable woken;
    void wake() {
      ++wakes;
      woken.notify_all();
    }
  };
  std::map<std::string, Waiters> waiters_;  // run id -> its waiters
  std::map<std::string, Run> completed_;        // finished runs someone waits for, and recent temporary ones
  // Temporary runs that ended here before anyone waited for them (a worker can claim and end a
  // run before the request that created it begins its wait): kept in completed_ for kEndedKept.
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> ended_unawaited_;
  std::map<std::string, Run> unstored_;         // ended here while the database was unavailable
  bool draining_ = false;  // drain(): no more runs are taken
  bool stopping_ = false;
  bool keeper_stopping_ = false;  // set once the workers are gone: leases are kept until then
  std::atomic<bool> claims_failing_{false};  // logged once per outage, not at every poll
  std::vector<std::thread> workers_;
  std::thread keeper_;
};

}  // namespace lgs
