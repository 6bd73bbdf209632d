#include <doctest/doctest.h>

#include "config/startup_error.hpp"
#include "load_graph.hpp"
#include "runtime/executor.hpp"

using namespace lgs;

namespace {
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

namespace {
struct Recorder {
  std::vector<Checkpoint> saved;
  std::vector<std::pair<std::string, json>> events;  // (event name, data)
  bool cancel = false;
  RunContext context(const GraphPlugin& graph, json configurable = json::object()) {
    return RunContext{graph,
                      {{"configurable", std::move(configurable)}},
                      "thread-1",
                      "run-1",
                      {},
                      {},
                      [this](const Checkpoint& c) {
                        for (auto& s : saved)
                          if (s.checkpoint_id == c.checkpoint_id) return void(s = c);
                        saved.push_back(c);
                      },
                      [this](const std::string&, const std::string& event, const json& data) { events.emplace_back(event, data); },
                      [this] { return cancel; }};
  }
  std::optional<Checkpoint> latest() const { return saved.empty() ? std::nullopt : std::optional(saved.back()); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, data] : events) out.push_back(name);
    return out;
  }
};
}  // namespace

TEST_SUITE("runtime.checkpoints") {
  TEST_CASE("a one-node graph writes the input checkpoint and one per step, as LangGraph does") {
    auto agent = load_graph(PLUGIN_DIR, "agent");
    Recorder r;
    auto ctx = r.context(*agent, {{"langgraph_auth_user", {{"identity", "u"}}}});
    run_graph(ctx, std::nullopt, {{"messages", "hi"}});
    REQUIRE(r.saved.size() == 3);
    CHECK(r.saved[0].metadata["source"] == "input");
    CHECK(r.saved[0].metadata["step"] == -1);
    CHECK(r.saved[0].next == std::vector<std::string>{"__start__"});
    CHECK(r.saved[1].metadata["source"] == "loop");
    CHECK(r.saved[1].metadata["step"] == 0);
    CHECK(r.saved[1].next == std::vector<std::string>{"call_model"});
    CHECK(r.saved[2].metadata["step"] == 1);
    CHECK(r.saved[2].next.empty());
    CHECK(r.saved[2].values["messages"].size() == 2);
    CHECK(r.saved[2].parent_checkpoint_id == r.saved[1].checkpoint_id);
    CHECK(r.saved[1].checkpoint_id < r.saved[2].checkpoint_id);  // time-ordered ids
    // The update event and the stored state show the same message id.
    const auto& update = std::find_if(r.events.begin(), r.events.end(), [](auto& e) { return e.first == "updates"; })->second;
    CHECK(update["call_model"]["messages"][0]["id"] == r.saved[2].values["messages"][1]["id"]);

    run_graph(ctx, r.latest(), {{"messages", "again"}});
    CHECK(r.saved.size() == 6);
    CHECK(r.saved[3].metadata["step"] == 2);
    CHECK(r.saved.back().values["messages"].size() == 4);
  }

  TEST_CASE("interrupt() pauses the run; a resume command re-runs the node with the value") {
    auto graph = load_graph(FIXTURE_DIR, "graph_interrupt");
    Recorder r;
    auto ctx = r.context(*graph);
    auto first = run_graph(ctx, std::nullopt, json::object());
    CHECK(first.interrupted);
    REQUIRE(first.interrupts.size() == 1);
    const json entry = first.interrupts.begin().value()[0];
    CHECK(entry["value"] == json{{"question", "proceed?"}});
    CHECK(r.latest()->next == std::vector<std::string>{"ask"});
    CHECK(r.latest()->tasks[0]["interrupts"][0]["value"] == json{{"question", "proceed?"}});
    CHECK(first.values["log"] == json::array({"announced"}));
    const auto names = r.names();
    CHECK(std::find(names.begin(), names.end(), "custom") != names.end());

    auto resumed = run_graph(ctx, r.latest(), nullptr, {{"resume", "yes"}});
    CHECK_FALSE(resumed.interrupted);
    CHECK(resumed.values["answer"] == "yes");
    CHECK(resumed.values["log"] == json::array({"announced", "asked"}));
  }

  TEST_CASE("interrupt_before pauses before the node; continuing runs it") {
    auto counter = load_graph(FIXTURE_DIR, "graph_counter");
    Recorder r;
    auto ctx = r.context(*counter, {{"target", 2}});
    ctx.interrupt_before = {"increment"};
    auto paused = run_graph(ctx, std::nullopt, json::object());
    CHECK(paused.interrupted);
    CHECK(paused.steps == 0);
    CHECK(r.latest()->next == std::vector<std::string>{"increment"});
    auto done = run_graph(ctx, r.latest(), nullptr);
    CHECK(done.values["count"] == 1);  // paused again before the second increment
    CHECK(done.interrupted);
  }

  TEST_CASE("update_state writes as a node and points at the node's successors") {
    auto counter = load_graph(FIXTURE_DIR, "graph_counter");
    Recorder r;
    auto ctx = r.context(*counter, {{"target", 1}});
    run_graph(ctx, std::nullopt, json::object());
    Checkpoint c = update_state(*counter, r.latest(), {{"count", 0}}, "increment", "thread-1", ctx.config);
    CHECK(c.metadata["source"] == "update");
    CHECK(c.values["count"] == 0);
    CHECK(c.next == std::vector<std::string>{"increment"});  // the router sees count 0 < target 1
    CHECK(c.parent_checkpoint_id == r.latest()->checkpoint_id);
    CHECK_THROWS_AS(update_state(*counter, r.latest(), {{"nope", 1}}, "increment", "t", ctx.config), GraphError);
  }

  TEST_CASE("a cancelled run stops between steps") {
    auto counter = load_graph(FIXTURE_DIR, "graph_counter");
    Recorder r;
    r.cancel = true;
    auto ctx = r.context(*counter, {{"target", 3}});
    CHECK_THROWS_AS(run_graph(ctx, std::nullopt, json::object()), RunCancelled);
  }
}

#include "storage/memory_storage.hpp"

TEST_SUITE("runtime.store") {
  TEST_CASE("nodes read and write the server's store") {
    auto graph = load_graph(FIXTURE_DIR, "graph_memory");
    MemoryStorage storage;
    RunContext ctx{*graph, {{"configurable", {{"user", "ann"}}}}, "t", "r", {}, {}, {}, {}, {},
                   [&](std::string_view op, std::string_view request) {
                     // the same handler the run manager installs, reached through the storage API
                     const json q = json::parse(request);
                     if (op == "get") {
                       auto item = storage.get_item(q["namespace"].get<std::vector<std::string>>(), q["key"]);
                       return item ? item->to_json().dump() : std::string("null");
                     }
                     Item item;
                     item.namespace_path = q["namespace"].get<std::vector<std::string>>();
                     item.key = q["key"];
                     item.value = q["value"];
                     storage.put_item(item);
                     return std::string("null");
                   }};
    CHECK(run_graph(ctx, std::nullopt, json::object()).values["visits"] == 1);
    CHECK(run_graph(ctx, std::nullopt, json::object()).values["visits"] == 2);
    CHECK(storage.get_item({"visits", "ann"}, "count")->value == json{{"n", 2}});
  }

  TEST_CASE("outside a run the store is not available to a node") {
    auto graph = load_graph(FIXTURE_DIR, "graph_memory");
    CHECK_THROWS_AS(run_graph(*graph, nullptr, json::object(), {{"configurable", json::object()}}), GraphError);
  }
}
