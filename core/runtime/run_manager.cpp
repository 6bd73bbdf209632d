#include "runtime/run_manager.hpp"

#include "runtime/executor.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"
#include "util/text.hpp"
#include "util/log.hpp"

namespace lgs {

namespace {

// A run's lease: renewed every kRenewEvery while it runs; a server that stops renewing (killed)
// leaves runs whose lease ends kLease later, which any server then fails.
constexpr double kLease = 30;
constexpr auto kRenewEvery = std::chrono::seconds(5);
// How often idle workers look for runs other servers queued or whose delay is over.
constexpr auto kPollEvery = std::chrono::milliseconds(250);
// Waiters look at storage this often for runs that finish on another server.
constexpr auto kWaitPollEvery = std::chrono::milliseconds(100);
constexpr auto kEndedKept = std::chrono::seconds(2);  // see ended_unawaited_
// Run events kept in a shared database, for joining a run late.
constexpr double kEventRetention = 10 * 60;

// The store as graph nodes reach it (graph.hpp's Store): no auth handlers apply, Item's rules
// for namespaces and keys do (as through the API). A put that breaks them fails; a name that
// breaks them names no item, so a get, delete or search with it finds nothing, without asking
// the database (which might not take it).
std::string store_call(Storage& storage, std::string_view op, std::string_view request_text) {
  const json request = json::parse(request_text);
  auto path = [&](const char* key) {
    std::vector<std::string> out;
    for (const auto& label : request.at(key)) out.push_back(label.get<std::string>());
    return out;
  };
  if (op == "put") {
    Item item;
    item.namespace_path = path("namespace");
    item.key = request.at("key").get<std::string>();
    item.value = request.at("value");
    if (!Item::valid_namespace(item.namespace_path, false) || !Item::valid_key(item.key) || !item.value.is_object() ||
        holds_nul(item.value))
      throw std::invalid_argument("a store put needs a valid namespace and key, and an object value without NUL characters");
    item.created_at = item.updated_at = now_iso8601();
    storage.put_item(item);
    return "null";
  }
  if (op == "get" || op == "delete") {
    const auto ns = path("namespace");
    const auto key = request.at("key").get<std::string>();
    if (!Item::valid_namespace(ns, true) || !Item::valid_key(key)) return "null";
    if (op == "delete") {
      storage.delete_item(ns, key);
      return "null";
    }
    auto item = storage.get_item(ns, key);
    return item ? item->to_json().dump() : "null";
  }
  if (op == "search") {
    ItemQuery q;
    q.namespace_prefix = path("namespace_prefix");
    if (!Item::valid_namespace(q.namespace_prefix, true)) return "[]";
    q.value_filter = request.value("filter", json::object());
    if (holds_nul(q.value_filter)) return "[]";  // no stored value holds one
    q.limit = request.value("limit", 10);
    q.offset = request.value("offset", 0);
    json items = json::array();
    for (const auto& item : storage.search_items(q)) items.push_back(item.to_json());
    return items.dump();
  }
  throw std::invalid_argument("unknown store operation");
}

}  // namespace

RunManager::RunManager(Storage& storage, const Graphs& graphs, StreamHub& streams, int workers)
    : storage_(storage), graphs_(graphs), streams_(streams), worker_id_(uuid4()) {
  // An unshared database belongs to this server alone: whatever still runs there was running
  // when the previous server stopped.
  if (!storage_.shared())
    for (const auto& run : storage_.expired_runs("9999-12-31T23:59:59.999999+00:00")) fail_orphan(run);
  for (int i = 0; i < std::max(workers, 1); ++i) workers_.emplace_back([this] { work(); });
  keeper_ = std::thread([this] { keep_leases(); });
}

RunManager::~RunManager() { shutdown(); }

void RunManager::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    ++queued_count_;
    wake_all_waiters();
  }
  queued_.notify_all();
  for (auto& worker : workers_)
    if (worker.joinable()) worker.join();
  workers_.clear();
  // The leases of the runs the workers finished meanwhile were kept until now: another server
  // would otherwise fail a run that outlasts its lease while this one stops.
  {
    std::lock_guard lock(mutex_);
    keeper_stopping_ = true;
  }
  keeper_cv_.notify_all();
  if (keeper_.joinable()) keeper_.join();
  store_unstored_ends();  // a last try for runs that ended while the database was unavailable
}

