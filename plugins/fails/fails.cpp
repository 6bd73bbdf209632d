// A graph that fails on purpose: "prepare" succeeds, then "explode" throws. The run ends with
// status "error", /wait answers {"__error__": {"error", "message"}}, the thread's status becomes
// "error", and a stream gets an "error" event. The steps before the failure stay in the history.
//
//   START → prepare → explode (throws) → END
#include <langgraph/graph.hpp>

#include <stdexcept>

using namespace langgraph;

static StateGraph make() {
  StateGraph g;
  g.channel("steps", reducers::append);
  g.node("prepare", [](const State&, const RunConfig&) -> Update {
    return {{"steps", json::array({"prepared"})}};
  });
  g.node("explode", [](const State&, const RunConfig&) -> Update {
    throw std::runtime_error("explode failed on purpose");
  });
  g.edge(START, "prepare").edge("prepare", "explode").edge("explode", END);
  return g;
}

LANGGRAPH_EXPORT_GRAPH(graph, make)
