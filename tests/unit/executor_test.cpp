#include <doctest/doctest.h>

#include "config/startup_error.hpp"
#include "runtime/executor.hpp"

using namespace lgs;

namespace {
GraphPluginPtr load_graph(const std::string& dir, const std::string& name) {
  return GraphPlugin::load(name, parse_plugin_ref("graphs." + name, dir + "/" + name + ".so:graph", "/"));
}
json config_with(json configurable) { return {{"configurable", std::move(configurable)}}; }
}  // namespace

TEST_SUITE("runtime.executor") {
  TEST_CASE("the agent greets the authenticated user and answers the last human message") {
    auto agent = load_graph(PLUGIN_DIR, "agent");
    json input = {{"messages", {{{"role", "user"}, {"content", "Hello!"}}}}};
    auto result = run_graph(*agent, nullptr, input, config_with({{"langgraph_auth_user", {{"identity", "user2"}}}}));
    REQUIRE(result.values["messages"].size() == 2);
    CHECK(result.values["messages"][0]["type"] == "human");
    CHECK(result.values["messages"][1]["type"] == "ai");
    CHECK(result.values["messages"][1]["content"] == "Hello user2! You said: Hello!");
    CHECK(result.steps == 1);

    // A second run continues the conversation from the stored state.
    auto again = run_graph(*agent, result.values, {{"messages", "Again"}}, config_with({{"langgraph_auth_user", {{"identity", "user2"}}}}));
    CHECK(again.values["messages"].size() == 4);
  }

  TEST_CASE("conditional edges loop until the router says END") {
    auto counter = load_graph(FIXTURE_DIR, "graph_counter");
    auto result = run_graph(*counter, nullptr, json::object(), config_with({{"target", 4}}));
    CHECK(result.values["count"] == 4);
    CHECK(result.values["log"] == json::array({"step 1", "step 2", "step 3", "step 4"}));
    CHECK(result.steps == 4);
  }

  TEST_CASE("the recursion limit stops a run that would go on") {
    auto counter = load_graph(FIXTURE_DIR, "graph_counter");
    try {
      run_graph(*counter, nullptr, json::object(), config_with({{"target", 100}}), 5);
      FAIL("no recursion error");
    } catch (const GraphError& e) {
      CHECK(e.type == "GraphRecursionError");
      CHECK(std::string(e.what()).find("Recursion limit of 5") != std::string::npos);
    }
    CHECK_NOTHROW(run_graph(*counter, nullptr, json::object(), config_with({{"target", 5}}), 5));
  }

  TEST_CASE("fan-out: nodes of one step see the same state and both updates are applied") {
    auto fanout = load_graph(FIXTURE_DIR, "graph_fanout");
    auto result = run_graph(*fanout, nullptr, json::object(), config_with({}));
    CHECK(result.values["seen"] == json::array({"left saw 0", "right saw 0", "join saw 2"}));
    CHECK(result.steps == 2);
  }

  TEST_CASE("a node that throws fails the run with its message, and the server survives") {
    auto fanout = load_graph(FIXTURE_DIR, "graph_fanout");
    try {
      run_graph(*fanout, nullptr, {{"fail", true}}, config_with({}));
      FAIL("no error");
    } catch (const GraphError& e) {
      CHECK(std::string(e.what()) == "right failed on purpose");
    }
  }

  TEST_CASE("input keys outside the state are ignored; a non-object input is refused") {
    auto counter = load_graph(FIXTURE_DIR, "graph_counter");
    CHECK(run_graph(*counter, nullptr, {{"unrelated", 1}}, config_with({{"target", 1}})).values.contains("unrelated") == false);
    CHECK_THROWS_AS(run_graph(*counter, nullptr, json::array({1}), config_with({})), GraphError);
  }

  TEST_CASE("a graph plugin that is not a graph is refused at load") {
    CHECK_THROWS_AS(load_graph(FIXTURE_DIR, "auth_throws"), StartupError);  // no "graph" symbol
  }
}
