// Human in the loop: "review" pauses the run with interrupt() and asks whether to carry out the
// requested action; the client resumes with Command{resume: true|false} (or {"approved": bool}),
// e.g. runs.wait(threadId, "approval", {command: {resume: true}}) with the JS SDK. "act" then
// does it, or not.
//
//   START → review (interrupt) → act → END
#include <langgraph/graph.hpp>

using namespace langgraph;

static StateGraph make() {
  StateGraph g;
  g.channel("action").channel("approved").channel("result");

  g.node("review", [](const State& state, const RunConfig&) -> Update {
    const std::string action = state.value("action", "the action");
    // The first time, this stops the run; on resume the node runs again and gets the value.
    const json decision = interrupt({{"question", "Approve " + action + "?"}, {"action", action}});
    const bool approved = decision == true || (decision.is_object() && decision.value("approved", false));
    return {{"approved", approved}};
  });

  g.node("act", [](const State& state, const RunConfig&) -> Update {
    const std::string action = state.value("action", "the action");
    return {{"result", state.value("approved", false) ? "done: " + action : "rejected: " + action}};
  });

  g.edge(START, "review").edge("review", "act").edge("act", END);
  return g;
}

LANGGRAPH_EXPORT_GRAPH(graph, make)
