// Run streams in memory; see stream_hub.hpp.
//
// Retention: a closed stream stays readable (joinStream after the run finished, a reconnect with
// Last-Event-ID) for 10 minutes, within at most 1,000 closed streams and 256 MiB of their events;
// past any of these the oldest closed streams go first. Open streams are never dropped: they
// live as long as their run.
#include "runtime/stream_hub.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace lgs {

namespace {
constexpr auto kClosedTtl = std::chrono::minutes(10);
constexpr size_t kMaxClosedStreams = 1000;
constexpr size_t kMaxClosedBytes = size_t{256} << 20;

using Clock = std::chrono::steady_clock;
}  // namespace

struct StreamHub::Impl {
  struct Stream {
    std::vector<StreamEvent> events;  // events[i].id == i
    bool closed = false;
    size_t bytes = 0;
    // Per stream, so that a publish wakes only the readers of its run.
    std::condition_variable changed;
  };
  struct Closed {
    std::string run_id;
    Clock::time_point at;
    size_t bytes;
  };

  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<Stream>> streams;
  std::deque<Closed> closed;  // oldest first
  size_t closed_bytes = 0;

  // Drops closed streams past their time or beyond the limits; the newest always stays.
  void prune(Clock::time_point now) {
    while (!closed.empty()) {
      const Closed& oldest = closed.front();
      const bool expired = now - oldest.at > kClosedTtl;
      const bool over = closed.size() > 1 && (closed.size() > kMaxClosedStreams || closed_bytes > kMaxClosedBytes);
      if (!expired && !over) break;
      streams.erase(oldest.run_id);
      closed_bytes -= oldest.bytes;
      closed.pop_front();
    }
  }
};

StreamHub::StreamHub() : impl_(new Impl) {}
StreamHub::~StreamHub() { delete impl_; }

void StreamHub::open(const std::string& run_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->prune(Clock::now());
  impl_->streams.try_emplace(run_id, std::make_shared<Impl::Stream>());
}

void StreamHub::publish(const std::string& run_id, const std::string& mode, const std::string& event, const json& data) {
  // Serialised outside the lock: publishers of different runs do not wait on each other's JSON.
  std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(run_id);
  if (it == impl_->streams.end() || it->second->closed) return;
  auto& stream = *it->second;
  stream.bytes += text.size() + event.size() + mode.size() + sizeof(StreamEvent);
  stream.events.push_back({static_cast<int64_t>(stream.events.size()), mode, event, std::move(text)});
  stream.changed.notify_all();
}

void StreamHub::close(const std::string& run_id) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(run_id);
  if (it == impl_->streams.end() || it->second->closed) return;
  auto& stream = *it->second;
  stream.closed = true;
  stream.changed.notify_all();
  const auto now = Clock::now();
  impl_->closed.push_back({run_id, now, stream.bytes});
  impl_->closed_bytes += stream.bytes;
  impl_->prune(now);
}

StreamHub::Batch StreamHub::next(const std::string& run_id, int64_t after_id, std::chrono::milliseconds timeout) {
  Batch batch;
  std::unique_lock lock(impl_->mutex);
  impl_->prune(Clock::now());
  auto it = impl_->streams.find(run_id);
  if (it == impl_->streams.end()) {
    batch.unknown = true;
    return batch;
  }
  // Held: the stream outlives its map entry while this reader looks at it.
  std::shared_ptr<Impl::Stream> stream = it->second;
  after_id = std::clamp<int64_t>(after_id, -1, std::numeric_limits<int64_t>::max() - 1);
  auto ready = [&] { return stream->closed || static_cast<int64_t>(stream->events.size()) - 1 > after_id; };
  if (timeout.count() > 0) stream->changed.wait_for(lock, timeout, ready);
  const auto& events = stream->events;
  if (after_id + 1 < static_cast<int64_t>(events.size()))
    batch.events.assign(events.begin() + (after_id + 1), events.end());
  batch.ended = stream->closed;
  return batch;
}

}  // namespace lgs
