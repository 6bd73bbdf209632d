#include "authz/filter.hpp"

#include <algorithm>

namespace lgs {

namespace {

bool is_operator_object(const json& condition) {
  return condition.is_object() && !condition.empty() &&
         std::all_of(condition.items().begin(), condition.items().end(),
                     [](const auto& item) { return !item.key().empty() && item.key()[0] == '$'; });
}

void validate_condition(const std::string& field, const json& condition) {
  if (!is_operator_object(condition)) {
    if (condition.is_object())
      for (const auto& [key, v] : condition.items())
        if (!key.empty() && key[0] == '$')
          throw InvalidFilter("filter on \"" + field + "\" mixes operators and plain keys");
    return;  // a plain value: equality
  }
  for (const auto& [op, operand] : condition.items()) {
    if (op == "$eq" || op == "$ne" || op == "$contains") continue;
    if (op == "$in") {
      if (!operand.is_array()) throw InvalidFilter("\"$in\" on \"" + field + "\" needs a list");
      continue;
    }
    throw InvalidFilter("unknown filter operator \"" + op + "\" on \"" + field + "\"");
  }
}

bool contains(const json& field, const json& wanted) {
  if (!field.is_array()) return false;
  auto has = [&](const json& v) { return std::find(field.begin(), field.end(), v) != field.end(); };
  if (wanted.is_array()) return std::all_of(wanted.begin(), wanted.end(), has);
  return has(wanted);
}

bool condition_matches(const json& document, const std::string& field, const json& condition) {
  static const json absent;
  const json* found = &absent;
  if (document.is_object())
    if (auto it = document.find(field); it != document.end()) found = &*it;
  const bool present = found != &absent;
  const json& value = *found;
  if (!is_operator_object(condition)) return present && value == condition;
  for (const auto& [op, operand] : condition.items()) {
    if (op == "$eq" && !(present && value == operand)) return false;
    if (op == "$ne" && present && value == operand) return false;
    if (op == "$in" && !(present && std::find(operand.begin(), operand.end(), value) != operand.end())) return false;
    if (op == "$contains" && !(present && contains(value, operand))) return false;
  }
  return true;
}

}  // namespace

void validate_filter(const json& filter) {
  if (!filter.is_object()) throw InvalidFilter("a filter must be an object");
  for (const auto& [key, condition] : filter.items()) {
    if (key == "$or" || key == "$and") {
      if (!condition.is_array() || condition.empty()) throw InvalidFilter("\"" + key + "\" needs a non-empty list of filters");
      for (const auto& part : condition) validate_filter(part);
    } else if (!key.empty() && key[0] == '$') {
      throw InvalidFilter("unknown filter operator \"" + key + "\"");
    } else {
      validate_condition(key, condition);
    }
  }
}

bool filter_matches(const json& filter, const json& document) {
  for (const auto& [key, condition] : filter.items()) {
    if (key == "$or") {
      if (std::none_of(condition.begin(), condition.end(), [&](const json& f) { return filter_matches(f, document); }))
        return false;
    } else if (key == "$and") {
      if (!std::all_of(condition.begin(), condition.end(), [&](const json& f) { return filter_matches(f, document); }))
        return false;
    } else if (!condition_matches(document, key, condition)) {
      return false;
    }
  }
  return true;
}

json combine_filters(const json& a, const json& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return {{"$and", {a, b}}};
}

}  // namespace lgs
