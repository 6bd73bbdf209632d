// Fan-out and join: START leads to three nodes that run in the same step on the same state;
// their writes to the append channel "results" are merged once all of them finished (like
// LangGraph, in the order of the nodes' names, whatever order they finish in). "join" runs in
// the next step and sees all three.
//
//   START → (search_web, search_docs, search_code) → join → END
#include <langgraph/graph.hpp>

using namespace langgraph;

static StateGraph make() {
  StateGraph g;
  g.channel("query").channel("results", reducers::append).channel("summary");
  for (const std::string source : {"web", "docs", "code"}) {
    g.node("search_" + source, [source](const State& state, const RunConfig&) -> Update {
      const std::string query = state.value("query", "");
      return {{"results", json::array({source + ": " + query})}};
    });
    g.edge(START, "search_" + source).edge("search_" + source, "join");
  }
  g.node("join", [](const State& state, const RunConfig&) -> Update {
    return {{"summary", std::to_string(state["results"].size()) + " results for " + state.value("query", "")}};
  });
  g.edge("join", END);
  return g;
}

LANGGRAPH_EXPORT_GRAPH(graph, make)
