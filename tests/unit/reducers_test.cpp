#include <doctest/doctest.h>

#include "runtime/reducers.hpp"

using namespace lgs;

TEST_SUITE("runtime.reducers") {
  TEST_CASE("last_value keeps the newest write") {
    CHECK(apply_reducer("last_value", 1, 2) == 2);
    CHECK(apply_reducer("last_value", nullptr, "x") == "x");
  }

  TEST_CASE("append concatenates lists and appends single values") {
    CHECK(apply_reducer("append", nullptr, json::array({1, 2})) == json::array({1, 2}));
    CHECK(apply_reducer("append", json::array({1}), json::array({2, 3})) == json::array({1, 2, 3}));
    CHECK(apply_reducer("append", json::array({1}), 2) == json::array({1, 2}));
  }

  TEST_CASE("add_messages coerces roles to LangChain message types and assigns ids") {
    json merged = add_messages(nullptr, json::array({{{"role", "user"}, {"content", "hi"}},
                                                     {{"role", "assistant"}, {"content", "hello"}},
                                                     "plain text"}));
    REQUIRE(merged.size() == 3);
    CHECK(merged[0]["type"] == "human");
    CHECK_FALSE(merged[0].contains("role"));
    CHECK(merged[1]["type"] == "ai");
    CHECK(merged[1]["tool_calls"] == json::array());
    CHECK(merged[2]["type"] == "human");
    CHECK(merged[2]["content"] == "plain text");
    for (const auto& m : merged) {
      CHECK(m["id"].is_string());
      CHECK(m["id"].get<std::string>().size() == 36);
      CHECK(m["additional_kwargs"] == json::object());
    }
    CHECK(merged[0]["id"] != merged[1]["id"]);
  }

  TEST_CASE("add_messages replaces a message with the same id and appends the others") {
    json current = add_messages(nullptr, json::array({{{"type", "human"}, {"content", "a"}, {"id", "1"}},
                                                      {{"type", "ai"}, {"content", "b"}, {"id", "2"}}}));
    json merged = add_messages(current, json::array({{{"type", "ai"}, {"content", "B"}, {"id", "2"}},
                                                     {{"type", "human"}, {"content", "c"}, {"id", "3"}}}));
    REQUIRE(merged.size() == 3);
    CHECK(merged[1]["content"] == "B");
    CHECK(merged[2]["id"] == "3");
  }

  TEST_CASE("add_messages accepts a single message and removes by id") {
    json current = add_messages(nullptr, json{{"type", "human"}, {"content", "a"}, {"id", "1"}});
    CHECK(current.size() == 1);
    CHECK(add_messages(current, json{{"type", "remove"}, {"id", "1"}}).empty());
    CHECK_THROWS_AS(add_messages(current, json{{"type", "remove"}, {"id", "missing"}}), std::invalid_argument);
  }

  TEST_CASE("add_messages rejects what is not a message") {
    CHECK_THROWS_AS(add_messages(nullptr, json::array({42})), std::invalid_argument);
    CHECK_THROWS_AS(add_messages(nullptr, json::array({{{"role", "wizard"}, {"content", "x"}}})), std::invalid_argument);
    CHECK_THROWS_AS(add_messages(nullptr, json::array({{{"content", "no type"}}})), std::invalid_argument);
  }
}