void RunManager::drain() {
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    ++queued_count_;
    wake_all_waiters();
  }
  queued_.notify_all();
}

bool RunManager::draining_away(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  return draining_away_locked(run_id);
}

// While a claim is open, the run it takes is not known yet: it may be this one.
bool RunManager::draining_away_locked(const std::string& run_id) const {
  return draining_ && claiming_ == 0 && !running_here_.count(run_id);
}

void RunManager::open_stream(const std::string& run_id) {
  if (streams_.open(run_id)) streams_.publish(run_id, "", "metadata", {{"run_id", run_id}, {"attempt", 1}});
}

// One run was queued: one idle worker claims it (waking them all made every one of them query
// the queue, and all but one find nothing). A worker busy meanwhile sees the count change and
// looks again before it sleeps.
void RunManager::notify_queued() {
  {
    std::lock_guard lock(mutex_);
    ++queued_count_;
  }
  queued_.notify_one();
}

void RunManager::enqueue(const std::string& run_id) {
  // On an unshared database this server executes the run: its stream exists from now on, so a
  // client streaming it misses nothing. Otherwise the server that claims it opens it.
  if (!storage_.shared()) open_stream(run_id);
  notify_queued();
}

std::optional<Run> RunManager::enqueue_and_wait(const std::string& run_id) {
  {
    std::lock_guard lock(mutex_);
    ++waiters_[run_id].count;  // before it can finish, so its result is kept for us
  }
  enqueue(run_id);
  return wait_for(run_id, /*registered=*/true);
}

void RunManager::wake_waiters(const std::string& run_id) {
  if (auto it = waiters_.find(run_id); it != waiters_.end()) it->second.wake();
}

void RunManager::keep_end(const Run& run) {
  const auto now = std::chrono::steady_clock::now();
  completed_[run.run_id] = run;
  if (!waiters_.count(run.run_id)) ended_unawaited_.emplace_back(now, run.run_id);
  while (!ended_unawaited_.empty() && now - ended_unawaited_.front().first > kEndedKept) {
    if (!waiters_.count(ended_unawaited_.front().second)) completed_.erase(ended_unawaited_.front().second);
    ended_unawaited_.pop_front();
  }
}

void RunManager::wake_all_waiters() {
  for (auto& [run_id, waiting] : waiters_) waiting.wake();
}

std::optional<Run> RunManager::wait(const std::string& run_id) { return wait_for(run_id, /*registered=*/false); }

std::optional<Run> RunManager::wait_for(const std::string& run_id, bool registered) {
  std::unique_lock lock(mutex_);
  Waiters& waiting = waiters_[run_id];  // stays while count > 0
  if (!registered) ++waiting.count;
  std::optional<Run> result;
  while (true) {
    if (auto done = completed_.find(run_id); done != completed_.end()) {
      result = done->second;
      break;
    }
    const uint64_t seen = waiting.wakes;
    lock.unlock();
    std::optional<Run> run;
    bool unreachable = false;  // the database is down for now: look again later
    try {
      run = storage_.get_run(run_id);
      if (!run && storage_.shared()) run = ended_elsewhere(run_id);
    } catch (const StorageUnavailable& e) {
      log::warn("waiting for run {}: {}", run_id, e.what());
      unreachable = true;
    }
    lock.lock();
    if (!unreachable && (!run || run->finished())) {
      if (auto done = completed_.find(run_id); done != completed_.end()) run = done->second;
      result = std::move(run);
      break;
    }
    if (stopping_ || draining_away_locked(run_id)) break;
    // Runs finishing here wake us at once; runs on another server are seen by looking again.
    waiting.woken.wait_for(lock, kWaitPollEvery, [&] { return waiting.wakes != seen; });
  }
  if (--waiting.count == 0) {
    waiters_.erase(run_id);
    completed_.erase(run_id);
  }
  return result;
}

