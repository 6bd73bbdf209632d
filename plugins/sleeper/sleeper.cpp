// A slow node, for runs that stay busy a while (cancel, multitask strategies, joining a live
// stream): "sleep" announces itself as a custom stream event, sleeps
// config.configurable.sleep_seconds (default 1; fractions allowed), then counts the nap.
//
//   START → sleep → END
#include <langgraph/graph.hpp>

#include <chrono>
#include <thread>

using namespace langgraph;

static StateGraph make() {
  StateGraph g;
  g.channel("naps", reducers::append);
  g.node("sleep", [](const State&, const RunConfig& config) -> Update {
    const json seconds = config.configurable().value("sleep_seconds", json(1));
    get_stream_writer()({{"status", "sleeping"}, {"seconds", seconds}});  // stream_mode "custom"
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds.get<double>()));
    return {{"naps", json::array({"slept " + seconds.dump() + "s"})}};
  });
  g.edge(START, "sleep").edge("sleep", END);
  return g;
}

LANGGRAPH_EXPORT_GRAPH(graph, make)
