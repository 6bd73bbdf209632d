#include "util/log.hpp"

#include <cstdio>
#include <mutex>

#include "util/clock.hpp"

namespace lgs::log {

void write(std::string_view level, std::string_view message) {
  static std::mutex mutex;
  const std::string stamp = now_iso8601();
  std::lock_guard lock(mutex);
  fmt::print(stderr, "{} {:7} {}\n", std::string_view(stamp).substr(0, 23), level, message);
  std::fflush(stderr);
}

}  // namespace lgs::log
