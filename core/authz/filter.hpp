// Authorization filters: conditions on a resource's metadata returned by a handler.
//
//   {"owner": "alice"}                       equality (same as {"owner": {"$eq": "alice"}})
//   {"tags": {"$contains": "x"}}             a list holds the value (or every value of a list)
//   {"owner": {"$ne": "bob"}}, {"owner": {"$in": ["a", "b"]}}
//   {"$or": [{...}, {...}]}, {"$and": [...]}
// All keys are ANDed. An unknown operator is an error, never a match.
#pragma once

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace lgs {

using json = nlohmann::json;

struct InvalidFilter : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Throws InvalidFilter when `filter` is not in the grammar.
void validate_filter(const json& filter);

// True when `document` (a resource's metadata) satisfies `filter`. Expects a valid filter.
bool filter_matches(const json& filter, const json& document);

// Both filters at once ({"$and": [a, b]}, or the one that is not empty).
json combine_filters(const json& a, const json& b);

}  // namespace lgs
