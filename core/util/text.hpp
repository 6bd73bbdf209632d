#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace lgs {

// Whether `text` is valid UTF-8, as a JSON document must be.
bool valid_utf8(std::string_view text);

// `text` with each byte that is not part of valid UTF-8 replaced by U+FFFD, as Python's
// bytes.decode(errors="replace") reads a percent-decoded path or query.
std::string utf8_or_replaced(std::string text);

// Whether `text`, or a string or key anywhere in `value`, holds a NUL character, which
// PostgreSQL cannot store (jsonb refuses it, text cuts the value short there).
bool holds_nul(std::string_view text);
bool holds_nul(const nlohmann::json& value);

// `text` as every database stores it: valid UTF-8 without NUL characters, each invalid byte and
// each NUL replaced by U+FFFD. For text that must be kept whatever it holds, such as an error
// message from a plugin.
std::string storable_text(std::string text);

}  // namespace lgs
