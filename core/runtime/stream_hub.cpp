// Placeholder storage of streams until the SSE routes read them; see stream_hub.hpp.
#include "runtime/stream_hub.hpp"

#include <condition_variable>
#include <map>
#include <mutex>

namespace lgs {

struct StreamHub::Impl {
  struct Stream {
    std::vector<StreamEvent> events;
    bool closed = false;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, Stream> streams;
};

StreamHub::StreamHub() : impl_(new Impl) {}
StreamHub::~StreamHub() { delete impl_; }

void StreamHub::open(const std::string& run_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->streams.try_emplace(run_id);
}

void StreamHub::publish(const std::string& run_id, const std::string& mode, const std::string& event, const json& data) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(run_id);
  if (it == impl_->streams.end() || it->second.closed) return;
  auto& events = it->second.events;
  events.push_back({static_cast<int64_t>(events.size()), mode, event, data.dump(-1, ' ', false, json::error_handler_t::replace)});
  impl_->changed.notify_all();
}

void StreamHub::close(const std::string& run_id) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(run_id);
  if (it != impl_->streams.end()) it->second.closed = true;
  impl_->changed.notify_all();
}

StreamHub::Batch StreamHub::next(const std::string& run_id, int64_t after_id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  Batch batch;
  auto ready = [&] {
    auto it = impl_->streams.find(run_id);
    return it == impl_->streams.end() || it->second.closed ||
           static_cast<int64_t>(it->second.events.size()) > after_id + 1;
  };
  impl_->changed.wait_for(lock, timeout, ready);
  auto it = impl_->streams.find(run_id);
  if (it == impl_->streams.end()) {
    batch.unknown = true;
    return batch;
  }
  const auto& events = it->second.events;
  for (auto i = static_cast<size_t>(std::max<int64_t>(after_id + 1, 0)); i < events.size(); ++i) batch.events.push_back(events[i]);
  batch.ended = it->second.closed;
  return batch;
}

}  // namespace lgs
