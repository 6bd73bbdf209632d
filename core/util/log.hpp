// Server log: one line per event on stderr, with a level. Never sent to clients.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace lgs::log {

void write(std::string_view level, std::string_view message);

template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write("info", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  write("warning", fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write("error", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace lgs::log
