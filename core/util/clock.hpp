#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lgs {

// Now as ISO 8601 in UTC with microseconds, as the Python server writes timestamps:
// "2026-11-23T19:05:42.123456+00:00".
std::string now_iso8601();
// The same format, `seconds` from now (negative: in the past).
std::string iso8601_from_now(double seconds);
// Times in microseconds: system_clock's nanoseconds end in 2262.
// A time in that format.
std::string format_iso8601(std::chrono::sys_time<std::chrono::microseconds> time);
// True when `time` falls in the years 1970 to 9999, the times the server stores: formatted, they
// have four-digit years, so their texts sort as the times do (storage compares them as text).
bool sortable_iso8601(std::chrono::sys_time<std::chrono::microseconds> time);
// An ISO 8601 date and time as clients send them: "2026-05-01T12:00:00Z", with an offset
// ("+02:00", "+0200"), fractions of a second, a space for the "T", or a date alone (midnight);
// no offset means UTC. nullopt when it is not one.
std::optional<std::chrono::sys_time<std::chrono::microseconds>> parse_iso8601(std::string_view text);

}  // namespace lgs
