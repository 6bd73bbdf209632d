// The authenticated user, normalised as LangGraph does it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lgs {

using json = nlohmann::json;

struct User {
  std::string identity;
  std::vector<std::string> permissions;
  // {identity, display_name, is_authenticated, permissions, ...custom fields}: what runs see as
  // config.configurable.langgraph_auth_user.
  json object;
  // `object` with `permissions`, serialized: what authorization handlers receive. Built once by
  // normalize_user and studio_user; empty in a User built field by field, which is then
  // serialized on every authorization call.
  std::string serialized;
};

// Normalises what authenticate returned: an identity string, or an object with a non-empty
// string "identity" (display_name defaults to it, is_authenticated to true, permissions to []).
// Anything else is malformed: nullopt, with the reason in `why`.
std::optional<User> normalize_user(const json& returned, std::string& why);

// The user as authorization handlers receive it: `serialized`, or built from `object` and
// `permissions` (into `scratch`) when it is empty.
const std::string& serialized_user(const User& user, std::string& scratch);

}  // namespace lgs