// A temporary run that another server executed is deleted with its thread when it finishes;
// what it ended with is still in its stored stream: its last values and the interrupt it paused
// at (as execute() makes its output), or its error.
std::optional<Run> RunManager::ended_elsewhere(const std::string& run_id) {
  std::vector<StreamEvent> events;
  for (int64_t after = -1;;) {
    auto batch = storage_.read_events(run_id, after, 1000);
    if (batch.empty()) break;
    after = batch.back().id;
    events.insert(events.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
  }
  if (events.empty()) return std::nullopt;
  Run run;
  run.run_id = run_id;
  run.status = "success";
  json interrupts;
  for (const auto& e : events) {
    if (e.event == "values") run.output = json::parse(e.data, nullptr, false);
    if (e.event == "updates") {
      const json update = json::parse(e.data, nullptr, false);
      if (update.is_object() && update.contains("__interrupt__")) interrupts = update["__interrupt__"];
    }
    if (e.event == "error") {
      run.status = "error";
      run.error = json::parse(e.data, nullptr, false);
    }
  }
  if (run.status == "success" && !interrupts.is_null()) {
    run.status = "interrupted";
    if (!run.output.is_object()) run.output = json::object();
    if (interrupts.is_array() && !interrupts.empty()) run.output["__interrupt__"] = interrupts;
  }
  return run;
}

bool RunManager::cancel(const std::string& run_id, const std::string& action) {
  const std::string now = now_iso8601();
  bool was_pending = false;
  bool running = false;
  Run run;
  // One atomic step decides between a run no worker has claimed (finished here) and a running
  // one (its worker, on whichever server, sees the request between two steps).
  storage_.update_run(run_id, [&](Run& r) {
    if (r.status == "pending") {
      r.status = "interrupted";
      r.updated_at = now;
      was_pending = true;
      run = r;
    } else if (r.status == "running") {
      r.cancel = action;
      running = true;
    }
  });
  if (running) {
    std::lock_guard lock(mutex_);
    if (running_here_.count(run_id)) cancels_[run_id] = action;
    return true;
  }
  if (!was_pending) return false;
  finish(run, action);
  return true;
}

void RunManager::work() {
  while (true) {
    uint64_t seen;
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || draining_) return;
      seen = queued_count_;
      ++claiming_;
    }
    std::optional<Run> run;
    try {
      run = storage_.claim_run(worker_id_, now_iso8601(), iso8601_from_now(kLease));
      if (claims_failing_.exchange(false)) log::info("claiming queued runs works again");
    } catch (const std::exception& e) {
      if (!claims_failing_.exchange(true))
        log::warn("claiming a queued run failed: {} (every worker tries again every {} ms)", e.what(),
                  kPollEvery.count());
    }
    bool draining;
    {
      std::lock_guard lock(mutex_);
      --claiming_;
      if (run) {
        running_here_.insert(run->run_id);
        // Asked before this worker took it, between the claim and now.
        if (!run->cancel.empty()) cancels_[run->run_id] = run->cancel;
      }
      draining = draining_;
      if (draining) wake_all_waiters();  // waits that came while the claim was open decide now
    }
    if (run) {
      // Another idle worker looks for a run too: this one may have taken one that came due or
      // was freed without a notification, while the one notified for is still queued.
      notify_queued();
      const std::string run_id = run->run_id;
      try {
        execute(std::move(*run));
      } catch (const std::exception& e) {  // not to end the server with this thread
        log::error("run {}: {}", run_id, e.what());
      }
      continue;  // a run that waited for this thread is this worker's next claim
    }
    std::unique_lock lock(mutex_);
    queued_.wait_for(lock, kPollEvery, [&] { return stopping_ || draining_ || queued_count_ != seen; });
  }
}

