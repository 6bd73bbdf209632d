// Cron schedules (runtime/cron_schedule.hpp): parsing, the next firing time in UTC and in time
// zones across daylight saving time changes; the scheduler's claim of a tick; ISO 8601 parsing.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/cron_schedule.hpp"
#include "runtime/cron_scheduler.hpp"
#include "storage/memory_storage.hpp"
#include "util/clock.hpp"

using namespace lgs;
using std::chrono::sys_seconds;

namespace {

// "2024-03-10T07:00:00" (UTC) as a time point.
sys_seconds at(const std::string& text) {
  auto parsed = parse_iso8601(text);
  REQUIRE_MESSAGE(parsed.has_value(), text);
  return std::chrono::floor<std::chrono::seconds>(*parsed);
}

// The next firing after `after` as "YYYY-MM-DDTHH:MM:SS" in UTC, or "never".
std::string next(const std::string& schedule, const std::string& after, const std::string& zone = "") {
  auto found = CronSchedule::parse(schedule).next_after(at(after), zone);
  if (!found) return "never";
  return format_iso8601(*found).substr(0, 19);
}

// The first `n` firings after `after`.
std::vector<std::string> firings(const std::string& schedule, const std::string& after, int n, const std::string& zone = "") {
  const CronSchedule s = CronSchedule::parse(schedule);
  std::vector<std::string> out;
  sys_seconds t = at(after);
  for (int i = 0; i < n; ++i) {
    auto found = s.next_after(t, zone);
    if (!found) break;
    out.push_back(format_iso8601(*found).substr(0, 19));
    t = *found;
  }
  return out;
}

std::string parse_error(const std::string& schedule) {
  try {
    CronSchedule::parse(schedule);
  } catch (const InvalidSchedule& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("cron schedules") {
  TEST_CASE("every minute, steps, lists and ranges") {
    CHECK(next("* * * * *", "2024-05-01T12:00:30") == "2024-05-01T12:01:00");
    CHECK(next("* * * * *", "2024-05-01T12:00:00") == "2024-05-01T12:01:00");  // strictly after
    CHECK(firings("*/15 * * * *", "2024-05-01T12:07:00", 4) ==
          std::vector<std::string>{"2024-05-01T12:15:00", "2024-05-01T12:30:00", "2024-05-01T12:45:00",
                                   "2024-05-01T13:00:00"});
    CHECK(firings("10-20/5 8,17 * * *", "2024-05-01T00:00:00", 4) ==
          std::vector<std::string>{"2024-05-01T08:10:00", "2024-05-01T08:15:00", "2024-05-01T08:20:00",
                                   "2024-05-01T17:10:00"});
    CHECK(firings("5/20 * * * *", "2024-05-01T00:00:00", 3) ==
          std::vector<std::string>{"2024-05-01T00:05:00", "2024-05-01T00:25:00", "2024-05-01T00:45:00"});
    CHECK(next("0 0 1 1 *", "2024-12-31T23:59:59") == "2025-01-01T00:00:00");
    CHECK(next("59 23 31 12 *", "2024-01-01T00:00:00") == "2024-12-31T23:59:00");
  }

  TEST_CASE("names, 7 as Sunday, any case, and shorthands") {
    // 2024-05-01 is a Wednesday.
    CHECK(next("0 9 * * mon-fri", "2024-05-03T10:00:00") == "2024-05-06T09:00:00");
    CHECK(next("0 9 * * SUN", "2024-05-01T00:00:00") == "2024-05-05T09:00:00");
    CHECK(next("0 9 * * 7", "2024-05-01T00:00:00") == "2024-05-05T09:00:00");
    CHECK(next("0 9 * * 0", "2024-05-01T00:00:00") == "2024-05-05T09:00:00");
    CHECK(next("0 9 * * 5-7", "2024-05-05T10:00:00") == "2024-05-10T09:00:00");
    CHECK(next("0 0 1 Jun,dec *", "2024-05-01T00:00:00") == "2024-06-01T00:00:00");
    CHECK(next("@daily", "2024-05-01T12:00:00") == "2024-05-02T00:00:00");
    CHECK(next("@midnight", "2024-05-01T12:00:00") == "2024-05-02T00:00:00");
    CHECK(next("@hourly", "2024-05-01T12:00:00") == "2024-05-01T13:00:00");
    CHECK(next("@weekly", "2024-05-01T12:00:00") == "2024-05-05T00:00:00");
    CHECK(next("@monthly", "2024-05-01T12:00:00") == "2024-06-01T00:00:00");
    CHECK(next("@YEARLY", "2024-05-01T12:00:00") == "2025-01-01T00:00:00");
    CHECK(next("@annually", "2024-05-01T12:00:00") == "2025-01-01T00:00:00");
    CHECK(next(" 0  12\t* * * ", "2024-05-01T00:00:00") == "2024-05-01T12:00:00");
  }

  TEST_CASE("month ends: the 31st only in months that have one, L is the last day") {
    CHECK(firings("0 0 31 * *", "2024-01-31T00:00:00", 3) ==
          std::vector<std::string>{"2024-03-31T00:00:00", "2024-05-31T00:00:00", "2024-07-31T00:00:00"});
    CHECK(firings("0 0 L * *", "2023-01-15T00:00:00", 4) ==
          std::vector<std::string>{"2023-01-31T00:00:00", "2023-02-28T00:00:00", "2023-03-31T00:00:00",
                                   "2023-04-30T00:00:00"});
    CHECK(next("0 0 L 2 *", "2024-01-01T00:00:00") == "2024-02-29T00:00:00");
    CHECK(next("0 0 30 * *", "2024-01-30T00:00:00") == "2024-03-30T00:00:00");  // no February 30th
  }

  TEST_CASE("leap years: February 29th every four years, not in 2100") {
    CHECK(next("0 0 29 2 *", "2023-03-01T00:00:00") == "2024-02-29T00:00:00");
    CHECK(next("0 0 29 2 *", "2024-02-29T00:00:00") == "2028-02-29T00:00:00");
    CHECK(next("0 0 29 2 *", "2096-03-01T00:00:00") == "2104-02-29T00:00:00");
    CHECK(next("0 0 28 2 *", "2100-02-28T12:00:00") == "2101-02-28T00:00:00");
  }

  TEST_CASE("day of month and day of week: either when both restrict, else the restricting one") {
    // The 13th or any Friday; 2024-09-06 and 2024-09-20 are Fridays, the 13th is one too.
    CHECK(firings("0 0 13 * 5", "2024-09-01T00:00:00", 4) ==
          std::vector<std::string>{"2024-09-06T00:00:00", "2024-09-13T00:00:00", "2024-09-20T00:00:00",
                                   "2024-09-27T00:00:00"});
    // The 1st or the 15th, or any Monday.
    CHECK(firings("0 0 1,15 * mon", "2024-04-28T00:00:00", 4) ==
          std::vector<std::string>{"2024-04-29T00:00:00", "2024-05-01T00:00:00", "2024-05-06T00:00:00",
                                   "2024-05-13T00:00:00"});
    // Only the day of month restricts.
    CHECK(next("0 0 13 * *", "2024-09-01T00:00:00") == "2024-09-13T00:00:00");
    // Only the day of week restricts (a `*` day of month, or one allowing every day).
    CHECK(next("0 0 * * fri", "2024-09-07T00:00:00") == "2024-09-13T00:00:00");
    CHECK(next("0 0 1-31 * fri", "2024-09-07T00:00:00") == "2024-09-13T00:00:00");
    CHECK(next("0 0 ? * fri", "2024-09-07T00:00:00") == "2024-09-13T00:00:00");
    // */2 restricts (as croniter reads it): odd days or Fridays.
    CHECK(firings("0 0 */2 * fri", "2024-09-07T00:00:00", 3) ==
          std::vector<std::string>{"2024-09-09T00:00:00", "2024-09-11T00:00:00", "2024-09-13T00:00:00"});
    // L or Sunday.
    CHECK(firings("0 0 L * 0", "2024-09-24T00:00:00", 2) ==
          std::vector<std::string>{"2024-09-29T00:00:00", "2024-09-30T00:00:00"});
  }

  TEST_CASE("a sixth field gives seconds") {
    CHECK(firings("* * * * * */10", "2024-05-01T12:00:05", 3) ==
          std::vector<std::string>{"2024-05-01T12:00:10", "2024-05-01T12:00:20", "2024-05-01T12:00:30"});
    CHECK(firings("* * * * * *", "2024-05-01T12:00:59", 2) ==
          std::vector<std::string>{"2024-05-01T12:01:00", "2024-05-01T12:01:01"});
    CHECK(next("30 9 * * * 15", "2024-05-01T00:00:00") == "2024-05-01T09:30:15");
  }

  TEST_CASE("a schedule that never fires has no next time") {
    CHECK(next("0 0 30 2 *", "2024-01-01T00:00:00") == "never");
    CHECK(next("0 0 31 4,6,9,11 *", "2024-01-01T00:00:00") == "never");
  }

  TEST_CASE("invalid expressions say what is wrong") {
    CHECK(parse_error("") == "the schedule is empty");
    CHECK(parse_error("* * * *").find("5 fields") != std::string::npos);
    CHECK(parse_error("* * * * * * *").find("got 7") != std::string::npos);
    CHECK(parse_error("60 * * * *").find("minute field \"60\" is out of range (0-59)") != std::string::npos);
    CHECK(parse_error("* 24 * * *").find("hour") != std::string::npos);
    CHECK(parse_error("* * 0 * *").find("day-of-month") != std::string::npos);
    CHECK(parse_error("* * 32 * *").find("day-of-month") != std::string::npos);
    CHECK(parse_error("* * * 13 *").find("month") != std::string::npos);
    CHECK(parse_error("* * * * 8").find("day-of-week") != std::string::npos);
    CHECK(parse_error("* * * foo *").find("is not a number or a name") != std::string::npos);
    CHECK(parse_error("x * * * *").find("is not a number") != std::string::npos);
    CHECK(parse_error("*/0 * * * *").find("step") != std::string::npos);
    CHECK(parse_error("*/x * * * *").find("step") != std::string::npos);
    CHECK(parse_error("5-1 * * * *").find("start is after its end") != std::string::npos);
    CHECK(parse_error("1,,2 * * * *").find("empty list item") != std::string::npos);
    CHECK(parse_error("-1 * * * *").find("minute") != std::string::npos);
    CHECK(parse_error("* * * * * 60").find("second") != std::string::npos);
    CHECK(parse_error("L * * * *").find("minute") != std::string::npos);  // L only for days of the month
    CHECK(parse_error("@often").find("not a known shorthand") != std::string::npos);
  }

  TEST_CASE("time zones: the schedule runs on the zone's wall clock") {
    CHECK(next("0 9 * * *", "2024-01-15T00:00:00", "America/New_York") == "2024-01-15T14:00:00");  // EST
    CHECK(next("0 9 * * *", "2024-07-15T00:00:00", "America/New_York") == "2024-07-15T13:00:00");  // EDT
    CHECK(next("0 0 * * *", "2024-01-01T00:00:00", "Asia/Kolkata") == "2024-01-01T18:30:00");      // +05:30
    CHECK(next("0 0 * * *", "2024-01-01T00:00:00", "UTC") == "2024-01-02T00:00:00");
    CHECK(next("0 0 1 * *", "2024-01-31T20:00:00", "Europe/Paris") == "2024-01-31T23:00:00");  // Feb 1st in Paris
    CHECK_THROWS_AS(CronSchedule::parse("* * * * *").next_after(at("2024-01-01T00:00:00"), "Mars/Olympus"),
                    InvalidTimeZone);
    CHECK_THROWS_AS(check_time_zone("Mars/Olympus"), InvalidTimeZone);
    CHECK_THROWS_AS(check_time_zone("../../../etc/passwd"), InvalidTimeZone);
    CHECK_THROWS_AS(check_time_zone("/etc/passwd"), InvalidTimeZone);
    CHECK_THROWS_AS(check_time_zone(""), InvalidTimeZone);
    CHECK_NOTHROW(check_time_zone("UTC"));
    CHECK_NOTHROW(check_time_zone("America/Argentina/Buenos_Aires"));
  }

  TEST_CASE("clocks going forward: a skipped fixed time fires at the change, other schedules skip the lost hour") {
    // New York, 2024-03-10: at 02:00 EST (07:00 UTC) clocks jump to 03:00 EDT.
    CHECK(firings("30 2 * * *", "2024-03-09T12:00:00", 2, "America/New_York") ==
          std::vector<std::string>{"2024-03-10T07:00:00", "2024-03-11T06:30:00"});
    CHECK(firings("0 3 * * *", "2024-03-09T12:00:00", 2, "America/New_York") ==
          std::vector<std::string>{"2024-03-10T07:00:00", "2024-03-11T07:00:00"});  // 03:00 EDT exists
    CHECK(firings("*/30 * * * *", "2024-03-10T06:15:00", 3, "America/New_York") ==
          std::vector<std::string>{"2024-03-10T06:30:00", "2024-03-10T07:00:00", "2024-03-10T07:30:00"});
    CHECK(firings("30 * * * *", "2024-03-10T06:15:00", 2, "America/New_York") ==
          std::vector<std::string>{"2024-03-10T06:30:00", "2024-03-10T07:30:00"});  // no 02:30 that night
  }

  TEST_CASE("clocks going back: a fixed time fires once, other schedules repeat the repeated hour") {
    // New York, 2024-11-03: at 02:00 EDT (06:00 UTC) clocks go back to 01:00 EST.
    CHECK(firings("30 1 * * *", "2024-11-03T04:00:00", 2, "America/New_York") ==
          std::vector<std::string>{"2024-11-03T05:30:00", "2024-11-04T06:30:00"});
    CHECK(firings("*/30 * * * *", "2024-11-03T05:15:00", 4, "America/New_York") ==
          std::vector<std::string>{"2024-11-03T05:30:00", "2024-11-03T06:00:00", "2024-11-03T06:30:00",
                                   "2024-11-03T07:00:00"});
    // Started inside the repeated hour: a fixed time there already fired.
    CHECK(next("45 1 * * *", "2024-11-03T06:10:00", "America/New_York") == "2024-11-04T06:45:00");
  }

  TEST_CASE("fixed time as Vixie cron decides it: neither the minute nor the hour field starts with *") {
    // New York, 2024-03-10, clocks skip 02:00-03:00 EST. `0 */2` has a `*` hour: 02:00 is simply
    // skipped, no run at the change.
    CHECK(firings("0 */2 * * *", "2024-03-10T06:00:00", 2, "America/New_York") ==
          std::vector<std::string>{"2024-03-10T08:00:00", "2024-03-10T10:00:00"});
    // A list of fixed hours is fixed time: 02:00 fires at the change.
    CHECK(firings("0 0,2,4 * * *", "2024-03-10T06:00:00", 2, "America/New_York") ==
          std::vector<std::string>{"2024-03-10T07:00:00", "2024-03-10T08:00:00"});
    // 2024-11-03, 01:00-02:00 is lived twice. `*/15 1` has a `*` minute: it follows the clock
    // through both passes.
    CHECK(firings("*/15 1 * * *", "2024-11-03T04:59:00", 6, "America/New_York") ==
          std::vector<std::string>{"2024-11-03T05:00:00", "2024-11-03T05:15:00", "2024-11-03T05:30:00",
                                   "2024-11-03T05:45:00", "2024-11-03T06:00:00", "2024-11-03T06:15:00"});
    // Fixed minutes in a fixed hour fire in the first pass only.
    CHECK(firings("0,30 1 * * *", "2024-11-03T04:59:00", 3, "America/New_York") ==
          std::vector<std::string>{"2024-11-03T05:00:00", "2024-11-03T05:30:00", "2024-11-04T06:00:00"});
  }

  TEST_CASE("ISO 8601 as clients send it") {
    auto text = [](const std::string& in) -> std::string {
      auto parsed = parse_iso8601(in);
      return parsed ? format_iso8601(*parsed) : "invalid";
    };
    CHECK(text("2025-01-02T03:04:05Z") == "2025-01-02T03:04:05.000000+00:00");
    CHECK(text("2025-01-02T03:04:05.123456+00:00") == "2025-01-02T03:04:05.123456+00:00");
    CHECK(text("2025-01-02T03:04:05.5+02:00") == "2025-01-02T01:04:05.500000+00:00");
    CHECK(text("2025-01-02T03:04:05-0130") == "2025-01-02T04:34:05.000000+00:00");
    CHECK(text("2025-01-02 03:04") == "2025-01-02T03:04:00.000000+00:00");
    CHECK(text("2025-01-02") == "2025-01-02T00:00:00.000000+00:00");
    CHECK(text("2024-02-29T00:00:00Z") == "2024-02-29T00:00:00.000000+00:00");
    for (const char* bad : {"", "tomorrow", "2025-13-01", "2023-02-29", "2025-01-02T24:00", "2025-01-02T03:04:05Q",
                            "2025-01-02T", "2025-01-02T03:04:05.", "2025/01/02", "2025-01-02T03:04+25:00"})
      CHECK_MESSAGE(text(bad) == "invalid", bad);
  }

  TEST_CASE("ISO 8601 before 1970 and past 9999") {
    using namespace std::chrono;
    const sys_time<microseconds> epoch{};
    // Fractions before 1970 count up from the second before, as after it.
    CHECK(format_iso8601(epoch - milliseconds(500)) == "1969-12-31T23:59:59.500000+00:00");
    CHECK(format_iso8601(epoch - microseconds(1)) == "1969-12-31T23:59:59.999999+00:00");
    CHECK(format_iso8601(epoch - seconds(1)) == "1969-12-31T23:59:59.000000+00:00");
    CHECK(format_iso8601(epoch + microseconds(1)) == "1970-01-01T00:00:00.000001+00:00");
    CHECK(format_iso8601(*parse_iso8601("1969-07-20T20:17:40.25Z")) == "1969-07-20T20:17:40.250000+00:00");
    // Floored to the microsecond, not truncated toward zero.
    CHECK(format_iso8601(floor<microseconds>(system_clock::time_point{} - nanoseconds(1500))) ==
          "1969-12-31T23:59:59.999998+00:00");
    // What storage may hold: four-digit years from 1970, which sort as text as they do in time.
    auto sortable = [](const char* text) { return sortable_iso8601(*parse_iso8601(text)); };
    CHECK(sortable("1970-01-01T00:00:00Z"));
    CHECK(sortable("9999-12-31T23:59:59.999999Z"));
    CHECK_FALSE(sortable("1969-12-31T23:59:59.999999Z"));
    CHECK_FALSE(sortable("1970-01-01T00:30:00+01:00"));  // 1969 in UTC
    CHECK_FALSE(sortable("9999-12-31T23:00:00-02:00"));  // 10000 in UTC
    CHECK(format_iso8601(*parse_iso8601("9999-12-31T23:00:00-02:00")).substr(0, 5) == "10000");
    // Past 2262, where nanoseconds since 1970 end, times are still exact.
    CHECK(format_iso8601(*parse_iso8601("3000-01-01T00:00:00.5Z")) == "3000-01-01T00:00:00.500000+00:00");
    CHECK(format_iso8601(*parse_iso8601("9999-12-31T23:59:59.999999Z")) == "9999-12-31T23:59:59.999999+00:00");
  }
}

TEST_SUITE("cron scheduler") {
  TEST_CASE("a due tick fires once, however many schedulers look at once; disabled and ended crons never") {
    MemoryStorage storage;
    auto cron = [](const std::string& id, const std::string& next) {
      Cron c;
      c.cron_id = id;
      c.assistant_id = "a";
      c.schedule = "* * * * *";
      c.next_run_date = next;
      c.created_at = c.updated_at = next;
      return c;
    };
    const auto now = *parse_iso8601("2024-05-01T12:00:30Z");
    REQUIRE(storage.create_cron(cron("due", "2024-05-01T12:00:00.000000+00:00")));
    REQUIRE(storage.create_cron(cron("later", "2024-05-01T12:01:00.000000+00:00")));
    Cron off = cron("off", "2024-05-01T12:00:00.000000+00:00");
    off.enabled = false;
    REQUIRE(storage.create_cron(off));
    Cron ended = cron("ended", "2024-05-01T12:00:00.000000+00:00");
    ended.end_time = "2024-05-01T12:00:10.000000+00:00";
    REQUIRE(storage.create_cron(ended));

    std::mutex mutex;
    std::vector<std::string> fired;
    auto record = [&](const Cron& c) {
      std::lock_guard lock(mutex);
      fired.push_back(c.cron_id);
    };
    std::vector<std::unique_ptr<CronScheduler>> schedulers;
    for (int i = 0; i < 8; ++i) schedulers.push_back(std::make_unique<CronScheduler>(storage, record));
    std::vector<std::thread> threads;
    std::atomic<int> total{0};
    for (auto& s : schedulers) threads.emplace_back([&, p = s.get()] { total += p->tick(now); });
    for (auto& t : threads) t.join();
    CHECK(total == 1);
    CHECK(fired == std::vector<std::string>{"due"});
    // Advanced to the next minute after now; the others untouched.
    CHECK(storage.get_cron("due")->next_run_date == "2024-05-01T12:01:00.000000+00:00");
    CHECK(storage.get_cron("off")->next_run_date == "2024-05-01T12:00:00.000000+00:00");
    CHECK(storage.get_cron("ended")->next_run_date == "2024-05-01T12:00:00.000000+00:00");
    CHECK(storage.next_cron_due("2024-05-01T12:00:30.000000+00:00") == "2024-05-01T12:01:00.000000+00:00");
    // A failing run creation is logged, and the tick is still used up.
    CronScheduler failing(storage, [](const Cron&) { throw std::runtime_error("no"); });
    CHECK(failing.tick(*parse_iso8601("2024-05-01T12:01:00Z")) == 0);
    CHECK(storage.get_cron("later")->next_run_date == "2024-05-01T12:02:00.000000+00:00");
  }

  TEST_CASE("a cron changed after the tick found it due fires as it is at the claim, or not at all") {
    MemoryStorage storage;
    auto cron = [](const std::string& id, const std::string& next) {
      Cron c;
      c.cron_id = id;
      c.assistant_id = "a";
      c.schedule = "* * * * *";
      c.next_run_date = next;
      c.payload = {{"input", {{"v", "old"}}}};
      c.user_id = "alice";
      c.created_at = c.updated_at = next;
      return c;
    };
    // "first" is due earliest: firing it changes the others, already read in the same batch.
    REQUIRE(storage.create_cron(cron("first", "2024-05-01T12:00:00.000000+00:00")));
    for (const char* id : {"deleted", "disabled", "edited", "ended"})
      REQUIRE(storage.create_cron(cron(id, "2024-05-01T12:00:10.000000+00:00")));
    std::vector<Cron> fired;
    CronScheduler scheduler(storage, [&](const Cron& c) {
      fired.push_back(c);
      if (c.cron_id != "first") return;
      storage.delete_cron("deleted");
      storage.update_cron("disabled", [](Cron& d) { d.enabled = false; });
      storage.update_cron("ended", [](Cron& d) { d.end_time = "2024-05-01T12:00:20.000000+00:00"; });
      storage.update_cron("edited", [](Cron& d) {
        d.payload["input"]["v"] = "new";
        d.user_id = "bob";
      });
    });
    CHECK(scheduler.tick(*parse_iso8601("2024-05-01T12:00:30Z")) == 2);
    REQUIRE(fired.size() == 2);
    CHECK(fired[0].cron_id == "first");
    CHECK(fired[1].cron_id == "edited");
    CHECK(fired[1].payload["input"]["v"] == "new");
    CHECK(fired[1].user_id == "bob");
    CHECK(fired[1].next_run_date == "2024-05-01T12:01:00.000000+00:00");
    CHECK(storage.get_cron("disabled")->next_run_date == "2024-05-01T12:00:10.000000+00:00");
  }

  TEST_CASE("a next time that cannot be computed: not fired, tried again a minute later") {
    MemoryStorage storage;
    Cron c;
    c.cron_id = "zoned";
    c.assistant_id = "a";
    c.schedule = "* * * * *";
    c.timezone = "Nowhere/Atlantis";  // as on a server whose zone database lacks it
    c.next_run_date = "2024-05-01T12:00:00.000000+00:00";
    REQUIRE(storage.create_cron(c));
    int fired = 0;
    CronScheduler scheduler(storage, [&](const Cron&) { ++fired; });
    CHECK(scheduler.tick(*parse_iso8601("2024-05-01T12:00:30Z")) == 0);
    CHECK(fired == 0);
    CHECK(storage.get_cron("zoned")->next_run_date == "2024-05-01T12:01:30.000000+00:00");
    // Once it can be computed, it fires on schedule again.
    REQUIRE(storage.update_cron("zoned", [](Cron& z) { z.timezone = "Europe/Paris"; }));
    CHECK(scheduler.tick(*parse_iso8601("2024-05-01T12:01:31Z")) == 1);
    CHECK(storage.get_cron("zoned")->next_run_date == "2024-05-01T12:02:00.000000+00:00");
  }
}
