#include "runtime/run_manager.hpp"

#include "runtime/executor.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace lgs {

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

void RunManager::enqueue(const std::string& run_id) {
  open_stream(run_id);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(run_id);
  }
  queued_.notify_one();
}

void RunManager::open_stream(const std::string& run_id) {
  streams_.open(run_id);
  streams_.publish(run_id, "", "metadata", {{"run_id", run_id}, {"attempt", 1}});
}

std::optional<Run> RunManager::enqueue_and_wait(const std::string& run_id) {
  open_stream(run_id);
  std::unique_lock lock(mutex_);
  ++waiters_[run_id];  // before it can finish, so its result is kept for us
  queue_.push_back(run_id);
  queued_.notify_one();
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

void RunManager::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    // The oldest queued run whose thread is not executing another run.
    auto next = queue_.end();
    std::string thread_id;
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      auto run = storage_.get_run(*it);
      if (!run) {  // deleted while queued
        it = queue_.erase(it);
        if (it == queue_.end()) break;
        --it;
        continue;
      }
      if (!busy_threads_.count(run->thread_id)) {
        next = it;
        thread_id = run->thread_id;
        break;
      }
    }
    if (next == queue_.end()) {
      if (stopping_) return;
      queued_.wait(lock);
      continue;
    }
    const std::string run_id = *next;
    queue_.erase(next);
    busy_threads_.insert(thread_id);
    lock.unlock();
    execute(run_id);
    lock.lock();
    busy_threads_.erase(thread_id);
    finished_.notify_all();
    if (!queue_.empty()) queued_.notify_one();  // a run waiting for this thread may go now
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

  const json& config = run->kwargs["config"];
  const std::string graph_id = config["configurable"].value("graph_id", "");
  try {
    auto graph = graphs_.find(graph_id);
    if (graph == graphs_.end()) throw GraphError("GraphNotFound", "graph \"" + graph_id + "\" is not loaded");
    const int limit = config.value("recursion_limit", 25);
    Execution result = run_graph(*graph->second, thread->values, run->kwargs["input"], config, limit);
    run->status = "success";
    run->output = std::move(result.values);
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

void RunManager::finish(Run& run) {
  const std::string now = now_iso8601();
  storage_.update_thread(run.thread_id, [&](Thread& t) {
    if (run.status == "success") {
      t.values = run.output;
      t.status = "idle";
      t.error = nullptr;
    } else {
      t.status = "error";
      t.error = run.error;
    }
    t.updated_at = now;
  });
  storage_.update_run(run.run_id, [&](Run& r) {
    r.status = run.status;
    r.output = run.output;
    r.error = run.error;
    r.updated_at = now;
  });
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
