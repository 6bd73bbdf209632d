// The tutorial's chatbot: answers the last human message and greets the user it acts for,
// read from config.configurable.langgraph_auth_user (seed: "Enable agent authentication").
#include <langgraph/graph.hpp>

using namespace langgraph;

static StateGraph make() {
  StateGraph g;
  g.channel("messages", reducers::add_messages);
  g.node("call_model", [](const State& state, const RunConfig& config) -> Update {
    const AuthUser user = config.auth_user();
    const std::string who = user.exists() ? user.identity() : "anonymous";
    const json& question = last_message(state, "human");
    std::string reply = "Hello " + who + "!";
    if (!question.is_null()) reply += " You said: " + message_text(question);
    return {{"messages", {ai_message(reply)}}};
  });
  g.edge(START, "call_model").edge("call_model", END);
  return g;
}

LANGGRAPH_EXPORT_GRAPH(graph, make)
