// Reading fields of a request body with the checks FastAPI would make: a wrong type is a 422
// naming the field, never a 500.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "http/responses.hpp"

namespace lgs::body {

// The field as an object; `{}` when absent or null.
json object(const json& body, const char* key);
// The field as a string; nullopt when absent or null.
std::optional<std::string> string(const json& body, const char* key);
// The field as a string that must be one of `allowed`; `fallback` when absent or null.
std::string choice(const json& body, const char* key, std::initializer_list<const char*> allowed, const char* fallback);
// The field as an integer in [min, max]; `fallback` when absent or null.
int integer(const json& body, const char* key, int fallback, int min, int max);
// The field as a list of strings; empty when absent or null.
std::vector<std::string> strings(const json& body, const char* key);
bool boolean(const json& body, const char* key, bool fallback);

// A search's `select`: the names of the fields each result keeps (every field when empty); each
// must be one of `fields`, else 422.
std::vector<std::string> select(std::vector<std::string> names, std::initializer_list<const char*> fields);
// `full` with only the fields `select` names (every field when `select` is empty).
json selected(json full, const std::vector<std::string>& select);

}  // namespace lgs::body