void RunManager::keep_leases() {
  auto last_sweep = std::chrono::steady_clock::time_point{};
  while (true) {
    {
      std::unique_lock lock(mutex_);
      keeper_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return keeper_stopping_; });
      if (keeper_stopping_) return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sweep < kRenewEvery) continue;
    last_sweep = now;
    store_unstored_ends();
    try {
      storage_.renew_leases(worker_id_, iso8601_from_now(kLease));
      for (const auto& run : storage_.expired_runs(now_iso8601())) {
        try {
          fail_orphan(run);
        } catch (const std::exception& e) {  // the others are failed still; this one at the next sweep
          log::warn("failing run {}, left running by a stopped server: {}", run.run_id, e.what());
        }
      }
      if (storage_.shared()) storage_.delete_events_before(iso8601_from_now(-kEventRetention));
    } catch (const std::exception& e) {
      log::warn("renewing run leases failed: {}", e.what());
    }
  }
}

void RunManager::fail_orphan(const Run& orphan) {
  const std::string now = now_iso8601();
  const json error = {{"error", "ServerStopped"},
                      {"message", "the server executing this run stopped before it finished; the run is not "
                                  "retried because its nodes may have had side effects"}};
  // A temporary run goes with its thread however it ends (see store_end).
  const bool temporary = orphan.kwargs.value("temporary", false);
  // First, as a run that ends here publishes its error before it is marked finished: readers on
  // other servers stop once it is, and a temporary run's record is gone next, so that whoever
  // waits for it on another server reads how it ended from its stream.
  streams_.publish_orphan_error(orphan.run_id, error);
  const auto latest = temporary ? std::nullopt : storage_.latest_checkpoint(orphan.thread_id);
  const bool failed = temporary ? storage_.delete_thread(orphan.thread_id) : storage_.end_run(
      orphan.thread_id, orphan.run_id,
      [&](Run& r) {
        if (r.status != "running") return false;  // finished or taken care of meanwhile
        r.status = "error";
        r.error = error;
        r.updated_at = now;
        return true;
      },
      [&](Thread& t) {
        if (latest) t.values = latest->values;
        t.status = "error";
        t.error = error;
        t.updated_at = now;
      });
  if (!failed) return;
  log::warn("run {} on thread {} was left running by a stopped server: {}", orphan.run_id, orphan.thread_id,
            temporary ? "deleted with its temporary thread" : "marked as failed");
  std::lock_guard lock(mutex_);
  wake_waiters(orphan.run_id);
}

