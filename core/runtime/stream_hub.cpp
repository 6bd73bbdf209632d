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
#include <thread>
#include <unordered_map>

#include "storage/storage.hpp"
#include "util/log.hpp"

namespace lgs {

namespace {
constexpr auto kClosedTtl = std::chrono::minutes(10);
constexpr size_t kMaxClosedStreams = 1000;
constexpr size_t kMaxClosedBytes = size_t{256} << 20;
// A run executing on another server is looked up in the database this often while a reader waits.
constexpr auto kSharedPollEvery = std::chrono::milliseconds(25);
// Ends a stream in a shared database; never sent to clients.
const std::string kEndEvent = "__end__";

using Clock = std::chrono::steady_clock;
}  // namespace

struct StreamHub::Impl {
  struct Stream {
    std::vector<StreamEvent> events;  // events[i].id == i
    bool closed = false;
    size_t bytes = 0;
    // Per stream, so that a publish wakes only the readers of its run.
    std::condition_variable changed;
    // Orders the appends of one run to a shared database by id.
    std::mutex appending;
  };
  struct Closed {
    std::string run_id;
    Clock::time_point at;
    size_t bytes;
  };

  Storage* shared = nullptr;
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

StreamHub::StreamHub(Storage* shared) : impl_(new Impl) { impl_->shared = shared; }

bool StreamHub::shared() const { return impl_->shared != nullptr; }
StreamHub::~StreamHub() { delete impl_; }

bool StreamHub::open(const std::string& run_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->prune(Clock::now());
  return impl_->streams.try_emplace(run_id, std::make_shared<Impl::Stream>()).second;
}

void StreamHub::publish(const std::string& run_id, const std::string& mode, const std::string& event, const json& data) {
  // Serialised outside the lock: publishers of different runs do not wait on each other's JSON.
  std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
  std::shared_ptr<Impl::Stream> stream;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->streams.find(run_id);
    if (it == impl_->streams.end() || it->second->closed) return;
    stream = it->second;
  }
  std::unique_lock appending(stream->appending, std::defer_lock);
  if (impl_->shared) appending.lock();
  StreamEvent copy;
  {
    std::lock_guard lock(impl_->mutex);
    if (stream->closed) return;  // closed between the two locks
    stream->bytes += text.size() + event.size() + mode.size() + sizeof(StreamEvent);
    stream->events.push_back({static_cast<int64_t>(stream->events.size()), mode, event, std::move(text)});
    if (impl_->shared) copy = stream->events.back();
    stream->changed.notify_all();
  }
  if (impl_->shared) {
    try {
      impl_->shared->append_events(run_id, {copy});
    } catch (const std::exception& e) {  // readers here still get it; other servers' readers miss it
      log::warn("run {}: event {} not stored for other servers: {}", run_id, copy.id, e.what());
    }
  }
}

void StreamHub::close(const std::string& run_id) {
  std::shared_ptr<Impl::Stream> stream;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->streams.find(run_id);
    if (it == impl_->streams.end() || it->second->closed) return;
    stream = it->second;
  }
  std::unique_lock appending(stream->appending, std::defer_lock);
  if (impl_->shared) appending.lock();
  int64_t end_id = 0;
  {
    std::lock_guard lock(impl_->mutex);
    if (stream->closed) return;  // closed between the two locks: counted once
    stream->closed = true;
    stream->changed.notify_all();
    end_id = static_cast<int64_t>(stream->events.size());
    const auto now = Clock::now();
    impl_->closed.push_back({run_id, now, stream->bytes});
    impl_->closed_bytes += stream->bytes;
    impl_->prune(now);
  }
  if (impl_->shared) {
    try {
      impl_->shared->append_events(run_id, {StreamEvent{end_id, "", kEndEvent, "null"}});
    } catch (const std::exception& e) {  // readers elsewhere stop when they see the run finished
      log::warn("run {}: end of stream not stored for other servers: {}", run_id, e.what());
    }
  }
}

void StreamHub::publish_orphan_error(const std::string& run_id, const json& error) {
  if (!impl_->shared) return;
  const auto last = impl_->shared->last_event(run_id);
  if (last && last->event == "error") return;  // the run failed already (another server was first)
  const std::string text = error.dump(-1, ' ', false, json::error_handler_t::replace);
  impl_->shared->append_events(run_id, {StreamEvent{last ? last->id + 1 : 0, "", "error", text}});
}

StreamHub::Batch StreamHub::next(const std::string& run_id, int64_t after_id, std::chrono::milliseconds timeout) {
  Batch batch;
  std::unique_lock lock(impl_->mutex);
  impl_->prune(Clock::now());
  auto it = impl_->streams.find(run_id);
  if (it == impl_->streams.end()) {
    if (impl_->shared) {
      lock.unlock();
      return next_shared(run_id, after_id, timeout);
    }
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

// A run that this server does not execute, read from the shared database.
StreamHub::Batch StreamHub::next_shared(const std::string& run_id, int64_t after_id, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Batch batch;
  while (true) {
    std::vector<StreamEvent> events = impl_->shared->read_events(run_id, after_id, 1000);
    for (auto& e : events) {
      if (e.event == kEndEvent) {
        batch.ended = true;
        break;
      }
      batch.events.push_back(std::move(e));
    }
    if (!batch.events.empty() || batch.ended) return batch;
    if (Clock::now() + kSharedPollEvery > deadline) break;
    std::this_thread::sleep_for(kSharedPollEvery);
    // The run may have started here meanwhile.
    std::unique_lock lock(impl_->mutex);
    if (impl_->streams.count(run_id)) {
      lock.unlock();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      return next(run_id, after_id, std::max(left, std::chrono::milliseconds(0)));
    }
  }
  // Nothing stored for the run at all: like a stream not opened yet.
  batch.unknown = after_id < 0 || impl_->shared->read_events(run_id, -1, 1).empty();
  return batch;
}

}  // namespace lgs
