// The cron scheduler: one thread per server that sleeps until the next cron is due (or a cron
// changed on this server, or 5 seconds passed: crons change on other servers too), then fires
// every due cron. A due cron is claimed by moving its next_run_date forward in storage only if
// it still holds the date this server read and is still enabled and not ended
// (Storage::advance_cron), and the cron as claimed is fired: on several servers sharing one
// database each tick fires at most once. The claim is committed before the run is created, so
// a tick whose run cannot be created (refused, or the server dies in between) is skipped, not
// retried. A tick missed while no server ran fires once, late; the next one is computed from
// the time of firing, so missed ticks do not pile up. When the next time cannot be computed
// (an exception from the schedule or its zone), the tick is not fired and is tried again a
// minute later.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/storage.hpp"

namespace lgs {

class CronScheduler {
 public:
  // Creates the cron's run (the API's run creation, as the cron's creator); throws on failure.
  using Fire = std::function<void(const Cron&)>;

  CronScheduler(Storage& storage, Fire fire);
  ~CronScheduler();
  CronScheduler(const CronScheduler&) = delete;
  CronScheduler& operator=(const CronScheduler&) = delete;

  // Starts the scheduler thread.
  void start();
  // A cron was created or changed on this server: look again at once.
  void wake();
  // Stops the thread; a tick in progress finishes first.
  void stop();

  // Fires every cron due at `now` that this call claims, and returns how many it fired. What
  // the thread does each time it wakes; public for tests.
  int tick(std::chrono::system_clock::time_point now);

 private:
  void loop();

  Storage& storage_;
  Fire fire_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lgs