void RunManager::execute(Run run) {
  const std::string run_id = run.run_id;
  struct Done {  // work() registered the run as running here when it claimed it
    RunManager& self;
    const std::string& run_id;
    ~Done() {
      std::lock_guard lock(self.mutex_);
      self.cancels_.erase(run_id);
      self.running_here_.erase(run_id);
    }
  } done{*this, run_id};
  open_stream(run_id);

  const json& kwargs = run.kwargs;
  const json& config = kwargs["config"];
  const std::string graph_id = config["configurable"].value("graph_id", "");
  auto list = [&](const char* key) {
    const json& v = kwargs.value(key, json());
    return v.is_array() ? v.get<std::vector<std::string>>() : std::vector<std::string>{};
  };
  // A cancel asked on this server is seen at once; one asked on another server (or while this
  // worker was claiming the run) is in storage.
  auto cancel_action = [&]() -> std::string {
    {
      std::lock_guard lock(mutex_);
      if (auto it = cancels_.find(run_id); it != cancels_.end()) return it->second;
    }
    auto stored = storage_.get_run(run_id);
    return stored ? stored->cancel : "";
  };
  // durability "sync": a step's checkpoint is on disk before the next step starts. "async" (the
  // default) and "exit": it is committed, and reaches the disk while the next steps run; the
  // run's end waits for the disk, which brings every checkpoint before it along.
  const WriteWait checkpoint_wait =
      kwargs.value("durability", "async") == "sync" ? WriteWait::synced : WriteWait::committed;
  std::string cancelled_with;
  ThreadChange succeeded;  // what the run's success makes of its thread, stored with the run's end
  try {
    if (!storage_.get_thread(run.thread_id)) throw GraphError("ThreadNotFound", "the run's thread was deleted");
    storage_.update_thread(run.thread_id, [&](Thread& t) { t.status = "busy"; t.updated_at = run.updated_at; },
                           WriteWait::committed);  // the claim before it is on disk
    auto graph = graphs_.find(graph_id);
    if (graph == graphs_.end()) throw GraphError("GraphNotFound", "graph \"" + graph_id + "\" is not loaded");
    RunContext context{*graph->second, config, run.thread_id, run_id, list("interrupt_before"), list("interrupt_after"),
                       [&](const Checkpoint& c) { storage_.put_checkpoint(c, checkpoint_wait); },
                       [&](const std::string& mode, const std::string& event, const json& data) {
                         streams_.publish(run_id, mode, event, data);
                       },
                       [&] { return !cancel_action().empty(); },
                       [this](std::string_view op, std::string_view request) { return store_call(storage_, op, request); }};
    Execution result = run_graph(context, storage_.latest_checkpoint(run.thread_id), kwargs.value("input", json()),
                                 kwargs.value("command", json()));
    run.status = "success";
    run.output = result.values;
    if (result.interrupted) {
      json list = json::array();
      for (const auto& [task, entries] : result.interrupts.items()) list.insert(list.end(), entries.begin(), entries.end());
      if (!list.empty()) run.output["__interrupt__"] = list;
      run.status = "interrupted";
    }
    succeeded = [values = result.values, interrupts = result.interrupts, interrupted = result.interrupted](Thread& t) {
      t.values = values;
      t.interrupts = interrupts;
      t.status = interrupted ? "interrupted" : "idle";
      t.error = nullptr;
    };
  } catch (const RunCancelled&) {
    try {
      cancelled_with = cancel_action();
    } catch (const std::exception&) {  // the database is unavailable: the least a cancel does
    }
    if (cancelled_with.empty()) cancelled_with = "interrupt";
    run.status = "interrupted";
    // A wait gets the values the run reached: the latest checkpoint's, which its stream's last
    // values event carried (the executor emits one after each checkpoint); the thread's when
    // it was cancelled before its first (a command's run in its first step).
    try {
      if (auto latest = storage_.latest_checkpoint(run.thread_id)) run.output = latest->values;
    } catch (const std::exception&) {  // the database is unavailable: {}
    }
  } catch (const GraphError& e) {
    run.status = "error";
    run.error = {{"error", e.type}, {"message", e.what()}};
  } catch (const std::exception& e) {
    log::error("run {} failed: {}", run_id, e.what());
    run.status = "error";
    run.error = {{"error", "InternalError"}, {"message", "the run failed inside the server"}};
  }
  finish(run, cancelled_with, succeeded);
}

void RunManager::roll_back(const Run& run) {
  storage_.delete_checkpoints_of_run(run.thread_id, run.run_id);
  auto latest = storage_.latest_checkpoint(run.thread_id);
  storage_.update_thread(run.thread_id, [&](Thread& t) {
    t.values = latest ? latest->values : json();
    t.status = "idle";
  });
}

