// Cron schedules: when a cron fires.
//
//   minute hour day-of-month month day-of-week [second]
//
// Each field is `*` (or `?`), a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from a to
// the field's end), or a comma-separated list of those. Months and days of the week take names
// (jan-dec, sun-sat; any case); day of the week is 0-7, 0 and 7 both Sunday; day of the month
// also takes `L`, the month's last day. A sixth field gives seconds (0-59): the Python server
// reads six fields that way (croniter), so six-field schedules mean the same on both. `@yearly`
// (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for their
// five fields.
//
// Day of the month and day of the week: when both restrict the day, a day matching either one
// fires (cron's OR rule); when one of them allows every value (`*`, `*/1`, `0-6`), the other one
// alone decides. `*/2` restricts: unlike Vixie cron, which treats any field starting with `*`
// as unrestricted, but as croniter does.
//
// Schedules run on the wall clock of an IANA time zone. Around daylight saving time changes
// they follow Vixie cron: a fixed-time schedule, one whose minute and hour fields both do not
// start with `*` (`30 2 * * *`, `0,30 1-3 * * *`), fires at the change when clocks going forward
// skip its time, and does not fire again during the hour repeated when clocks go back; a
// schedule whose minute or hour field starts with `*` (`*/15 * * * *`, `0 */2 * * *`,
// `*/15 1 * * *`) keeps firing by the wall clock, skipping the lost hour and repeating the
// repeated one.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lgs {

struct InvalidSchedule : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct InvalidTimeZone : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class CronSchedule {
 public:
  // Throws InvalidSchedule saying what is wrong.
  static CronSchedule parse(std::string_view expression);

  // The first instant strictly after `after` at which the schedule fires on the wall clock of
  // the IANA zone `zone` ("" is UTC); nullopt when it does not fire within 50 years (a schedule
  // such as February 30th never does). Throws InvalidTimeZone for an unknown zone.
  std::optional<std::chrono::sys_seconds> next_after(std::chrono::sys_seconds after, const std::string& zone = "") const;

 private:
  using LocalSeconds = std::chrono::seconds;  // since 1970-01-01 00:00 on the wall clock

  std::optional<LocalSeconds> next_local(LocalSeconds from, LocalSeconds limit) const;
  bool day_matches(int year, unsigned month, unsigned day, unsigned weekday) const;

  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;      // 1-31
  bool last_day_ = false;     // L
  std::bitset<13> months_;    // 1-12
  std::bitset<7> weekdays_;   // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
  bool fixed_time_ = false;   // neither minute nor hour starts with `*` (Vixie cron's DST rules apply)
};

// Throws InvalidTimeZone unless `zone` names an IANA time zone ("" names none: a cron stored
// without a zone runs in UTC, but a client that gives one must name it).
void check_time_zone(const std::string& zone);

}  // namespace lgs
