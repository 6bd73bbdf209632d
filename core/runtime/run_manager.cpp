#include "runtime/run_manager.hpp"

#include "runtime/executor.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace lgs {

namespace {

// The store as graph nodes reach it (graph.hpp's Store): no auth handlers apply.
std::string store_call(Storage& storage, std::string_view op, std::string_view request_text) {
  const json request = json::parse(request_text);
  auto path = [&](const char* key) {
    std::vector<std::string> out;
    for (const auto& label : request.at(key)) out.push_back(label.get<std::string>());
    return out;
  };
  if (op == "get") {
    auto item = storage.get_item(path("namespace"), request.at("key").get<std::string>());
    return item ? item->to_json().dump() : "null";
  }
  if (op == "put") {
    Item item;
    item.namespace_path = path("namespace");
    item.key = request.at("key").get<std::string>();
    item.value = request.at("value");
    if (item.namespace_path.empty() || item.key.empty() || !item.value.is_object())
      throw std::invalid_argument("store put needs a namespace, a key and an object value");
    item.created_at = item.updated_at = now_iso8601();
    storage.put_item(item);
    return "null";
  }
  if (op == "delete") {
    storage.delete_item(path("namespace"), request.at("key").get<std::string>());
    return "null";
  }
  if (op == "search") {
    ItemQuery q;
    q.namespace_prefix = path("namespace_prefix");
    q.value_filter = request.value("filter", json::object());
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
    : storage_(storage), graphs_(graphs), streams_(streams) {
  for (int i = 0; i < std::max(workers, 1); ++i) workers_.emplace_back([this] { work(); });
}

RunManager::~RunManager() { shutdown(); }

void RunManager::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  queued_.notify_all();
  finished_.notify_all();
  for (auto& worker : workers_)
    if (worker.joinable()) worker.join();
  workers_.clear();
}

void RunManager::open_stream(const std::string& run_id) {
  streams_.open(run_id);
  streams_.publish(run_id, "", "metadata", {{"run_id", run_id}, {"attempt", 1}});
}

void RunManager::enqueue(const std::string& run_id) {
  open_stream(run_id);
  int delay = 0;
  if (auto run = storage_.get_run(run_id)) delay = run->kwargs.value("after_seconds", 0);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({run_id, std::chrono::steady_clock::now() + std::chrono::seconds(delay)});
  }
  queued_.notify_all();
}

std::optional<Run> RunManager::enqueue_and_wait(const std::string& run_id) {
  open_stream(run_id);
  std::unique_lock lock(mutex_);
  ++waiters_[run_id];  // before it can finish, so its result is kept for us
  queue_.push_back({run_id, std::chrono::steady_clock::now()});
  queued_.notify_all();
  return wait_locked(lock, run_id);
}

std::optional<Run> RunManager::wait(const std::string& run_id) {
  std::unique_lock lock(mutex_);
  ++waiters_[run_id];
  return wait_locked(lock, run_id);
}

std::optional<Run> RunManager::wait_locked(std::unique_lock<std::mutex>& lock, const std::string& run_id) {
  std::optional<Run> result;
  while (true) {
    if (auto done = completed_.find(run_id); done != completed_.end()) {
      result = done->second;
      break;
    }
    auto run = storage_.get_run(run_id);
    if (!run || run->finished()) {
      result = std::move(run);
      break;
    }
    if (stopping_) break;
    finished_.wait(lock);
  }
  if (--waiters_[run_id] == 0) {
    waiters_.erase(run_id);
    completed_.erase(run_id);
  }
  return result;
}

bool RunManager::cancel(const std::string& run_id, const std::string& action) {
  std::unique_lock lock(mutex_);
  auto run = storage_.get_run(run_id);
  if (!run || run->finished()) return false;
  auto queued = std::find_if(queue_.begin(), queue_.end(), [&](const Queued& q) { return q.run_id == run_id; });
  if (queued != queue_.end()) {  // not started: finish it here
    queue_.erase(queued);
    cancels_[run_id] = action;
    lock.unlock();
    run->status = "interrupted";
    if (action == "rollback") roll_back(*run);
    finish(*run);
    lock.lock();
    cancels_.erase(run_id);
    finished_.notify_all();
    return true;
  }
  cancels_[run_id] = action;  // running: the worker stops it between two steps
  return true;
}

void RunManager::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    // The oldest ready run whose thread is not executing another run.
    const auto now = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> earliest_delayed;
    auto next = queue_.end();
    std::string thread_id;
    for (auto it = queue_.begin(); it != queue_.end();) {
      auto run = storage_.get_run(it->run_id);
      if (!run) {  // deleted while queued
        it = queue_.erase(it);
        continue;
      }
      if (it->ready_at > now) {
        if (!earliest_delayed || it->ready_at < *earliest_delayed) earliest_delayed = it->ready_at;
      } else if (!busy_threads_.count(run->thread_id)) {
        next = it;
        thread_id = run->thread_id;
        break;
      }
      ++it;
    }
    if (next == queue_.end()) {
      if (stopping_) return;
      if (earliest_delayed) queued_.wait_until(lock, *earliest_delayed);
      else queued_.wait(lock);
      continue;
    }
    const std::string run_id = next->run_id;
    queue_.erase(next);
    busy_threads_.insert(thread_id);
    lock.unlock();
    execute(run_id);
    lock.lock();
    busy_threads_.erase(thread_id);
    cancels_.erase(run_id);
    finished_.notify_all();
    queued_.notify_all();  // a run waiting for this thread may go now
  }
}

