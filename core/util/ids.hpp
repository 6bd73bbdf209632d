// UUIDs: time-ordered random ids for resources, name-based (v5) ids for system assistants.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lgs {

std::string uuid4();
// A time-ordered UUID (RFC 9562 version 7: Unix milliseconds, a 12-bit sequence within the
// millisecond, then 62 random bits), the id of every resource the server creates: each id this
// process makes sorts after the ones before it, so lists sorted by id keep the order of creation
// and new rows land at the end of a database index instead of on a random page.
std::string uuid7();
// A time-ordered UUID (version 6 layout): ids made later compare greater as strings, as
// LangGraph's checkpoint ids do.
std::string uuid6();
// RFC 4122 version 5 (SHA-1) of `name` in `namespace_id`.
std::string uuid5(std::string_view namespace_id, std::string_view name);
// The canonical lower-case form of a UUID, or nullopt when `text` is not one.
std::optional<std::string> canonical_uuid(std::string_view text);

}  // namespace lgs
