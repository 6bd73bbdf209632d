// A loaded graph plugin: its library, instance and validated structure.
#pragma once

#include <langgraph/abi.h>

#include <functional>
#include <memory>
#include <string_view>
#include <stdexcept>
#include <string>

#include "config/config.hpp"
#include "plugin/host_sink.hpp"
#include "plugin/plugin_library.hpp"
#include "runtime/graph_spec.hpp"
#include "util/text.hpp"

namespace lgs {

// A node or router that failed: `type` names the kind of error as the API reports it. Both are
// kept as storable text (see storable_text): a plugin's message may hold any bytes, and the
// error is stored with the run.
struct GraphError : std::runtime_error {
  GraphError(std::string type, std::string message)
      : std::runtime_error(storable_text(std::move(message))), type(storable_text(std::move(type))) {}
  std::string type;
};

class GraphPlugin {
 public:
  // Loads, instantiates and describes the graph; throws StartupError naming the cause.
  static std::shared_ptr<const GraphPlugin> load(const std::string& graph_id, const PluginRef& ref);
  ~GraphPlugin();
  GraphPlugin(const GraphPlugin&) = delete;
  GraphPlugin& operator=(const GraphPlugin&) = delete;

  const std::string& graph_id() const { return graph_id_; }
  const GraphSpec& spec() const { return spec_; }

  struct NodeResult {
    json update;     // an object of channel writes, when the node finished
    json interrupt;  // the interrupt() value, when it paused; null otherwise
    bool interrupted = false;
  };
  // Runs a node with the resume values of its interrupt() calls (a list, or null); custom
  // stream events go to `on_custom`. Throws GraphError when the node fails.
  NodeResult run_node(const std::string& node, const json& state, const json& config, const json& resume = nullptr,
                      const std::function<void(std::string_view)>& on_custom = {},
                      const HostSink::StoreHandler& on_store = {}) const;
  // Evaluates a branch; returns the destinations it chose. Throws GraphError.
  std::vector<std::string> route(const GraphSpec::Branch& branch, const json& state, const json& config) const;

 private:
  GraphPlugin() = default;
  SharedLibrary library_;  // first member: destroyed last, after the instance
  const lg_graph_plugin* descriptor_ = nullptr;
  void* instance_ = nullptr;
  std::string graph_id_;
  GraphSpec spec_;
};

using GraphPluginPtr = std::shared_ptr<const GraphPlugin>;

}  // namespace lgs
