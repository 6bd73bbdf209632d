// The run queue in storage: what a restart finds, ordering per thread, delays, cancels, and
// several run managers (servers) sharing one database.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <thread>

#include "load_graph.hpp"
#include "runtime/run_manager.hpp"
#include "storage/memory_storage.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

using namespace lgs;

namespace {

Graphs shipped_graphs() {
  Graphs graphs;
  for (const char* name : {"agent", "sleeper"}) graphs[name] = load_graph(PLUGIN_DIR, name);
  return graphs;
}

std::string new_thread(Storage& storage) {
  Thread t;
  t.thread_id = uuid4();
  t.created_at = t.updated_at = now_iso8601();
  REQUIRE(storage.create_thread(t));
  return t.thread_id;
}

// A pending run as the API stores it.
Run pending_run(const std::string& thread_id, const std::string& graph_id, json input, json configurable = json::object(),
                double delay_seconds = 0) {
  Run run;
  run.run_id = uuid4();
  run.thread_id = thread_id;
  run.created_at = run.updated_at = now_iso8601();
  run.ready_at = delay_seconds > 0 ? iso8601_from_now(delay_seconds) : run.created_at;
  configurable["graph_id"] = graph_id;
  run.kwargs = {{"input", std::move(input)}, {"config", {{"configurable", configurable}}}};
  return run;
}

// A MemoryStorage that refuses every write after `writes_left` more, as if its server were
// killed there: what was written stays, nothing after it is.
class KilledStorage : public MemoryStorage {
 public:
  int writes_left = std::numeric_limits<int>::max();

  bool update_thread(const std::string& id, const std::function<void(Thread&)>& change,
                     WriteWait wait = WriteWait::synced) override {
    spend();
    return MemoryStorage::update_thread(id, change, wait);
  }
  bool update_run(const std::string& id, const std::function<void(Run&)>& change) override {
    spend();
    return MemoryStorage::update_run(id, change);
  }
  bool end_run(const std::string& thread_id, const std::string& run_id, const std::function<bool(Run&)>& change_run,
               const std::function<void(Thread&)>& change_thread) override {
    spend();
    return MemoryStorage::end_run(thread_id, run_id, change_run, change_thread);
  }
  bool delete_thread(const std::string& id, WriteWait wait = WriteWait::synced) override {
    spend();
    return MemoryStorage::delete_thread(id, wait);
  }

 private:
  void spend() {
    if (writes_left <= 0) throw StorageUnavailable("killed");
    --writes_left;
  }
};

// A MemoryStorage slow to delete a thread, as a database under load: the deletion is visible at
// once, the call returns 300 ms later (waits look at storage every 100 ms meanwhile).
class SlowDeleteStorage : public MemoryStorage {
 public:
  bool delete_thread(const std::string& id, WriteWait wait = WriteWait::synced) override {
    const bool deleted = MemoryStorage::delete_thread(id, wait);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return deleted;
  }
};

Run sleeper_run(const std::string& thread_id, const std::string& label, json seconds, double delay_seconds = 0) {
  return pending_run(thread_id, "sleeper", {{"naps", {label}}}, {{"sleep_seconds", seconds}}, delay_seconds);
}

// A run on the thread that a server which was then killed had claimed: left "running".
Run left_running(Storage& storage, const std::string& thread_id) {
  Run left = sleeper_run(thread_id, "left", 0);
  storage.put_run(left);
  REQUIRE(storage.claim_run("a-server-that-was-killed", now_iso8601(), iso8601_from_now(30)));
  return left;
}

// A stateless run's: it goes with its thread when it ends.
Run put_temporary_run(Storage& storage, const std::string& thread_id, double seconds = 0) {
  Run run = sleeper_run(thread_id, "temporary", seconds);
  run.kwargs["temporary"] = true;
  storage.put_run(run);
  return run;
}

// Waits (bounded) until the run is in `status`.
Run wait_status(Storage& storage, const std::string& run_id, const std::string& status) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    auto run = storage.get_run(run_id);
    REQUIRE(run);
    if (run->status == status) return *run;
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "run is " << run->status << ", never " << status);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

