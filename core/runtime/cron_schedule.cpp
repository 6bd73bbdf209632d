#include "runtime/cron_schedule.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace lgs {

namespace {

using std::chrono::seconds;

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

struct Field {
  const char* name;
  int low;
  int high;
  const char* const* names = nullptr;  // names[i] means name_base + i
  int name_count = 0;
  int name_base = 0;
  bool allows_last = false;
};

[[noreturn]] void invalid(const Field& field, std::string_view item, const std::string& why) {
  throw InvalidSchedule(std::string("the ") + field.name + " field \"" + std::string(item) + "\" " + why);
}

int number(const Field& field, std::string_view item, std::string_view text) {
  if (field.names) {
    const std::string name = lower(text);
    for (int i = 0; i < field.name_count; ++i)
      if (name == field.names[i]) return field.name_base + i;
  }
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    invalid(field, item, "is not a number" + std::string(field.names ? " or a name" : ""));
  if (value < field.low || value > field.high)
    invalid(field, item, "is out of range (" + std::to_string(field.low) + "-" + std::to_string(field.high) + ")");
  return value;
}

// The values a field allows, as a bitset indexed by value; `last` is set by L.
template <size_t N>
std::bitset<N> parse_field(const Field& field, std::string_view text, bool* last = nullptr) {
  std::bitset<N> set;
  for (std::string_view item : split(text, ',')) {
    if (item.empty()) invalid(field, text, "has an empty list item");
    if (field.allows_last && (item == "L" || item == "l")) {
      *last = true;
      continue;
    }
    const auto slash = item.find('/');
    std::string_view base = item.substr(0, slash);
    int step = 1;
    if (slash != std::string_view::npos) {
      const std::string_view step_text = item.substr(slash + 1);
      const auto [end, error] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || error != std::errc() || end != step_text.data() + step_text.size() || step < 1 ||
          step > 1000)
        invalid(field, item, "has a step that is not a whole number from 1 to 1000");
    }
    int from = 0;
    int to = 0;
    if (base == "*" || base == "?") {
      from = field.low;
      to = field.high == 7 ? 6 : field.high;  // day of the week: 7 is 0 again
    } else if (const auto dash = base.find('-'); dash != std::string_view::npos && dash > 0) {
      from = number(field, item, base.substr(0, dash));
      to = number(field, item, base.substr(dash + 1));
      if (from > to) invalid(field, item, "is a range whose start is after its end");
    } else {
      from = number(field, item, base);
      to = slash == std::string_view::npos ? from : (field.high == 7 ? 6 : field.high);
    }
    for (int v = from; v <= to; v += step) set.set(field.high == 7 && v == 7 ? 0 : static_cast<size_t>(v));
  }
  return set;
}

std::string expand_alias(std::string_view expression) {
  const std::string name = lower(expression);
  if (name == "@yearly" || name == "@annually") return "0 0 1 1 *";
  if (name == "@monthly") return "0 0 1 * *";
  if (name == "@weekly") return "0 0 * * 0";
  if (name == "@daily" || name == "@midnight") return "0 0 * * *";
  if (name == "@hourly") return "0 * * * *";
  throw InvalidSchedule("\"" + std::string(expression) +
                        "\" is not a known shorthand (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
}

template <size_t N>
int first_at_or_after(const std::bitset<N>& set, int from) {
  for (size_t i = static_cast<size_t>(std::max(from, 0)); i < N; ++i)
    if (set[i]) return static_cast<int>(i);
  return -1;
}

const date::time_zone* find_zone(const std::string& name) {
  // Names are paths below the zone database: nothing else may reach it.
  const bool plausible = !name.empty() && name.size() < 100 && name.find("..") == std::string::npos && name[0] != '/' &&
                         std::all_of(name.begin(), name.end(), [](unsigned char c) {
                           return std::isalnum(c) || c == '/' || c == '_' || c == '-' || c == '+';
                         });
  try {
    if (plausible) return date::locate_zone(name);
  } catch (const std::exception&) {
  }
  throw InvalidTimeZone("\"" + name + "\" is not an IANA time zone (such as \"Europe/Paris\" or \"UTC\")");
}

}  // namespace

CronSchedule CronSchedule::parse(std::string_view expression) {
  std::string text(expression);
  const auto first = text.find_first_not_of(" \t\n\r");
  if (first == std::string::npos) throw InvalidSchedule("the schedule is empty");
  text = text.substr(first, text.find_last_not_of(" \t\n\r") - first + 1);
  if (text[0] == '@') text = expand_alias(text);
  std::vector<std::string_view> fields;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest = rest.substr(start);
    const auto end = rest.find_first_of(" \t");
    fields.push_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (fields.size() != 5 && fields.size() != 6)
    throw InvalidSchedule("a schedule has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds "
                          "last; got " + std::to_string(fields.size()));

  CronSchedule s;
  s.minutes_ = parse_field<60>({"minute", 0, 59}, fields[0]);
  s.hours_ = parse_field<24>({"hour", 0, 23}, fields[1]);
  s.days_ = parse_field<32>({"day-of-month", 1, 31, nullptr, 0, 0, true}, fields[2], &s.last_day_);
  s.months_ = parse_field<13>({"month", 1, 12, kMonthNames, 12, 1}, fields[3]);
  s.weekdays_ = parse_field<7>({"day-of-week", 0, 7, kDayNames, 7, 0}, fields[4]);
  if (fields.size() == 6) {
    s.seconds_ = parse_field<60>({"second", 0, 59}, fields[5]);
  } else {
    s.seconds_.set(0);
  }
  s.days_restricted_ = s.last_day_ || s.days_.count() != 31;
  s.weekdays_restricted_ = s.weekdays_.count() != 7;
  // Vixie cron's test: a field starting with `*` is a wildcard there, whatever follows.
  const auto wildcard = [](std::string_view field) { return field[0] == '*' || field[0] == '?'; };
  s.fixed_time_ = !wildcard(fields[0]) && !wildcard(fields[1]);
  return s;
}

