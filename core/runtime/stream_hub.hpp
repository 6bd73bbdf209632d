// Live run streams: the runtime publishes each run's events here; SSE responses read them.
// Every event gets a per-run id (0, 1, 2...), so a client that reconnects with Last-Event-ID
// resumes where it left, and a client joining late, or after the run finished, still gets the
// events (kept for a while after the run ends). Publishing never blocks on a reader. With a shared
// database the events also go there, so that a client of any server can follow any run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/records.hpp"

namespace lgs {

using json = nlohmann::json;

class Storage;

class StreamHub {
 public:
  // With a shared database (Storage::shared()), every event is also appended there, and a run
  // executing on another server is read from there.
  explicit StreamHub(Storage* shared = nullptr);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  bool shared() const;

  // Creates the run's stream (before its run is queued, so that no event is missed); false when
  // it exists already.
  bool open(const std::string& run_id);
  // Appends an event (no-op when the stream was never opened or is closed).
  void publish(const std::string& run_id, const std::string& mode, const std::string& event, const json& data);
  // The run finished: readers get what is left, then the end.
  void close(const std::string& run_id);
  // A run whose server stopped before it finished: `error` is stored after what that server
  // stored of its stream (shared database only), for readers and waiters on the other servers,
  // who stop once the run is marked finished.
  void publish_orphan_error(const std::string& run_id, const json& error);

  struct Batch {
    std::vector<StreamEvent> events;  // ids after `after_id`, in order
    bool ended = false;               // closed and nothing more will come
    bool unknown = false;             // no such stream (never opened, or expired)
  };
  // Waits up to `timeout` for events after `after_id` (-1: from the start). A run executing on
  // another server is unknown until it has published its first event.
  Batch next(const std::string& run_id, int64_t after_id, std::chrono::milliseconds timeout);

 private:
  Batch next_shared(const std::string& run_id, int64_t after_id, std::chrono::milliseconds timeout);

  struct Impl;
  Impl* impl_;
};

}  // namespace lgs
