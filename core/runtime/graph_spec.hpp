// A graph's structure as its plugin declared it, validated by the server.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lgs {

using json = nlohmann::json;

inline constexpr const char* kStart = "__start__";
inline constexpr const char* kEnd = "__end__";

struct GraphSpec {
  struct Branch {
    std::string id;
    std::string source;
    std::vector<std::string> destinations;  // may be empty: any node
  };
  std::map<std::string, std::string> channels;  // name -> reducer
  std::vector<std::string> nodes;
  std::vector<std::pair<std::string, std::string>> edges;
  std::vector<Branch> branches;
  std::vector<std::string> interrupt_before, interrupt_after;

  // Parses and checks the plugin's "graph" JSON; throws std::invalid_argument with the cause.
  static GraphSpec parse(const json& graph);
  bool has_node(const std::string& name) const;
};

}  // namespace lgs
