#include "util/clock.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace lgs {

namespace {

std::string format_iso8601(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(now.time_since_epoch()).count() % 1000000;
  const std::time_t seconds = system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros);
}

}  // namespace

std::string now_iso8601() { return format_iso8601(std::chrono::system_clock::now()); }

std::string iso8601_from_now(double seconds) {
  using namespace std::chrono;
  return format_iso8601(system_clock::now() + duration_cast<system_clock::duration>(duration<double>(seconds)));
}

}  // namespace lgs
