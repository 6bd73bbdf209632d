#include <doctest/doctest.h>

#include "authz/filter.hpp"

using namespace lgs;

TEST_SUITE("authz.filter") {
  const json doc = {{"owner", "alice"}, {"tags", {"a", "b"}}, {"level", 3}, {"empty", ""}};

  TEST_CASE("plain values and $eq are equality; a missing field never matches") {
    CHECK(filter_matches({{"owner", "alice"}}, doc));
    CHECK_FALSE(filter_matches({{"owner", "bob"}}, doc));
    CHECK(filter_matches({{"owner", {{"$eq", "alice"}}}}, doc));
    CHECK_FALSE(filter_matches({{"team", "x"}}, doc));
    CHECK(filter_matches({{"level", 3}}, doc));
    CHECK(filter_matches(json::object(), doc));
  }

  TEST_CASE("an empty-string $eq matches only the empty string") {
    CHECK(filter_matches({{"empty", {{"$eq", ""}}}}, doc));
    CHECK_FALSE(filter_matches({{"owner", {{"$eq", ""}}}}, doc));
    CHECK_FALSE(filter_matches({{"missing", {{"$eq", ""}}}}, doc));
  }

  TEST_CASE("$contains: a list holds the value, or every listed value") {
    CHECK(filter_matches({{"tags", {{"$contains", "a"}}}}, doc));
    CHECK(filter_matches({{"tags", {{"$contains", {"a", "b"}}}}}, doc));
    CHECK_FALSE(filter_matches({{"tags", {{"$contains", {"a", "c"}}}}}, doc));
    CHECK_FALSE(filter_matches({{"owner", {{"$contains", "a"}}}}, doc));  // not a list
  }

  TEST_CASE("$ne, $in") {
    CHECK(filter_matches({{"owner", {{"$ne", "bob"}}}}, doc));
    CHECK_FALSE(filter_matches({{"owner", {{"$ne", "alice"}}}}, doc));
    CHECK(filter_matches({{"team", {{"$ne", "x"}}}}, doc));  // absent is not equal
    CHECK(filter_matches({{"owner", {{"$in", {"bob", "alice"}}}}}, doc));
    CHECK_FALSE(filter_matches({{"owner", {{"$in", {"bob"}}}}}, doc));
    CHECK_FALSE(filter_matches({{"team", {{"$in", {"x"}}}}}, doc));
  }

  TEST_CASE("$or and $and combine filters; top-level keys are ANDed") {
    CHECK(filter_matches({{"$or", {{{"owner", "bob"}}, {{"level", 3}}}}}, doc));
    CHECK_FALSE(filter_matches({{"$or", {{{"owner", "bob"}}, {{"level", 4}}}}}, doc));
    CHECK(filter_matches({{"$and", {{{"owner", "alice"}}, {{"level", 3}}}}}, doc));
    CHECK_FALSE(filter_matches({{"owner", "alice"}, {"level", 4}}, doc));
    CHECK(filter_matches(combine_filters({{"owner", "alice"}}, {{"level", 3}}), doc));
    CHECK_FALSE(filter_matches(combine_filters({{"owner", "alice"}}, {{"level", 4}}), doc));
  }

  TEST_CASE("unknown operators and malformed filters are rejected, never matched") {
    CHECK_THROWS_AS(validate_filter({{"owner", {{"$regex", "a.*"}}}}), InvalidFilter);
    CHECK_THROWS_AS(validate_filter({{"$nor", json::array({{{"a", 1}}})}}), InvalidFilter);
    CHECK_THROWS_AS(validate_filter({{"$or", "x"}}), InvalidFilter);
    CHECK_THROWS_AS(validate_filter({{"$or", json::array()}}), InvalidFilter);
    CHECK_THROWS_AS(validate_filter({{"owner", {{"$in", "alice"}}}}), InvalidFilter);
    CHECK_THROWS_AS(validate_filter({{"owner", {{"$eq", "a"}, {"plain", 1}}}}), InvalidFilter);
    CHECK_THROWS_AS(validate_filter(json::array()), InvalidFilter);
    CHECK_NOTHROW(validate_filter({{"owner", "a"}, {"$or", {{{"x", {{"$ne", 1}}}}}}}));
    CHECK_NOTHROW(validate_filter({{"meta", {{"nested", 1}}}}));  // an object value is equality
  }
}
