#include "util/text.hpp"

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

namespace lgs {

bool valid_utf8(std::string_view text) {
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; })) return true;
  try {
    (void)nlohmann::json(std::string(text)).dump();  // strict: throws on invalid UTF-8
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

std::string utf8_or_replaced(std::string text) {
  if (valid_utf8(text)) return text;
  using json = nlohmann::json;
  return json::parse(json(std::move(text)).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

std::string storable_text(std::string text) {
  text = utf8_or_replaced(std::move(text));
  if (!holds_nul(std::string_view(text))) return text;
  std::string out;
  out.reserve(text.size() + 8);
  for (const char c : text) {
    if (c == '\0')
      out += "\xEF\xBF\xBD";  // U+FFFD
    else
      out += c;
  }
  return out;
}

bool holds_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

bool holds_nul(const nlohmann::json& value) {
  if (value.is_string()) return holds_nul(std::string_view(value.get_ref<const std::string&>()));
  if (value.is_array()) return std::any_of(value.begin(), value.end(), [](const auto& v) { return holds_nul(v); });
  if (value.is_object())
    for (const auto& [key, member] : value.items())
      if (holds_nul(std::string_view(key)) || holds_nul(member)) return true;
  return false;
}

}  // namespace lgs
