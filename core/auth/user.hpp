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
};

// Normalises what authenticate returned: an identity string, or an object with a non-empty
// string "identity" (display_name defaults to it, is_authenticated to true, permissions to []).
// Anything else is malformed: nullopt, with the reason in `why`.
std::optional<User> normalize_user(const json& returned, std::string& why);

}  // namespace lgs
