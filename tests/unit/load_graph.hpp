// Loads a graph plugin the way the server does: "<dir>/<name>.so:graph".
#pragma once

#include <string>

#include "config/config.hpp"
#include "plugin/graph_plugin.hpp"

inline lgs::GraphPluginPtr load_graph(const std::string& dir, const std::string& name) {
  return lgs::GraphPlugin::load(name, lgs::parse_plugin_ref("graphs." + name, dir + "/" + name + ".so:graph", "/"));
}
