#pragma once

#include <string>

namespace lgs {

// Now as ISO 8601 in UTC with microseconds, as the Python server writes timestamps:
// "2026-11-23T19:05:42.123456+00:00".
std::string now_iso8601();
// The same format, `seconds` from now (negative: in the past).
std::string iso8601_from_now(double seconds);

}  // namespace lgs
