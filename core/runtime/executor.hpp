// The superstep loop every graph runs in: nodes of a step run on the same state, their
// updates are merged through the channels' reducers, then edges pick the next step. A
// checkpoint is written before the first step (the input) and after every step, so a thread's
// state, history, interrupts and resumes all come from the checkpoints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/graph_plugin.hpp"
#include "storage/records.hpp"

namespace lgs {

// What one execution needs from the run around it.
struct RunContext {
  const GraphPlugin& graph;
  json config;  // {"configurable": {...}, "recursion_limit"?: n}
  std::string thread_id;
  std::string run_id;
  std::vector<std::string> interrupt_before;  // the run's own, on top of the graph's
  std::vector<std::string> interrupt_after;
  // Persists a checkpoint (called again with the same id when an interrupted step's results
  // are recorded). Optional.
  std::function<void(const Checkpoint&)> save;
  // Publishes a stream event: (mode, event name, data). Optional.
  std::function<void(const std::string&, const std::string&, const json&)> emit;
  // Polled between steps: true stops the run with RunCancelled. Optional.
  std::function<bool()> cancelled;
  // Answers nodes' store calls (see Store in graph.hpp). Optional.
  HostSink::StoreHandler store = {};
};

struct Execution {
  json values;                      // the state after the last step
  bool interrupted = false;         // paused by interrupt() or interrupt_before/after
  json interrupts = json::object(); // task id -> [{value, id}]
  int steps = 0;                    // supersteps run
  std::optional<Checkpoint> last;   // the newest checkpoint
};

struct RunCancelled {};

// Runs the graph on a thread whose newest checkpoint is `latest` (none for a new thread).
// A non-null `input` starts from START; otherwise `command` ({resume, update, goto}) continues
// an interrupted thread. Throws GraphError on a failing node, an invalid update or past the
// recursion limit (config "recursion_limit", default 25), RunCancelled when cancelled.
Execution run_graph(const RunContext& run, const std::optional<Checkpoint>& latest, const json& input,
                    const json& command = nullptr);

// Convenience for a run without a thread: from `state`, with `input`.
Execution run_graph(const GraphPlugin& graph, json state, const json& input, const json& config,
                    int recursion_limit = 25);

// Writes `update` into `state` through the channels' reducers; keys that are not channels are
// rejected (GraphError "InvalidUpdateError"), except in the input, where they are ignored.
void apply_update(const GraphSpec& spec, json& state, const json& update, const std::string& writer);

// LangGraph's update_state: writes `values` as if node `as_node` had returned them (empty: the
// node that wrote last, or the input), and returns the new checkpoint (source "update"), whose
// next nodes follow `as_node`'s edges. Throws GraphError on an invalid update or node.
Checkpoint update_state(const GraphPlugin& graph, const std::optional<Checkpoint>& latest, const json& values,
                        std::string as_node, const std::string& thread_id, const json& config);

// The checkpoint as the "checkpoints" stream mode and the debug events carry it.
json checkpoint_event(const Checkpoint& checkpoint);

}  // namespace lgs