bool CronSchedule::day_matches(int year, unsigned month, unsigned day, unsigned weekday) const {
  bool dom = days_[day];
  if (!dom && last_day_)
    dom = day == static_cast<unsigned>(date::year_month_day_last(date::year(year), date::month_day_last(date::month(month))).day());
  const bool dow = weekdays_[weekday];
  if (days_restricted_ && weekdays_restricted_) return dom || dow;
  return dom && dow;
}

// The first wall-clock time in [from, limit) the fields match.
std::optional<CronSchedule::LocalSeconds> CronSchedule::next_local(LocalSeconds from, LocalSeconds limit) const {
  constexpr long long kDay = 86400;
  LocalSeconds t = from;
  while (t < limit) {
    const date::sys_days day{date::floor<date::days>(t)};
    const date::year_month_day ymd{day};
    const unsigned month = static_cast<unsigned>(ymd.month());
    if (!months_[month]) {
      const date::year_month next = date::year_month{ymd.year(), ymd.month()} + date::months{1};
      t = date::sys_days{next / 1}.time_since_epoch();
      continue;
    }
    const LocalSeconds midnight = day.time_since_epoch();
    if (!day_matches(static_cast<int>(ymd.year()), month, static_cast<unsigned>(ymd.day()),
                     date::weekday{day}.c_encoding())) {
      t = midnight + seconds(kDay);
      continue;
    }
    const long long of_day = (t - midnight).count();
    const int hour = static_cast<int>(of_day / 3600);
    const int minute = static_cast<int>(of_day / 60 % 60);
    const int second = static_cast<int>(of_day % 60);
    if (!hours_[hour]) {
      const int next = first_at_or_after(hours_, hour + 1);
      t = midnight + seconds(next < 0 ? kDay : next * 3600LL);
      continue;
    }
    const LocalSeconds hour_start = midnight + seconds(hour * 3600LL);
    if (!minutes_[minute]) {
      const int next = first_at_or_after(minutes_, minute + 1);
      t = hour_start + seconds(next < 0 ? 3600 : next * 60);
      continue;
    }
    if (!seconds_[second]) {
      const int next = first_at_or_after(seconds_, second + 1);
      t = hour_start + seconds(minute * 60 + (next < 0 ? 60 : next));
      continue;
    }
    return t;
  }
  return std::nullopt;
}

std::optional<std::chrono::sys_seconds> CronSchedule::next_after(std::chrono::sys_seconds after,
                                                                 const std::string& zone_name) const {
  const auto horizon = after + date::days(366 * 50);
  const auto start = after + seconds(1);
  if (zone_name.empty() || zone_name == "UTC") {
    auto found = next_local(start.time_since_epoch(), horizon.time_since_epoch());
    if (!found) return std::nullopt;
    return std::chrono::sys_seconds(*found);
  }
  const date::time_zone* zone = find_zone(zone_name);
  // The UTC time line in stretches of one UTC offset: within each the wall clock runs straight.
  for (auto t = start; t < horizon;) {
    const date::sys_info info = zone->get_info(t);
    const auto end = std::min<std::chrono::sys_seconds>(info.end, horizon);
    LocalSeconds from = t.time_since_epoch() + info.offset;
    if (fixed_time_ && info.begin > date::sys_days(date::year(1900) / 1 / 1)) {
      const date::sys_info before = zone->get_info(info.begin - seconds(1));
      if (before.offset > info.offset) {
        // Clocks went back: the wall clock shows [begin + offset, begin + previous offset) again.
        from = std::max(from, info.begin.time_since_epoch() + before.offset);
      } else if (before.offset < info.offset && t == info.begin) {
        // Clocks went forward: a time in the skipped stretch fires at the change.
        const LocalSeconds skipped_from = info.begin.time_since_epoch() + before.offset;
        if (next_local(skipped_from, info.begin.time_since_epoch() + info.offset)) return info.begin;
      }
    }
    if (auto found = next_local(from, end.time_since_epoch() + info.offset))
      return std::chrono::sys_seconds(*found - info.offset);
    t = end;
  }
  return std::nullopt;
}

void check_time_zone(const std::string& zone) { find_zone(zone); }

}  // namespace lgs
