#include <doctest/doctest.h>

#include <cstdlib>

#include "config/config.hpp"
#include "config/options.hpp"
#include "config/startup_error.hpp"
#include "temp_dir.hpp"

using namespace lgs;

TEST_SUITE("config") {
  TEST_CASE("a plugin reference splits on the last colon and resolves against the config folder") {
    auto ref = parse_plugin_ref("auth.path", "./build/plugins/auth.so:auth", "/srv/app");
    CHECK(ref.library == "/srv/app/build/plugins/auth.so");
    CHECK(ref.symbol == "auth");
    auto absolute = parse_plugin_ref("graphs.x", "/opt/x:y/lib.so:make", "/srv/app");
    CHECK(absolute.library == "/opt/x:y/lib.so");
    CHECK(absolute.symbol == "make");
    CHECK_THROWS_AS(parse_plugin_ref("auth.path", "./auth.so", "/srv"), StartupError);
    CHECK_THROWS_AS(parse_plugin_ref("auth.path", "./auth.so:", "/srv"), StartupError);
  }

  TEST_CASE("graphs, auth, plugin configuration and cors are read") {
    TempDir dir;
    auto file = dir.write("langgraph.json", R"({
      "graphs": {"agent": "./plugins/agent.so:graph", "b": "/abs/b.so:g"},
      "auth": {"path": "./auth.so:auth", "disable_studio_auth": true, "issuer": "https://idp", "cache": {"cache_keys": ["Authorization"], "ttl_seconds": 5}},
      "http": {"cors": {"allow_origins": ["https://app.example"], "allow_credentials": true}}
    })");
    Config c = load_config(file);
    REQUIRE(c.graphs.size() == 2);
    CHECK(c.graphs[0].first == "agent");
    CHECK(c.graphs[0].second.library == dir.path / "plugins/agent.so");
    REQUIRE(c.auth);
    CHECK(c.auth->disable_studio_auth);
    CHECK(c.auth->plugin.library == dir.path / "auth.so");
    CHECK(c.auth->plugin_config == json{{"issuer", "https://idp"}});
    REQUIRE(c.auth->cache_settings);
    CHECK(c.auth->cache_settings->cache_keys == std::vector<std::string>{"authorization"});
    CHECK(c.auth->cache_settings->ttl_seconds == 5);
    CHECK(c.auth->cache_settings->max_size == 1000);
    CHECK(c.cors.allow_origins == std::vector<std::string>{"https://app.example"});
    CHECK(c.cors.allow_credentials);
    CHECK(c.warnings.empty());
  }

  TEST_CASE("unknown and unused top-level keys are warnings, not errors") {
    TempDir dir;
    Config c = load_config(dir.write("langgraph.json", R"({"graphs": {}, "dependencies": ["."], "surprise": 1})"));
    REQUIRE(c.warnings.size() == 2);
    CHECK(c.warnings[0].find("dependencies") != std::string::npos);
    CHECK(c.warnings[1].find("surprise") != std::string::npos);
  }

  TEST_CASE("every mistake names the file and the cause") {
    TempDir dir;
    auto expect_error = [&](const std::string& content, const std::string& cause) {
      auto file = dir.write("langgraph.json", content);
      try {
        load_config(file);
        FAIL("no error for: " << content);
      } catch (const StartupError& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find(file.string()) != std::string::npos, what);
        CHECK_MESSAGE(what.find(cause) != std::string::npos, what);
      }
    };
    expect_error("{\"graphs\": {", "invalid JSON");
    expect_error("[]", "JSON object");
    expect_error(R"({"graphs": []})", "\"graphs\"");
    expect_error(R"({"graphs": {"a": 1}})", "graphs.a");
    expect_error(R"({"graphs": {"a": "noseparator.so"}})", "graphs.a");
    expect_error(R"({"auth": {"disable_studio_auth": true}})", "auth.path");
    expect_error(R"({"auth": {"path": "./a.so:auth", "disable_studio_auth": "true"}})", "disable_studio_auth");
    expect_error(R"({"env": 5})", "\"env\"");
    expect_error(R"({"env": "missing.env"})", "missing.env");
    expect_error(R"({"http": {"cors": {"allow_origins": "*"}}})", "http.cors.allow_origins");
    CHECK_THROWS_WITH_AS(load_config(dir.path / "absent.json"), doctest::Contains("not found"), StartupError);
  }

  TEST_CASE("env comes from a .env file or an object, and the process environment wins") {
    TempDir dir;
    dir.write(".env", "# comment\nexport LGS_TEST_A=from-file\nLGS_TEST_B=\"quoted value\"\nLGS_TEST_C=x # trailing\n\n");
    Config c = load_config(dir.write("langgraph.json", R"({"env": ".env"})"));
    REQUIRE(c.env.size() == 3);
    CHECK(c.env[0] == std::pair<std::string, std::string>{"LGS_TEST_A", "from-file"});
    CHECK(c.env[1].second == "quoted value");
    CHECK(c.env[2].second == "x");

    setenv("LGS_TEST_A", "from-process", 1);
    unsetenv("LGS_TEST_B");
    apply_env(c.env);
    CHECK(std::string(getenv("LGS_TEST_A")) == "from-process");
    CHECK(std::string(getenv("LGS_TEST_B")) == "quoted value");

    Config o = load_config(dir.write("langgraph.json", R"({"env": {"K": "v", "N": 3}})"));
    CHECK(o.env == std::vector<std::pair<std::string, std::string>>{{"K", "v"}, {"N", "3"}});
  }

  TEST_CASE("flags override environment variables, which override defaults") {
    unsetenv("LANGGRAPH_PORT");
    CHECK(parse_options({}).port == 2024);
    setenv("LANGGRAPH_PORT", "3000", 1);
    CHECK(parse_options({}).port == 3000);
    CHECK(parse_options({"--port", "4000"}).port == 4000);
    CHECK(parse_options({"--port=4001", "--host", "0.0.0.0"}).host == "0.0.0.0");
    unsetenv("LANGGRAPH_PORT");
    CHECK_THROWS_AS(parse_options({"--port", "http"}), StartupError);
    CHECK_THROWS_AS(parse_options({"--bogus", "1"}), StartupError);
    CHECK_THROWS_AS(parse_options({"--config"}), StartupError);
    CHECK(parse_options({"--help"}).help);
    CHECK(usage().find("--workers") != std::string::npos);
  }
}
