#include <doctest/doctest.h>

#include "http/responses.hpp"
#include "http/router.hpp"
#include "util/text.hpp"

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

  TEST_CASE("a request body's NUL character is refused, an escaped backslash before u0000 is not") {
    const auto refused = [](std::string_view text) {
      try {
        parse_request_json(text);
        return false;
      } catch (const ApiError& e) {
        return e.status == 422 && e.detail.find("NUL") != std::string::npos;
      }
    };
    CHECK(refused(R"({"a":"x\u0000y"})"));
    CHECK(refused(R"({"a\u0000":1})"));
    CHECK(refused(R"({"a":"\\\u0000"})"));  // an escaped backslash, then the escape
    CHECK_FALSE(refused(R"({"a":"\\u0000"})"));  // a backslash, then the text u0000
    CHECK(parse_request_json(R"({"a":"\\u0000"})")["a"] == "\\u0000");
    CHECK(parse_request_json(R"({"a":"\u0001"})")["a"] == "\x01");
  }

  TEST_CASE("bytes that are not UTF-8 become U+FFFD; UTF-8 stays as it is") {
    CHECK(utf8_or_replaced("caf\xc3\xa9") == "caf\xc3\xa9");
    CHECK(utf8_or_replaced("a\xff" "b") == "a\xef\xbf\xbd" "b");
    CHECK(utf8_or_replaced("\xc3") == "\xef\xbf\xbd");  // a sequence cut short
  }

  TEST_CASE("storable text: NUL characters and bytes that are not UTF-8 become U+FFFD") {
    CHECK(storable_text("plain") == "plain");
    CHECK(storable_text(std::string("a\0b\0", 4)) == "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    CHECK(storable_text(std::string("\xff\0", 2)) == "\xef\xbf\xbd\xef\xbf\xbd");
    CHECK_FALSE(holds_nul(std::string_view(storable_text(std::string("\0", 1)))));
  }
}

