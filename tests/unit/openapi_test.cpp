// /openapi.json: built from the router's routes, with security from auth.openapi.
#include <doctest/doctest.h>

#include "api/openapi.hpp"
#include "http/router.hpp"

using namespace lgs;

namespace {

Router sample_router() {
  Router router;
  Handler nothing = [](const ApiRequest&, HttpResponse&) {};
  router.add("GET", "/ok", nothing, Access::open);
  router.add("POST", "/threads", nothing);
  router.add("POST", "/threads/search", nothing);
  router.add("POST", "/assistants/search", nothing);
  router.add("GET", "/threads/{thread_id}", nothing);
  router.add("POST", "/threads/{thread_id}/runs/stream", nothing);
  router.add("GET", "/custom/{thing}", nothing);  // a route the document has no description of
  return router;
}

}  // namespace

TEST_SUITE("openapi") {
  TEST_CASE("every route is an operation with tags, parameters and responses") {
    Router router = sample_router();
    add_openapi_routes(router, {"1.2.3", false, json::object()});
    const json doc = build_openapi(router, {"1.2.3", false, json::object()});
    CHECK(doc["openapi"].get<std::string>().rfind("3.1.", 0) == 0);
    CHECK(doc["info"]["version"] == "1.2.3");
    CHECK(doc["paths"].size() == 7);  // the docs routes are not documented
    CHECK_FALSE(doc["paths"].contains("/openapi.json"));
    const json& create = doc["paths"]["/threads"]["post"];
    CHECK(create["tags"] == json::array({"Threads"}));
    CHECK(create["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ThreadCreate");
    CHECK(create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Thread");
    CHECK(create["responses"]["409"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error");
    const json& get = doc["paths"]["/threads/{thread_id}"]["get"];
    CHECK(get["parameters"][0] == json{{"name", "thread_id"}, {"in", "path"}, {"required", true},
                                       {"schema", {{"type", "string"}, {"format", "uuid"}}}});
    CHECK(doc["paths"]["/threads/{thread_id}/runs/stream"]["post"]["responses"]["200"]["content"].contains("text/event-stream"));
    CHECK(doc["paths"]["/custom/{thing}"]["get"]["tags"] == json::array({"Custom"}));
    // Paging headers as each search sends them: thread searches do not count their matches.
    const json& threads = doc["paths"]["/threads/search"]["post"]["responses"]["200"]["headers"];
    CHECK(threads.contains("X-Pagination-Next"));
    CHECK(threads["X-Pagination-Total"]["description"].get<std::string>().find("not counted") != std::string::npos);
    const json& assistants = doc["paths"]["/assistants/search"]["post"]["responses"]["200"]["headers"];
    CHECK_FALSE(assistants.contains("X-Pagination-Next"));
    CHECK(assistants["X-Pagination-Total"]["description"] == "How many items match, ignoring limit and offset.");
    for (const char* schema : {"Assistant", "Thread", "Run", "ThreadState", "Item", "Error"})
      CHECK_MESSAGE(doc["components"]["schemas"].contains(schema), schema);
    // Without an auth plugin there is nothing to authenticate with.
    CHECK_FALSE(doc.contains("security"));
    CHECK_FALSE(doc["components"].contains("securitySchemes"));
    CHECK_FALSE(create["responses"].contains("401"));
  }

  TEST_CASE("with an auth plugin and no auth.openapi: a bearer scheme, open routes need nothing") {
    const json doc = build_openapi(sample_router(), {"1", true, json::object()});
    CHECK(doc["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer");
    CHECK(doc["security"] == json::array({{{"BearerAuth", json::array()}}}));
    CHECK(doc["paths"]["/ok"]["get"]["security"] == json::array());
    CHECK_FALSE(doc["paths"]["/threads"]["post"].contains("security"));
    CHECK(doc["paths"]["/threads"]["post"]["responses"].contains("401"));
  }

  TEST_CASE("auth.openapi replaces the schemes and the global requirement, and sets per-operation security") {
    const json custom = json::parse(R"({
      "securitySchemes": {"OAuth2": {"type": "oauth2", "flows": {"implicit": {"authorizationUrl": "https://idp/authorize", "scopes": {"me": "you"}}}}},
      "security": [{"OAuth2": ["me"]}],
      "paths": {"/threads": {"POST": [{"OAuth2": ["write"]}]}, "/nowhere": {"get": []}}
    })");
    std::vector<std::string> warnings;
    const json doc = build_openapi(sample_router(), {"1", true, custom}, &warnings);
    CHECK(doc["components"]["securitySchemes"] == custom["securitySchemes"]);
    CHECK(doc["security"] == custom["security"]);
    CHECK(doc["paths"]["/threads"]["post"]["security"] == json::array({{{"OAuth2", {"write"}}}}));
    CHECK_FALSE(doc["paths"]["/threads/{thread_id}"]["get"].contains("security"));
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("/nowhere") != std::string::npos);

    const json snake = build_openapi(
        sample_router(), {"1", true, json::parse(R"({"security_schemes": {"Key": {"type": "apiKey", "in": "header", "name": "x-api-key"}}})")});
    CHECK(snake["components"]["securitySchemes"]["Key"]["name"] == "x-api-key");
    CHECK_FALSE(snake.contains("security"));  // schemes given without a global requirement: none invented
  }
}