void RunManager::execute(const std::string& run_id) {
  auto run = storage_.get_run(run_id);
  if (!run) return;
  auto thread = storage_.get_thread(run->thread_id);
  if (!thread) {
    run->status = "error";
    run->error = {{"error", "ThreadNotFound"}, {"message", "the run's thread was deleted"}};
    finish(*run);
    return;
  }
  const std::string now = now_iso8601();
  storage_.update_run(run_id, [&](Run& r) { r.status = "running"; r.updated_at = now; });
  storage_.update_thread(run->thread_id, [&](Thread& t) { t.status = "busy"; t.updated_at = now; });

  const json& kwargs = run->kwargs;
  const json& config = kwargs["config"];
  const std::string graph_id = config["configurable"].value("graph_id", "");
  auto list = [&](const char* key) {
    const json& v = kwargs.value(key, json());
    return v.is_array() ? v.get<std::vector<std::string>>() : std::vector<std::string>{};
  };
  try {
    auto graph = graphs_.find(graph_id);
    if (graph == graphs_.end()) throw GraphError("GraphNotFound", "graph \"" + graph_id + "\" is not loaded");
    RunContext context{*graph->second, config, run->thread_id, run_id, list("interrupt_before"), list("interrupt_after"),
                       [&](const Checkpoint& c) { storage_.put_checkpoint(c); },
                       [&](const std::string& mode, const std::string& event, const json& data) {
                         streams_.publish(run_id, mode, event, data);
                       },
                       [&] {
                         std::lock_guard lock(mutex_);
                         return cancels_.count(run_id) > 0;
                       },
                       [this](std::string_view op, std::string_view request) { return store_call(storage_, op, request); }};
    Execution result = run_graph(context, storage_.latest_checkpoint(run->thread_id), kwargs.value("input", json()),
                                 kwargs.value("command", json()));
    run->status = "success";
    run->output = result.values;
    if (result.interrupted) {
      json list = json::array();
      for (const auto& [task, entries] : result.interrupts.items()) list.insert(list.end(), entries.begin(), entries.end());
      if (!list.empty()) run->output["__interrupt__"] = list;
      run->status = "interrupted";
    }
    const std::string done = now_iso8601();
    storage_.update_thread(run->thread_id, [&](Thread& t) {
      t.values = result.values;
      t.interrupts = result.interrupts;
      t.status = result.interrupted ? "interrupted" : "idle";
      t.error = nullptr;
      t.updated_at = done;
    });
  } catch (const RunCancelled&) {
    std::string action;
    {
      std::lock_guard lock(mutex_);
      action = cancels_[run_id];
    }
    run->status = "interrupted";
    if (action == "rollback") roll_back(*run);
    else if (auto latest = storage_.latest_checkpoint(run->thread_id))
      storage_.update_thread(run->thread_id, [&](Thread& t) { t.values = latest->values; t.status = "idle"; });
  } catch (const GraphError& e) {
    run->status = "error";
    run->error = {{"error", e.type}, {"message", e.what()}};
  } catch (const std::exception& e) {
    log::error("run {} failed: {}", run_id, e.what());
    run->status = "error";
    run->error = {{"error", "InternalError"}, {"message", "the run failed inside the server"}};
  }
  finish(*run);
}

void RunManager::roll_back(const Run& run) {
  storage_.delete_checkpoints_of_run(run.thread_id, run.run_id);
  auto latest = storage_.latest_checkpoint(run.thread_id);
  storage_.update_thread(run.thread_id, [&](Thread& t) {
    t.values = latest ? latest->values : json();
    t.status = "idle";
  });
}

void RunManager::finish(Run& run) {
  const std::string now = now_iso8601();
  if (run.status == "error")
    storage_.update_thread(run.thread_id, [&](Thread& t) {
      t.status = "error";
      t.error = run.error;
      t.updated_at = now;
    });
  else if (run.status == "interrupted" && !run.output.contains("__interrupt__"))
    storage_.update_thread(run.thread_id, [&](Thread& t) {
      if (t.status == "busy") t.status = "idle";
      t.updated_at = now;
    });
  bool rolled_back = false;
  {
    std::lock_guard lock(mutex_);
    rolled_back = cancels_.count(run.run_id) && cancels_[run.run_id] == "rollback";
  }
  if (rolled_back) {
    storage_.delete_run(run.run_id);
  } else {
    storage_.update_run(run.run_id, [&](Run& r) {
      r.status = run.status;
      r.output = run.output;
      r.error = run.error;
      r.updated_at = now;
    });
  }
  {
    std::lock_guard lock(mutex_);
    if (waiters_.count(run.run_id)) completed_[run.run_id] = run;
  }
  if (run.status == "error") streams_.publish(run.run_id, "", "error", run.error);
  streams_.close(run.run_id);
  if (run.kwargs.value("temporary", false)) storage_.delete_thread(run.thread_id);
  if (run.status == "error") log::warn("run {} on thread {} failed: {}", run.run_id, run.thread_id, run.error.dump());
}

}  // namespace lgs
