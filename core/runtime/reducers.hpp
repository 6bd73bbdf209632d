// How a channel merges a write into its value: LangGraph's reducers, applied by the runtime.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace lgs {

using json = nlohmann::json;

bool is_known_reducer(const std::string& name);

// Returns the channel's value after `update` was written to it. `current` is null when unset.
json apply_reducer(const std::string& reducer, const json& current, const json& update);

// LangGraph's add_messages: coerces each message ({role: "user"} → type "human", strings →
// human messages), gives ids to messages without one, replaces messages with the same id,
// removes those named by {"type": "remove", "id": ...}.
json add_messages(const json& current, const json& update);

// One message in LangChain's serialised shape, with its type's fields filled in.
json coerce_message(const json& message);

}  // namespace lgs
