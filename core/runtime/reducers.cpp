#include "runtime/reducers.hpp"

#include <stdexcept>

#include "util/ids.hpp"

namespace lgs {

bool is_known_reducer(const std::string& name) {
  return name == "last_value" || name == "append" || name == "add_messages";
}

json apply_reducer(const std::string& reducer, const json& current, const json& update) {
  if (reducer == "add_messages") return add_messages(current, update);
  if (reducer == "append") {
    json out = current.is_array() ? current : json::array();
    if (update.is_array())
      out.insert(out.end(), update.begin(), update.end());
    else
      out.push_back(update);
    return out;
  }
  return update;
}

json coerce_message(const json& message) {
  json m;
  if (message.is_string()) {
    m = {{"type", "human"}, {"content", message}};
  } else if (message.is_object()) {
    m = message;
    if (m.contains("role") && !m.contains("type")) {
      const std::string role = m["role"].is_string() ? m["role"].get<std::string>() : "";
      static const std::map<std::string, std::string> kRoles = {
          {"user", "human"}, {"human", "human"}, {"assistant", "ai"}, {"ai", "ai"},
          {"system", "system"}, {"developer", "system"}, {"tool", "tool"}, {"function", "function"}};
      auto it = kRoles.find(role);
      if (it == kRoles.end()) throw std::invalid_argument("message has an unknown role \"" + role + "\"");
      m["type"] = it->second;
      m.erase("role");
    }
  } else {
    throw std::invalid_argument("a message must be a string or an object");
  }
  if (!m.contains("type") || !m["type"].is_string()) throw std::invalid_argument("a message needs a \"type\" or a \"role\"");
  const std::string type = m["type"].get<std::string>();
  // Streaming chunk types are stored as their message type.
  if (type.size() > 5 && type.compare(type.size() - 5, 5, "Chunk") == 0) m["type"] = type.substr(0, type.size() - 5);
  if (type == "remove") return m;
  if (!m.contains("content")) m["content"] = "";
  for (const char* key : {"additional_kwargs", "response_metadata"})
    if (!m.contains(key) || m[key].is_null()) m[key] = json::object();
  if (!m.contains("name")) m["name"] = nullptr;
  if (!m.contains("id") || m["id"].is_null() || (m["id"].is_string() && m["id"].get_ref<const std::string&>().empty()))
    m["id"] = uuid4();
  if (type == "human" || type == "ai") m.emplace("example", false);
  if (type == "ai") {
    m.emplace("tool_calls", json::array());
    m.emplace("invalid_tool_calls", json::array());
    m.emplace("usage_metadata", nullptr);
  }
  if (type == "tool") {
    m.emplace("tool_call_id", "");
    m.emplace("artifact", nullptr);
    m.emplace("status", "success");
  }
  return m;
}

json add_messages(const json& current, const json& update) {
  json merged = current.is_array() ? current : json::array();
  const json incoming = update.is_array() ? update : json::array({update});
  for (const auto& raw : incoming) {
    const json message = coerce_message(raw);
    const json& id = message["id"];
    auto same_id = [&](const json& m) { return m.is_object() && m.contains("id") && m["id"] == id; };
    auto existing = std::find_if(merged.begin(), merged.end(), same_id);
    if (message["type"] == "remove") {
      if (id == "__remove_all__") {
        merged = json::array();
      } else if (existing != merged.end()) {
        merged.erase(existing);
      } else {
        throw std::invalid_argument("attempting to delete a message with an id that doesn't exist");
      }
    } else if (existing != merged.end()) {
      *existing = message;
    } else {
      merged.push_back(message);
    }
  }
  return merged;
}

}  // namespace lgs
