#include "auth/user.hpp"

namespace lgs {

std::optional<User> normalize_user(const json& returned, std::string& why) {
  json object;
  if (returned.is_string()) {
    object = {{"identity", returned}};
  } else if (returned.is_object()) {
    object = returned;
  } else {
    why = "authenticate returned " + std::string(returned.type_name()) + ", expected an identity or a user object";
    return std::nullopt;
  }
  if (!object.contains("identity") || !object["identity"].is_string() || object["identity"].get_ref<const std::string&>().empty()) {
    why = "the user returned by authenticate has no non-empty string \"identity\"";
    return std::nullopt;
  }
  User user;
  user.identity = object["identity"].get<std::string>();
  if (!object.contains("display_name") || object["display_name"].is_null()) object["display_name"] = user.identity;
  if (!object["display_name"].is_string()) {
    why = "\"display_name\" must be a string";
    return std::nullopt;
  }
  if (!object.contains("is_authenticated") || object["is_authenticated"].is_null()) object["is_authenticated"] = true;
  if (!object["is_authenticated"].is_boolean()) {
    why = "\"is_authenticated\" must be a boolean";
    return std::nullopt;
  }
  if (!object.contains("permissions") || object["permissions"].is_null()) object["permissions"] = json::array();
  if (!object["permissions"].is_array()) {
    why = "\"permissions\" must be a list of strings";
    return std::nullopt;
  }
  for (const auto& p : object["permissions"]) {
    if (!p.is_string()) {
      why = "\"permissions\" must be a list of strings";
      return std::nullopt;
    }
    user.permissions.push_back(p.get<std::string>());
  }
  user.object = std::move(object);
  user.serialized = user.object.dump();
  return user;
}

const std::string& serialized_user(const User& user, std::string& scratch) {
  if (!user.serialized.empty()) return user.serialized;
  json object = user.object;
  object["permissions"] = user.permissions;
  scratch = object.dump();
  return scratch;
}

}  // namespace lgs
