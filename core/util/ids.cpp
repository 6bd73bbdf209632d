#include "util/ids.hpp"

#include <uuid/uuid.h>

namespace lgs {

namespace {
std::string unparse(const uuid_t id) {
  char out[37];
  uuid_unparse_lower(id, out);
  return std::string(out, 36);
}
}  // namespace

std::string uuid4() {
  uuid_t id;
  uuid_generate_random(id);
  return unparse(id);
}

std::string uuid5(std::string_view namespace_id, std::string_view name) {
  uuid_t ns, id;
  const std::string text(namespace_id);
  if (uuid_parse(text.c_str(), ns) != 0) return {};
  uuid_generate_sha1(id, ns, name.data(), name.size());
  return unparse(id);
}

std::optional<std::string> canonical_uuid(std::string_view text) {
  // uuid_parse accepts exactly the 36-character hyphenated form; FastAPI also takes 32 hex digits.
  std::string hyphenated(text);
  if (text.size() == 32 && text.find('-') == std::string_view::npos)
    hyphenated = std::string(text.substr(0, 8)) + "-" + std::string(text.substr(8, 4)) + "-" +
                 std::string(text.substr(12, 4)) + "-" + std::string(text.substr(16, 4)) + "-" +
                 std::string(text.substr(20));
  if (hyphenated.size() != 36) return std::nullopt;
  uuid_t id;
  if (uuid_parse(hyphenated.c_str(), id) != 0) return std::nullopt;
  return unparse(id);
}

}  // namespace lgs
