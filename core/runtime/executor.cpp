#include "runtime/executor.hpp"

#include <algorithm>

#include "runtime/reducers.hpp"

namespace lgs {

void apply_update(const GraphSpec& spec, json& state, const json& update, const std::string& writer) {
  for (const auto& [channel, value] : update.items()) {
    auto reducer = spec.channels.find(channel);
    if (reducer == spec.channels.end()) {
      if (writer == kStart) continue;  // input keys outside the state schema are ignored
      throw GraphError("InvalidUpdateError", "node \"" + writer + "\" wrote to unknown channel \"" + channel + "\"");
    }
    try {
      const json current = state.contains(channel) ? state[channel] : json();
      state[channel] = apply_reducer(reducer->second, current, value);
    } catch (const std::invalid_argument& e) {
      throw GraphError("InvalidUpdateError", "channel \"" + channel + "\": " + e.what());
    }
  }
}

namespace {

std::vector<std::string> successors(const GraphPlugin& graph, const std::string& node, const json& state,
                                    const json& config) {
  std::vector<std::string> next;
  for (const auto& [from, to] : graph.spec().edges)
    if (from == node) next.push_back(to);
  for (const auto& branch : graph.spec().branches)
    if (branch.source == node)
      for (auto& to : graph.route(branch, state, config)) next.push_back(std::move(to));
  return next;
}

void add_unique(std::vector<std::string>& into, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (n != kEnd && std::find(into.begin(), into.end(), n) == into.end()) into.push_back(n);
}

}  // namespace

Execution run_graph(const GraphPlugin& graph, json state, const json& input, const json& config, int recursion_limit) {
  if (!state.is_object()) state = json::object();
  if (!input.is_null()) {
    if (!input.is_object()) throw GraphError("InvalidUpdateError", "the run's input must be an object of channel values");
    apply_update(graph.spec(), state, input, kStart);
  }
  std::vector<std::string> tasks;
  add_unique(tasks, successors(graph, kStart, state, config));

  Execution execution;
  while (!tasks.empty()) {
    if (execution.steps >= recursion_limit)
      throw GraphError("GraphRecursionError", "Recursion limit of " + std::to_string(recursion_limit) +
                                                  " reached without hitting a stop condition. You can increase the "
                                                  "limit by setting the `recursion_limit` config key.");
    // Every node of a step sees the same state; updates are applied after all ran.
    std::vector<json> updates;
    updates.reserve(tasks.size());
    for (const auto& node : tasks) updates.push_back(graph.run_node(node, state, config));
    for (size_t i = 0; i < tasks.size(); ++i) apply_update(graph.spec(), state, updates[i], tasks[i]);
    std::vector<std::string> next;
    for (const auto& node : tasks) add_unique(next, successors(graph, node, state, config));
    tasks = std::move(next);
    ++execution.steps;
  }
  execution.values = std::move(state);
  return execution;
}

}  // namespace lgs
