#include <doctest/doctest.h>

#include "http/router.hpp"

using namespace lgs;

TEST_SUITE("http.router") {
  TEST_CASE("matches templates and captures path parameters") {
    Router router;
    router.add("GET", "/threads/{thread_id}/runs/{run_id}", [](const ApiRequest&, HttpResponse&) {});
    auto m = router.match("GET", "/threads/abc/runs/def");
    REQUIRE(m.route != nullptr);
    CHECK(m.params == Pairs{{"thread_id", "abc"}, {"run_id", "def"}});
    CHECK(router.match("GET", "/threads/abc/runs").route == nullptr);
    CHECK(router.match("GET", "/threads/abc/runs/def/extra").route == nullptr);
  }

  TEST_CASE("a path known for another method is reported for a 405") {
    Router router;
    router.add("GET", "/threads/{thread_id}", [](const ApiRequest&, HttpResponse&) {});
    auto m = router.match("PUT", "/threads/abc");
    CHECK(m.route == nullptr);
    CHECK(m.other_method);
    CHECK_FALSE(router.match("PUT", "/nowhere").other_method);
  }

  TEST_CASE("literal routes registered first win over templates") {
    Router router;
    int hit = 0;
    router.add("POST", "/threads/search", [&](const ApiRequest&, HttpResponse&) { hit = 1; });
    router.add("POST", "/threads/{thread_id}", [&](const ApiRequest&, HttpResponse&) { hit = 2; });
    auto m = router.match("POST", "/threads/search");
    REQUIRE(m.route != nullptr);
    CHECK(m.route->pattern == "/threads/search");
    CHECK(m.params.empty());
  }

  TEST_CASE("trailing and doubled slashes do not change the match") {
    Router router;
    router.add("GET", "/ok", [](const ApiRequest&, HttpResponse&) {}, Access::open);
    CHECK(router.match("GET", "/ok/").route != nullptr);
    CHECK(router.match("GET", "//ok").route != nullptr);
    CHECK(router.match("GET", "/ok").route->access == Access::open);
  }
}
