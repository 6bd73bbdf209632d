// The superstep loop every graph runs in: nodes of a step run on the same state, their
// updates are merged through the channels' reducers, then edges pick the next step.
#pragma once

#include <nlohmann/json.hpp>

#include "plugin/graph_plugin.hpp"

namespace lgs {

struct Execution {
  json values;  // the state after the last step
  int steps = 0;
};

// Runs `graph` from `state` with `input` written first (as the START node's update).
// Throws GraphError on a failing node, an invalid update or past `recursion_limit` steps.
Execution run_graph(const GraphPlugin& graph, json state, const json& input, const json& config, int recursion_limit = 25);

// Writes `update` into `state` through the channels' reducers; keys that are not channels are
// rejected (GraphError "InvalidUpdateError").
void apply_update(const GraphSpec& spec, json& state, const json& update, const std::string& writer);

}  // namespace lgs
