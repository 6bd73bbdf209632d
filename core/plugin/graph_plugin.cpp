#include "plugin/graph_plugin.hpp"

#include "config/startup_error.hpp"
#include "plugin/host_sink.hpp"

namespace lgs {

namespace {

// The JSON a call wrote under `key`; throws GraphError when the call failed or wrote none.
json result_of(int32_t rc, const HostSink& sink, const std::string& key, const std::string& what) {
  if (rc == LG_DENIED && sink.http_error())
    throw GraphError("HTTPException", std::to_string(sink.http_error()->status) + ": " + sink.http_error()->detail);
  if (rc != LG_OK) {
    std::string type = "NodeError";
    if (const std::string* named = sink.json("error_type")) {
      const json parsed = json::parse(*named, nullptr, false);
      if (parsed.is_string()) type = parsed.get<std::string>();
    }
    throw GraphError(type, sink.failure().empty() ? what + " failed" : sink.failure());
  }
  const std::string* text = sink.json(key);
  if (!text) throw GraphError("InvalidUpdateError", what + " returned nothing");
  json value = json::parse(*text, nullptr, false);
  if (value.is_discarded()) throw GraphError("InvalidUpdateError", what + " returned invalid JSON");
  // What PostgreSQL cannot store fails the run on every database, as the API refuses it in input.
  if (holds_nul(value))
    throw GraphError("InvalidUpdateError", what + " returned a NUL character (\\u0000), which no database stores");
  return value;
}

}  // namespace

std::shared_ptr<const GraphPlugin> GraphPlugin::load(const std::string& graph_id, const PluginRef& ref) {
  std::shared_ptr<GraphPlugin> plugin(new GraphPlugin());
  plugin->library_ = open_library(ref);
  const void* entry = entry_descriptor(plugin->library_, ref, "LANGGRAPH_EXPORT_GRAPH");
  check_descriptor(static_cast<const DescriptorHeader*>(entry), sizeof(lg_graph_plugin), ref);
  const auto* descriptor = static_cast<const lg_graph_plugin*>(entry);
  if (!descriptor->create || !descriptor->destroy || !descriptor->describe || !descriptor->run_node || !descriptor->route)
    throw StartupError(plugin_error(ref, "the graph descriptor lacks create, destroy, describe, run_node or route"));

  HostSink created;
  void* instance = descriptor->create(HostSink::str("{}"), created.get());
  if (!instance)
    throw StartupError(plugin_error(ref, "the graph failed to build: " +
                                             (created.failure().empty() ? "no reason given" : created.failure())));
  plugin->descriptor_ = descriptor;
  plugin->instance_ = instance;
  plugin->graph_id_ = graph_id;

  HostSink described;
  const int32_t rc = descriptor->describe(instance, described.get());
  const std::string* text = described.json("graph");
  if (rc != LG_OK || !text)
    throw StartupError(plugin_error(ref, "the graph failed to describe itself: " + described.failure()));
  try {
    plugin->spec_ = GraphSpec::parse(json::parse(*text));
  } catch (const std::exception& e) {
    throw StartupError(plugin_error(ref, std::string("invalid graph: ") + e.what()));
  }
  return plugin;
}

GraphPlugin::~GraphPlugin() {
  if (instance_) descriptor_->destroy(instance_);
}

GraphPlugin::NodeResult GraphPlugin::run_node(const std::string& node, const json& state, const json& config,
                                              const json& resume,
                                              const std::function<void(std::string_view)>& on_custom,
                                              const HostSink::StoreHandler& on_store) const {
  const std::string state_text = state.dump();
  const std::string config_text = config.dump();
  const std::string resume_text = resume.is_array() ? resume.dump() : std::string();
  lg_node_call call{};
  call.struct_size = sizeof(lg_node_call);
  call.node = HostSink::str(node);
  call.state_json = HostSink::str(state_text);
  call.config_json = HostSink::str(config_text);
  call.resume_json = HostSink::str(resume_text);
  HostSink sink;
  if (on_custom) sink.on_custom(on_custom);
  if (on_store) sink.on_store(on_store);
  const int32_t rc = descriptor_->run_node(instance_, &call, sink.get());
  NodeResult result;
  if (rc == LG_INTERRUPTED) {
    result.interrupted = true;
    result.interrupt = result_of(LG_OK, sink, "interrupt", "node \"" + node + "\"");
    return result;
  }
  result.update = result_of(rc, sink, "update", "node \"" + node + "\"");
  if (!result.update.is_object())
    throw GraphError("InvalidUpdateError", "node \"" + node + "\" must return an object of channel updates");
  return result;
}

std::vector<std::string> GraphPlugin::route(const GraphSpec::Branch& branch, const json& state,
                                            const json& config) const {
  const std::string state_text = state.dump();
  const std::string config_text = config.dump();
  lg_route_call call{};
  call.struct_size = sizeof(lg_route_call);
  call.branch = HostSink::str(branch.id);
  call.state_json = HostSink::str(state_text);
  call.config_json = HostSink::str(config_text);
  HostSink sink;
  const int32_t rc = descriptor_->route(instance_, &call, sink.get());
  const json next = result_of(rc, sink, "next", "conditional edge from \"" + branch.source + "\"");
  std::vector<std::string> out;
  for (const auto& n : next.is_array() ? next : json::array({next})) {
    if (!n.is_string()) throw GraphError("InvalidUpdateError", "a conditional edge must return node names");
    const std::string name = n.get<std::string>();
    if (name != kEnd && !spec_.has_node(name))
      throw GraphError("InvalidUpdateError", "conditional edge from \"" + branch.source + "\" chose unknown node \"" + name + "\"");
    out.push_back(name);
  }
  return out;
}

}  // namespace lgs