TEST_SUITE("runtime.run_manager") {
  TEST_CASE("at start, a run left running fails as ServerStopped and a queued one runs") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams;
    const std::string thread_id = new_thread(storage);
    const Run left = left_running(storage, thread_id);
    Run queued = sleeper_run(thread_id, "queued", 0);
    storage.put_run(queued);

    RunManager runs(storage, graphs, streams, 2);
    Run failed = *storage.get_run(left.run_id);
    CHECK(failed.status == "error");
    CHECK(failed.error["error"] == "ServerStopped");
    CHECK(wait_status(storage, queued.run_id, "success").status == "success");
    CHECK(storage.get_thread(thread_id)->values["naps"] == json::array({"queued", "slept 0s"}));
  }

  TEST_CASE("a run left running fails together with its thread: a server killed at any write leaves no busy thread") {
    auto graphs = shipped_graphs();
    for (int writes = 0; writes < 3; ++writes) {
      CAPTURE(writes);
      KilledStorage storage;
      StreamHub streams;
      const std::string thread_id = new_thread(storage);
      const Run left = left_running(storage, thread_id);
      REQUIRE(storage.update_thread(thread_id, [](Thread& t) { t.status = "busy"; }));
      storage.writes_left = writes;
      try {
        RunManager killed_while_starting(storage, graphs, streams, 1);
      } catch (const StorageUnavailable&) {
      }
      storage.writes_left = std::numeric_limits<int>::max();
      RunManager restarted(storage, graphs, streams, 1);
      CHECK(storage.get_run(left.run_id)->status == "error");
      CHECK(storage.get_thread(thread_id)->status == "error");
    }
  }

  TEST_CASE("a temporary run goes with its thread: a server killed at any write leaves neither behind") {
    auto graphs = shipped_graphs();
    for (int writes = 0; writes < 4; ++writes) {
      CAPTURE(writes);
      KilledStorage storage;
      StreamHub streams;
      const std::string thread_id = new_thread(storage);
      const Run temporary = put_temporary_run(storage, thread_id);
      storage.writes_left = writes;
      {
        RunManager killed(storage, graphs, streams, 1);
        killed.enqueue_and_wait(temporary.run_id);
      }
      storage.writes_left = std::numeric_limits<int>::max();
      RunManager restarted(storage, graphs, streams, 1);
      CHECK_FALSE(storage.get_thread(thread_id));
      CHECK_FALSE(storage.get_run(temporary.run_id));
    }
  }

  TEST_CASE("a wait for a temporary run gets how it ended, however long the deletion of its thread takes") {
    auto graphs = shipped_graphs();
    SlowDeleteStorage storage;
    StreamHub streams;
    const std::string thread_id = new_thread(storage);
    // It takes 200 ms, so that the wait begins before it ends, whenever a worker claims it.
    const Run temporary = put_temporary_run(storage, thread_id, 0.2);
    RunManager runs(storage, graphs, streams, 1);
    const auto ended = runs.enqueue_and_wait(temporary.run_id);
    REQUIRE(ended);
    CHECK(ended->status == "success");
    CHECK(ended->output["naps"].at(0) == "temporary");
    CHECK_FALSE(storage.get_thread(thread_id));
  }

  TEST_CASE("a wait that begins after its temporary run ended gets how it ended") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams;
    const std::string thread_id = new_thread(storage);
    const Run temporary = put_temporary_run(storage, thread_id);
    RunManager runs(storage, graphs, streams, 1);  // a worker claims it at once
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (storage.get_thread(thread_id) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE_FALSE(storage.get_thread(thread_id));
    const auto ended = runs.enqueue_and_wait(temporary.run_id);
    REQUIRE(ended);
    CHECK(ended->status == "success");
  }

  TEST_CASE("a temporary run left running is deleted with its thread at start") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams;
    const std::string thread_id = new_thread(storage);
    const Run left = put_temporary_run(storage, thread_id);
    REQUIRE(storage.claim_run("a-server-that-was-killed", now_iso8601(), iso8601_from_now(30)));
    RunManager restarted(storage, graphs, streams, 1);
    CHECK_FALSE(storage.get_thread(thread_id));
    CHECK_FALSE(storage.get_run(left.run_id));
  }

  TEST_CASE("runs of one thread execute one at a time, in the order they became ready") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams;
    RunManager runs(storage, graphs, streams, 4);
    const std::string thread_id = new_thread(storage);
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) {
      Run run = sleeper_run(thread_id, "run " + std::to_string(i), 0.02);
      storage.put_run(run);
      ids.push_back(run.run_id);
    }
    for (const auto& id : ids) runs.enqueue(id);
    for (const auto& id : ids) REQUIRE(runs.wait(id)->status == "success");
    json expected = json::array();
    for (int i = 0; i < 4; ++i) {
      expected.push_back("run " + std::to_string(i));
      expected.push_back("slept 0.02s");
    }
    CHECK(storage.get_thread(thread_id)->values["naps"] == expected);
  }

  TEST_CASE("a delayed run waits for its time, and a cancel before then means it never runs") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams;
    RunManager runs(storage, graphs, streams, 2);
    const std::string thread_id = new_thread(storage);
    Run later = sleeper_run(thread_id, "later", 0, /*delay_seconds=*/0.4);
    storage.put_run(later);
    runs.enqueue(later.run_id);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    CHECK(storage.get_run(later.run_id)->status == "pending");
    CHECK(wait_status(storage, later.run_id, "success").status == "success");

    Run never = sleeper_run(thread_id, "never", 0, /*delay_seconds=*/30);
    storage.put_run(never);
    runs.enqueue(never.run_id);
    CHECK(runs.cancel(never.run_id, "interrupt"));
    CHECK(storage.get_run(never.run_id)->status == "interrupted");
    CHECK_FALSE(runs.cancel(never.run_id, "interrupt"));  // finished: nothing to cancel
    CHECK(storage.get_thread(thread_id)->values["naps"] == json::array({"later", "slept 0s"}));
  }

  TEST_CASE("a cancel another server recorded on the run stops it between two steps") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams;
    RunManager runs(storage, graphs, streams, 1);
    const std::string thread_id = new_thread(storage);
    Run run = sleeper_run(thread_id, "cut short", 0.5);
    storage.put_run(run);
    runs.enqueue(run.run_id);
    wait_status(storage, run.run_id, "running");
    storage.update_run(run.run_id, [](Run& r) { r.cancel = "interrupt"; });  // not through this manager
    CHECK(runs.wait(run.run_id)->status == "interrupted");
    CHECK(storage.get_thread(thread_id)->values["naps"] == json::array({"cut short"}));  // the step's write is discarded
  }

  TEST_CASE("while the server stops, the lease of a run still executing is renewed") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams;
    RunManager runs(storage, graphs, streams, 1);
    Run run = sleeper_run(new_thread(storage), "long", 8);
    storage.put_run(run);
    runs.enqueue(run.run_id);
    wait_status(storage, run.run_id, "running");
    // Its first lease ends about 30 s from now; a renewal moves that end past this moment.
    const std::string after_first_lease = iso8601_from_now(32);
    auto expires_by = [&](const std::string& when) {
      for (const auto& r : storage.expired_runs(when))
        if (r.run_id == run.run_id) return true;
      return false;
    };
    REQUIRE(expires_by(after_first_lease));
    const auto started = std::chrono::steady_clock::now();
    std::thread stop([&] { runs.shutdown(); });  // returns once the run ended
    // Renewals come every 5 s; the run lasts 8.
    while (expires_by(after_first_lease) && std::chrono::steady_clock::now() - started < std::chrono::seconds(7))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_MESSAGE(!expires_by(after_first_lease), "the lease was not renewed while the server stopped");
    CHECK(storage.get_run(run.run_id)->status == "running");
    stop.join();
    CHECK(storage.get_run(run.run_id)->status == "success");
  }

  TEST_CASE("a stop that comes while a worker claims a run: a wait for that run lasts until it ends") {
    // Storage whose claims take a while, as a database's can: drain() comes in the middle of one.
    struct SlowClaims : MemoryStorage {
      std::atomic<bool> claiming{false};
      std::optional<Run> claim_run(const std::string& worker, const std::string& now,
                                   const std::string& lease_until) override {
        claiming = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return MemoryStorage::claim_run(worker, now, lease_until);
      }
    };
    auto graphs = shipped_graphs();
    SlowClaims storage;
    StreamHub streams;
    RunManager runs(storage, graphs, streams, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the worker's first, empty claim
    Run run = sleeper_run(new_thread(storage), "claimed", 0.2);
    storage.put_run(run);
    storage.claiming = false;
    runs.enqueue(run.run_id);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!storage.claiming && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(storage.claiming);
    runs.drain();
    auto waited = runs.wait(run.run_id);  // the claim takes this run: it executes here
    REQUIRE_MESSAGE(waited, "the wait ended before the run, which executed here");
    CHECK(waited->status == "success");
  }

  TEST_CASE("two servers on one database execute every run exactly once") {
    auto graphs = shipped_graphs();
    MemoryStorage storage;
    StreamHub streams_a, streams_b;
    RunManager a(storage, graphs, streams_a, 3);
    RunManager b(storage, graphs, streams_b, 3);
    std::vector<Run> created;
    for (int i = 0; i < 30; ++i) {
      Run run = pending_run(new_thread(storage), "agent", {{"messages", "hi " + std::to_string(i)}});
      storage.put_run(run);
      (i % 2 ? a : b).enqueue(run.run_id);
      created.push_back(run);
    }
    for (const auto& run : created) {
      REQUIRE(a.wait(run.run_id)->status == "success");
      // Twice executed, the agent would have answered twice.
      CHECK(storage.get_thread(run.thread_id)->values["messages"].size() == 2);
    }
  }

  TEST_CASE("a node's store puts follow the store's rules for namespaces and keys, as the API's do") {
    Graphs graphs;
    graphs["memory"] = load_graph(FIXTURE_DIR, "graph_memory");  // gets, then puts, under ["visits", user]
    MemoryStorage storage;
    StreamHub streams;
    RunManager runs(storage, graphs, streams, 1);
    auto run_as = [&](const std::string& user) {
      Run run = pending_run(new_thread(storage), "memory", json::object(), {{"user", user}});
      storage.put_run(run);
      runs.enqueue(run.run_id);
      return *runs.wait(run.run_id);
    };
    CHECK(run_as("ann").status == "success");
    CHECK(storage.get_item({"visits", "ann"}, "count")->value == json{{"n", 1}});
    for (const std::string user : {std::string("a.b"), std::string(), std::string("x\0y", 3), std::string(2000, 'u')}) {
      const Run failed = run_as(user);
      CHECK_MESSAGE(failed.status == "error", "user of " << user.size() << " bytes");
      CHECK(storage.search_items(ItemQuery{.namespace_prefix = {"visits"}}).size() == 1);
    }
  }
}
