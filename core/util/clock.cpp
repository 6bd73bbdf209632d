#include "util/clock.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace lgs {

std::string format_iso8601(std::chrono::sys_time<std::chrono::microseconds> micros) {
  using namespace std::chrono;
  // Floored, not truncated toward zero: before 1970 the fraction still counts up from the second.
  const auto secs = floor<seconds>(micros);
  const std::time_t whole = static_cast<std::time_t>(secs.time_since_epoch().count());
  std::tm utc{};
  gmtime_r(&whole, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, (micros - secs).count());
}

bool sortable_iso8601(std::chrono::sys_time<std::chrono::microseconds> time) {
  using namespace std::chrono;
  return time >= sys_days(year(1970) / January / 1) && time < sys_days(year(10000) / January / 1);
}

std::optional<std::chrono::sys_time<std::chrono::microseconds>> parse_iso8601(std::string_view text) {
  using namespace std::chrono;
  size_t at = 0;
  // `digits` digits as a number, or -1.
  auto read = [&](size_t digits) -> long {
    if (at + digits > text.size()) return -1;
    long value = 0;
    for (size_t i = 0; i < digits; ++i) {
      const char c = text[at + i];
      if (c < '0' || c > '9') return -1;
      value = value * 10 + (c - '0');
    }
    at += digits;
    return value;
  };
  auto take = [&](char c) {
    if (at < text.size() && text[at] == c) {
      ++at;
      return true;
    }
    return false;
  };
  const long y = read(4);
  if (y < 0 || !take('-')) return std::nullopt;
  const long mo = read(2);
  if (mo < 0 || !take('-')) return std::nullopt;
  const long d = read(2);
  const year_month_day date{year(static_cast<int>(y)), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (d < 0 || !date.ok()) return std::nullopt;
  long h = 0, mi = 0, s = 0;
  microseconds fraction{0};
  seconds offset{0};
  if (at < text.size()) {
    if (!take('T') && !take('t') && !take(' ')) return std::nullopt;
    h = read(2);
    if (h < 0 || h > 23 || !take(':')) return std::nullopt;
    mi = read(2);
    if (mi < 0 || mi > 59) return std::nullopt;
    if (take(':')) {
      s = read(2);
      if (s < 0 || s > 59) return std::nullopt;
      if (take('.') || take(',')) {
        long scale = 100000;
        size_t digits = 0;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
          fraction += microseconds((text[at] - '0') * scale);
          scale /= 10;
          ++at;
          ++digits;
        }
        if (digits == 0) return std::nullopt;
      }
    }
    if (take('Z') || take('z')) {
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
      const bool negative = text[at++] == '-';
      const long oh = read(2);
      if (oh < 0 || oh > 23) return std::nullopt;
      take(':');
      long om = 0;
      if (at < text.size()) {
        om = read(2);
        if (om < 0 || om > 59) return std::nullopt;
      }
      offset = hours(oh) + minutes(om);
      if (negative) offset = -offset;
    }
    if (at != text.size()) return std::nullopt;
  }
  return sys_days(date) + hours(h) + minutes(mi) + seconds(s) + fraction - offset;
}

std::string now_iso8601() { return format_iso8601(std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now())); }

std::string iso8601_from_now(double seconds) {
  using namespace std::chrono;
  return format_iso8601(floor<microseconds>(system_clock::now() + duration_cast<system_clock::duration>(duration<double>(seconds))));
}

}  // namespace lgs
