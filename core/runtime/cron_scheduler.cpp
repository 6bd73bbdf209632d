#include "runtime/cron_scheduler.hpp"

#include <algorithm>

#include "runtime/cron_schedule.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace lgs {

namespace {

// How long the scheduler sleeps at most: crons created or changed on another server are seen
// within this.
constexpr auto kLookEvery = std::chrono::seconds(5);
// Crons fired per look at storage; more wait for the next round, at once.
constexpr int kBatch = 100;
// The next_run_date of a cron whose schedule does not fire again.
constexpr const char* kNever = "9999-12-31T23:59:59.999999+00:00";
// When a cron whose next time could not be computed is tried again.
constexpr std::chrono::seconds kRetryAfter{60};

}  // namespace

CronScheduler::CronScheduler(Storage& storage, Fire fire) : storage_(storage), fire_(std::move(fire)) {}

CronScheduler::~CronScheduler() { stop(); }

void CronScheduler::start() {
  thread_ = std::thread([this] { loop(); });
}

void CronScheduler::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  changed_.notify_all();
}

void CronScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int CronScheduler::tick(std::chrono::system_clock::time_point now) {
  const auto now_micros = std::chrono::floor<std::chrono::microseconds>(now);
  const std::string now_text = format_iso8601(now_micros);
  const auto now_seconds = std::chrono::floor<std::chrono::seconds>(now);
  int fired = 0;
  for (const Cron& due : storage_.due_crons(now_text, kBatch)) {
    std::string next = kNever;
    bool failed = false;
    try {
      if (auto at = CronSchedule::parse(due.schedule).next_after(now_seconds, due.timezone)) next = format_iso8601(*at);
    } catch (const std::exception& e) {
      // Perhaps this server alone cannot (a zone missing from its database): not fired now, and
      // tried again later, here or on another server.
      log::error("cron {}: schedule \"{}\" ({}): {}; tried again in {} s", due.cron_id, due.schedule, due.timezone,
                 e.what(), kRetryAfter.count());
      next = format_iso8601(now_micros + kRetryAfter);
      failed = true;
    }
    // Claimed here, or by another server that read the same date first; not at all when it was
    // disabled, ended or deleted since it was read. What is fired is the cron as claimed.
    const auto cron = storage_.advance_cron(due.cron_id, due.next_run_date, next, now_text);
    if (!cron || failed) continue;
    if (next == kNever) log::warn("cron {}: its schedule \"{}\" does not fire again", cron->cron_id, cron->schedule);
    try {
      fire_(*cron);
      ++fired;
    } catch (const std::exception& e) {
      log::warn("cron {}: its run was not created, this tick is skipped: {}", cron->cron_id, e.what());
    } catch (...) {
      log::warn("cron {}: its run was not created, this tick is skipped", cron->cron_id);
    }
  }
  return fired;
}

void CronScheduler::loop() {
  using namespace std::chrono;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      woken_ = false;
    }
    auto wait = duration_cast<system_clock::duration>(kLookEvery);
    try {
      const auto now = system_clock::now();
      if (tick(now) >= kBatch) continue;
      if (auto next = storage_.next_cron_due(format_iso8601(floor<microseconds>(now)))) {
        if (auto at = parse_iso8601(*next)) {
          // Not below 10 ms: a cron due now that another server is firing is not polled hot. In
          // microseconds: a date far ahead does not fit system_clock's nanoseconds.
          const microseconds left = *at - floor<microseconds>(system_clock::now());
          wait = duration_cast<system_clock::duration>(
              std::clamp<microseconds>(left, milliseconds(10), duration_cast<microseconds>(kLookEvery)));
        }
      }
    } catch (const std::exception& e) {
      log::warn("cron scheduler: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, wait, [&] { return stopping_ || woken_; });
  }
}

}  // namespace lgs
