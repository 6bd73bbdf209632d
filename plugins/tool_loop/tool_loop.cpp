// A tool-calling loop, the shape of LangGraph's ReAct agent without a model: "agent" asks for
// the `add` tool for each sum in the newest human message ("what is 2+3 and 10+20?") that has
// no answer yet, "tools" runs the call, and once every sum is answered "agent" replies in words.
//
//   START → agent ─(tool calls?)→ tools → agent … ─(no tool calls)→ END
#include <langgraph/graph.hpp>

#include <regex>

using namespace langgraph;

// The sums "a+b" in a text, in order.
static std::vector<std::pair<long long, long long>> sums_in(const std::string& text) {
  static const std::regex sum(R"((-?\d+)\s*\+\s*(-?\d+))");
  std::vector<std::pair<long long, long long>> out;
  for (std::sregex_iterator it(text.begin(), text.end(), sum), end; it != end; ++it)
    out.emplace_back(std::stoll((*it)[1]), std::stoll((*it)[2]));
  return out;
}

// The tool results that came after the newest human message.
static std::vector<json> answers_since_question(const State& state) {
  std::vector<json> answers;
  for (const auto& message : state.value("messages", json::array())) {
    const std::string type = message.value("type", "");
    if (type == "human") answers.clear();
    if (type == "tool") answers.push_back(message);
  }
  return answers;
}

static StateGraph make() {
  StateGraph g;
  g.channel("messages", reducers::add_messages);

  g.node("agent", [](const State& state, const RunConfig& config) -> Update {
    const auto sums = sums_in(message_text(last_message(state, "human")));
    const auto answers = answers_since_question(state);
    if (sums.empty()) return {{"messages", {ai_message("Ask me to add numbers, e.g. \"what is 2+3?\"")}}};
    if (answers.size() < sums.size()) {  // the next sum without an answer: call the tool
      const auto [a, b] = sums[answers.size()];
      json call = {{"name", "add"},
                   {"args", {{"a", a}, {"b", b}}},
                   {"id", "call_" + config.run_id() + "_" + std::to_string(answers.size())},
                   {"type", "tool_call"}};
      json message = ai_message("");
      message["tool_calls"] = json::array({call});
      return {{"messages", {message}}};
    }
    std::string reply;
    for (size_t i = 0; i < sums.size(); ++i)
      reply += (i ? ", " : "") + std::to_string(sums[i].first) + " + " + std::to_string(sums[i].second) + " = " +
               message_text(answers[i]);
    return {{"messages", {ai_message(reply)}}};
  });

  g.node("tools", [](const State& state, const RunConfig&) -> Update {
    json results = json::array();
    for (const auto& call : last_message(state, "ai").value("tool_calls", json::array())) {
      const long long sum = call["args"]["a"].get<long long>() + call["args"]["b"].get<long long>();
      results.push_back({{"type", "tool"}, {"name", call["name"]}, {"tool_call_id", call["id"]},
                         {"content", std::to_string(sum)}});
    }
    return {{"messages", results}};
  });

  g.edge(START, "agent").edge("tools", "agent");
  g.conditional_edges(
      "agent",
      [](const State& state, const RunConfig&) -> json {
        return last_message(state, "ai").value("tool_calls", json::array()).empty() ? END : "tools";
      },
      {"tools", END});
  return g;
}

LANGGRAPH_EXPORT_GRAPH(graph, make)
