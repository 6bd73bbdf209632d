#pragma once

#include <string_view>

namespace lgs {

// Whether `text` is valid UTF-8, as a JSON document must be.
bool valid_utf8(std::string_view text);

}  // namespace lgs
