#include "runtime/graph_spec.hpp"

#include <algorithm>
#include <stdexcept>

#include "runtime/reducers.hpp"

namespace lgs {

bool GraphSpec::has_node(const std::string& name) const {
  return std::find(nodes.begin(), nodes.end(), name) != nodes.end();
}

GraphSpec GraphSpec::parse(const json& graph) {
  GraphSpec spec;
  try {
    for (const auto& [name, reducer] : graph.at("channels").items()) {
      const std::string r = reducer.get<std::string>();
      if (!is_known_reducer(r)) throw std::invalid_argument("channel \"" + name + "\" has unknown reducer \"" + r + "\"");
      spec.channels[name] = r;
    }
    spec.nodes = graph.at("nodes").get<std::vector<std::string>>();
    for (const auto& edge : graph.at("edges")) spec.edges.emplace_back(edge.at(0).get<std::string>(), edge.at(1).get<std::string>());
    for (const auto& b : graph.value("branches", json::array()))
      spec.branches.push_back({b.at("id").get<std::string>(), b.at("source").get<std::string>(),
                               b.value("destinations", std::vector<std::string>{})});
    spec.interrupt_before = graph.value("interrupt_before", std::vector<std::string>{});
    spec.interrupt_after = graph.value("interrupt_after", std::vector<std::string>{});
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("malformed graph description: ") + e.what());
  }
  auto source_ok = [&](const std::string& n) { return n == kStart || spec.has_node(n); };
  auto target_ok = [&](const std::string& n) { return n == kEnd || spec.has_node(n); };
  bool has_entry = false;
  for (const auto& [from, to] : spec.edges) {
    if (!source_ok(from)) throw std::invalid_argument("edge from unknown node \"" + from + "\"");
    if (!target_ok(to)) throw std::invalid_argument("edge to unknown node \"" + to + "\"");
    has_entry |= from == kStart;
  }
  for (const auto& b : spec.branches) {
    if (!source_ok(b.source)) throw std::invalid_argument("conditional edge from unknown node \"" + b.source + "\"");
    for (const auto& d : b.destinations)
      if (!target_ok(d)) throw std::invalid_argument("conditional edge to unknown node \"" + d + "\"");
    has_entry |= b.source == kStart;
  }
  if (!has_entry) throw std::invalid_argument("the graph has no edge from START");
  return spec;
}

}  // namespace lgs
