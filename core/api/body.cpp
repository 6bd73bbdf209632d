#include "api/body.hpp"

#include <algorithm>

namespace lgs::body {

namespace {
const json* find(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}
[[noreturn]] void invalid(const char* key, const char* expected) {
  throw ApiError{422, std::string("\"") + key + "\" must be " + expected};
}
}  // namespace

json object(const json& body, const char* key) {
  const json* v = find(body, key);
  if (!v) return json::object();
  if (!v->is_object()) invalid(key, "an object");
  return *v;
}

std::optional<std::string> string(const json& body, const char* key) {
  const json* v = find(body, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) invalid(key, "a string");
  return v->get<std::string>();
}

std::string choice(const json& body, const char* key, std::initializer_list<const char*> allowed, const char* fallback) {
  auto value = string(body, key);
  if (!value) return fallback;
  std::string names;
  for (const char* a : allowed) {
    if (*value == a) return *value;
    names += std::string(names.empty() ? "" : ", ") + "\"" + a + "\"";
  }
  throw ApiError{422, std::string("\"") + key + "\" must be one of " + names + ", got \"" + *value + "\""};
}

int integer(const json& body, const char* key, int fallback, int min, int max) {
  const json* v = find(body, key);
  if (!v) return fallback;
  if (!v->is_number_integer()) invalid(key, "an integer");
  const auto n = v->get<long long>();
  if (n < min || n > max)
    throw ApiError{422, std::string("\"") + key + "\" must be between " + std::to_string(min) + " and " + std::to_string(max)};
  return static_cast<int>(n);
}

std::vector<std::string> strings(const json& body, const char* key) {
  const json* v = find(body, key);
  if (!v) return {};
  if (!v->is_array()) invalid(key, "a list of strings");
  std::vector<std::string> out;
  for (const auto& item : *v) {
    if (!item.is_string()) invalid(key, "a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

bool boolean(const json& body, const char* key, bool fallback) {
  const json* v = find(body, key);
  if (!v) return fallback;
  if (!v->is_boolean()) invalid(key, "true or false");
  return v->get<bool>();
}

std::vector<std::string> select(std::vector<std::string> names, std::initializer_list<const char*> fields) {
  for (const auto& name : names)
    if (std::find_if(fields.begin(), fields.end(), [&](const char* f) { return name == f; }) == fields.end())
      throw ApiError{422, "\"select\" names unknown field \"" + name + "\""};
  return names;
}

json selected(json full, const std::vector<std::string>& select) {
  if (select.empty()) return full;
  json out = json::object();
  for (const auto& name : select)
    if (auto it = full.find(name); it != full.end()) out[name] = std::move(*it);
  return out;
}

}  // namespace lgs::body