// Records how a run ended (cancel_action: "" when it was not cancelled) and tells whoever waits
// or streams. When the database cannot store it, the run ends as an error (StorageUnavailable)
// for them, and that is stored once the database is back (store_unstored_ends): it is never left
// "running" by a server that goes on.
void RunManager::finish(Run& run, const std::string& cancel_action, const ThreadChange& succeeded) {
  bool error_published = false;
  bool stored = false;
  if (run.kwargs.value("temporary", false)) {
    // Its run and thread are deleted next: from then on, whoever waits for it finds its end here.
    std::lock_guard lock(mutex_);
    keep_end(run);
  }
  try {
    store_end(run, cancel_action, error_published, succeeded);
    stored = true;
  } catch (const std::exception& e) {
    log::error("run {} on thread {} ended ({}), but the database could not store it: {}; it is stored as failed "
               "once the database is back",
               run.run_id, run.thread_id, run.status, e.what());
    run.status = "error";
    run.error = {{"error", "StorageUnavailable"}, {"message", "the run ended, but the database could not store it"}};
    if (!error_published) streams_.publish(run.run_id, "", "error", run.error);
  }
  {
    std::lock_guard lock(mutex_);
    if (!stored) unstored_[run.run_id] = run;
    if (waiters_.count(run.run_id) || completed_.count(run.run_id)) completed_[run.run_id] = run;
    wake_waiters(run.run_id);
  }
  streams_.close(run.run_id);
  if (run.status == "error") log::warn("run {} on thread {} failed: {}", run.run_id, run.thread_id, run.error.dump());
}

// The thread and run records of an ended run, changed together (`succeeded`: what a run that ran
// to its end makes of its thread). The stream gets the error before the run is marked finished,
// so that a reader on another server, which stops once the run is finished, has it.
// A temporary run (stateless, on_completion "delete") ends by going with its thread: one
// transaction deletes the thread, its runs and checkpoints, so a server killed at any moment
// leaves either a run still "running", which the next start deletes the same way, or nothing.
void RunManager::store_end(const Run& run, const std::string& cancel_action, bool& error_published,
                           const ThreadChange& succeeded) {
  if (run.status == "error" && !error_published) {
    streams_.publish(run.run_id, "", "error", run.error);
    error_published = true;
  }
  if (run.kwargs.value("temporary", false)) {
    // Nobody reads a temporary thread again: the answer need not wait for the disk. Should the
    // server die first, the run it leaves running is deleted the same way at the next start.
    storage_.delete_thread(run.thread_id, WriteWait::committed);
    return;
  }
  if (cancel_action == "rollback") {  // the run goes as if it never was
    roll_back(run);
    storage_.delete_run(run.run_id);
    return;
  }
  const std::string now = now_iso8601();
  std::optional<Checkpoint> latest;
  if (!cancel_action.empty()) latest = storage_.latest_checkpoint(run.thread_id);
  storage_.end_run(
      run.thread_id, run.run_id,
      [&](Run& r) {
        r.status = run.status;
        r.output = run.output;
        r.error = run.error;
        r.cancel.clear();
        r.updated_at = now;
        return true;
      },
      [&](Thread& t) {
        if (!cancel_action.empty()) {
          if (latest) t.values = latest->values;
          if (t.status == "busy") t.status = "idle";
        } else if (run.status == "error") {
          t.status = "error";
          t.error = run.error;
        } else if (succeeded) {
          succeeded(t);
        } else {
          return;
        }
        t.updated_at = now;
      });
}

void RunManager::store_unstored_ends() {
  std::map<std::string, Run> ended;
  {
    std::lock_guard lock(mutex_);
    ended = unstored_;
  }
  for (const auto& [run_id, run] : ended) {
    try {
      bool error_published = true;  // when it ended
      store_end(run, "", error_published, {});
    } catch (const std::exception&) {
      return;  // the database is still unavailable: at the next sweep
    }
    log::info("run {} on thread {}: stored as failed now that the database is back", run_id, run.thread_id);
    std::lock_guard lock(mutex_);
    unstored_.erase(run_id);
  }
}

}  // namespace lgs
