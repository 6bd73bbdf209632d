// auth.cache: the LRU/TTL map itself with a clock the test moves, the authenticate gate with the
// counting fixture plugin, and the validation of auth.cache / auth.openapi in langgraph.json.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "auth/auth_cache.hpp"
#include "auth/authenticator.hpp"
#include "config/startup_error.hpp"
#include "plugin/auth_plugin.hpp"
#include "temp_dir.hpp"

using namespace lgs;
using namespace std::chrono_literals;

namespace {

// A clock that only moves when the test says so.
struct FakeClock {
  AuthCache::Clock::time_point now = AuthCache::Clock::time_point{} + 1h;
  AuthCache::Now fn() {
    return [this] { return now; };
  }
};

AuthCacheSettings settings(std::vector<std::string> keys, double ttl = 60, size_t max_size = 1000) {
  AuthCacheSettings s;
  s.cache_keys = std::move(keys);
  s.ttl_seconds = ttl;
  s.max_size = max_size;
  return s;
}

std::shared_ptr<const User> user(const std::string& identity) {
  User u;
  u.identity = identity;
  u.object = {{"identity", identity}};
  return std::make_shared<const User>(std::move(u));
}

HttpRequest http_request(const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpRequest req;
  req.method = "POST";
  req.path = "/threads";
  req.remote_addr = "127.0.0.1";
  for (const auto& [name, value] : headers) req.headers.emplace(name, value);
  return req;
}

std::shared_ptr<const AuthPlugin> counting_plugin() {
  AuthConfig c;
  c.plugin = parse_plugin_ref("auth.path", std::string(FIXTURE_DIR) + "/auth_counting.so:auth", "/");
  return AuthPlugin::load(c);
}

// The fixture's call count when it authenticated the user the gate answered with.
int calls_of(const GateDecision& d) {
  REQUIRE(d.kind == AuthDecision::Kind::allowed);
  REQUIRE(d.user);
  return d.user->object.at("auth_calls").get<int>();
}

}  // namespace

TEST_SUITE("auth.cache") {
  TEST_CASE("the key holds the listed headers present, in order; none present means no caching") {
    AuthCache cache(settings({"authorization", "x-tenant"}));
    CHECK_FALSE(cache.key_for({}));
    CHECK_FALSE(cache.key_for({{"x-other", "1"}}));
    auto a = cache.key_for({{"authorization", "Bearer t"}});
    auto b = cache.key_for({{"authorization", "Bearer t"}, {"x-tenant", "one"}});
    auto c = cache.key_for({{"x-tenant", "one"}, {"authorization", "Bearer t"}, {"x-other", "ignored"}});
    auto d = cache.key_for({{"authorization", "Bearer t"}, {"x-tenant", "two"}});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a != *b);
    CHECK(*b == *c);  // order of the request's headers does not matter, other headers neither
    CHECK(*b != *d);
    // Values cannot be shifted between headers to forge another caller's key.
    CHECK(*cache.key_for({{"authorization", "a;"}, {"x-tenant", "b"}}) !=
          *cache.key_for({{"authorization", "a"}, {"x-tenant", ";b"}}));
    // A header sent twice contributes both values.
    CHECK(*cache.key_for({{"authorization", "x"}, {"authorization", "y"}}) != *cache.key_for({{"authorization", "x"}}));
  }

  TEST_CASE("an entry lives ttl_seconds from its insertion, reads do not extend it") {
    FakeClock clock;
    AuthCache cache(settings({"authorization"}, 2), clock.fn());
    cache.put("k", user("alice"));
    REQUIRE(cache.get("k"));
    CHECK(cache.get("k")->identity == "alice");
    clock.now += 1900ms;
    CHECK(cache.get("k"));
    clock.now += 100ms;  // exactly 2 s after insertion
    CHECK_FALSE(cache.get("k"));
    CHECK(cache.size() == 0);  // the expired entry was dropped
    cache.put("k", user("alice2"));
    clock.now += 1s;
    cache.put("k", user("alice3"));  // replacing renews the lifetime
    clock.now += 1500ms;
    REQUIRE(cache.get("k"));
    CHECK(cache.get("k")->identity == "alice3");
  }

  TEST_CASE("bounded by max_size: the least recently used entry goes first") {
    FakeClock clock;
    AuthCache cache(settings({"authorization"}, 60, 3), clock.fn());
    cache.put("a", user("a"));
    cache.put("b", user("b"));
    cache.put("c", user("c"));
    CHECK(cache.get("a"));  // a is now the most recently used; b the least
    cache.put("d", user("d"));
    CHECK(cache.size() == 3);
    CHECK_FALSE(cache.get("b"));
    CHECK(cache.get("a"));
    CHECK(cache.get("c"));
    CHECK(cache.get("d"));
    cache.put("a", user("a2"));  // replacing does not grow it
    CHECK(cache.size() == 3);
  }

  TEST_CASE("safe under concurrent use") {
    AuthCache cache(settings({"authorization"}, 60, 64));
    std::vector<std::thread> threads;
    std::atomic<int> hits{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i) {
          const std::string key = std::to_string((i * 7 + t) % 100);
          if (auto u = cache.get(key)) {
            if (u->identity == "user" + key) ++hits;
          } else {
            cache.put(key, user("user" + key));
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(cache.size() <= 64);
    CHECK(hits.load() > 0);
  }

  TEST_CASE("the gate asks the plugin once per caller within the TTL, again after it; failures are not cached") {
    FakeClock clock;
    Authenticator gate(counting_plugin(), {}, std::make_unique<AuthCache>(settings({"authorization"}, 1), clock.fn()));
    const auto alice = http_request({{"Authorization", "Bearer alice"}});
    const auto bob = http_request({{"Authorization", "Bearer bob"}});

    CHECK(calls_of(gate.authenticate(alice, {})) == 1);
    CHECK(calls_of(gate.authenticate(alice, {})) == 1);  // from the cache
    CHECK(gate.authenticate(alice, {}).user->identity == "alice");
    CHECK(calls_of(gate.authenticate(bob, {})) == 2);  // another token: the plugin
    CHECK(calls_of(gate.authenticate(bob, {})) == 2);

    // A rejection reaches the plugin every time and is never served from the cache.
    const auto bad = http_request({{"Authorization", "Bearer bad-token"}});
    for (int i = 0; i < 2; ++i) {
      auto d = gate.authenticate(bad, {});
      CHECK(d.kind == AuthDecision::Kind::rejected);
      CHECK(d.status == 401);
    }
    // Without any listed header nothing is cached: the plugin decides each time.
    CHECK(gate.authenticate(http_request({}), {}).kind == AuthDecision::Kind::rejected);

    clock.now += 999ms;
    CHECK(calls_of(gate.authenticate(alice, {})) == 1);
    clock.now += 1ms;  // the TTL is over: asked again (calls 3, 4 were bad-token, 5 the header-less one)
    CHECK(calls_of(gate.authenticate(alice, {})) == 6);
    CHECK(calls_of(gate.authenticate(alice, {})) == 6);
  }

  TEST_CASE("without a cache the plugin is asked on every request") {
    Authenticator gate(counting_plugin());
    const auto alice = http_request({{"Authorization", "Bearer alice"}});
    CHECK(calls_of(gate.authenticate(alice, {})) == 1);
    CHECK(calls_of(gate.authenticate(alice, {})) == 2);
  }

  TEST_CASE("Studio requests are decided before the cache and never fill it") {
    FakeClock clock;
    auto cache = std::make_unique<AuthCache>(settings({"authorization", "x-auth-scheme"}), clock.fn());
    AuthCache* raw = cache.get();
    StudioAccess studio;
    studio.dev = true;
    Authenticator gate(counting_plugin(), studio, std::move(cache));
    auto d = gate.authenticate(http_request({{"x-auth-scheme", "langsmith"}}), {});
    REQUIRE(d.kind == AuthDecision::Kind::allowed);
    CHECK(d.user->identity == "langgraph-studio-user");
    CHECK(raw->size() == 0);
  }
}

TEST_SUITE("config") {
  TEST_CASE("auth.cache: defaults, lower-cased keys, and one clear error per bad shape") {
    TempDir dir;
    auto load = [&](const std::string& cache) {
      return load_config(dir.write("langgraph.json", R"({"auth": {"path": "./auth.so:auth", "cache": )" + cache + "}}"));
    };
    Config c = load(R"({"cache_keys": ["Authorization", "X-Tenant", "authorization"]})");
    REQUIRE(c.auth->cache_settings);
    CHECK(c.auth->cache_settings->cache_keys == std::vector<std::string>{"authorization", "x-tenant"});
    CHECK(c.auth->cache_settings->ttl_seconds == 60);
    CHECK(c.auth->cache_settings->max_size == 1000);
    CHECK(c.auth->plugin_config == json::object());  // cache is the server's, not the plugin's
    c = load(R"({"cache_keys": ["authorization"], "ttl_seconds": 0.5, "max_size": 2})");
    CHECK(c.auth->cache_settings->ttl_seconds == 0.5);
    CHECK(c.auth->cache_settings->max_size == 2);

    auto expect = [&](const std::string& cache, const std::string& message) {
      try {
        load(cache);
        FAIL("accepted " << cache);
      } catch (const StartupError& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find(message) != std::string::npos, what);
        CHECK_MESSAGE(what.find('\n') == std::string::npos, what);
      }
    };
    expect("[]", "\"auth.cache\" must be an object");
    expect("{}", "\"auth.cache.cache_keys\" is required");
    expect(R"({"cache_keys": "authorization"})", "must be a non-empty list of header names");
    expect(R"({"cache_keys": []})", "must be a non-empty list of header names");
    expect(R"({"cache_keys": [1]})", "must be a non-empty list of header names");
    expect(R"({"cache_keys": ["a"], "ttl_seconds": 0})", "\"auth.cache.ttl_seconds\" must be a positive number");
    expect(R"({"cache_keys": ["a"], "ttl_seconds": "60"})", "\"auth.cache.ttl_seconds\" must be a positive number");
    expect(R"({"cache_keys": ["a"], "max_size": 0})", "\"auth.cache.max_size\" must be a positive integer");
    expect(R"({"cache_keys": ["a"], "max_size": 1.5})", "\"auth.cache.max_size\" must be a positive integer");
    expect(R"({"cache_keys": ["a"], "ttl": 5})", "\"auth.cache.ttl\" is not a cache setting");
  }

  TEST_CASE("auth.openapi: the shapes LangGraph defines, one clear error per bad shape") {
    TempDir dir;
    auto load = [&](const std::string& openapi) {
      return load_config(dir.write("langgraph.json", R"({"auth": {"path": "./auth.so:auth", "openapi": )" + openapi + "}}"));
    };
    Config c = load(R"({"securitySchemes": {"OAuth2": {"type": "oauth2", "flows": {}}},
                        "security": [{"OAuth2": ["read"]}],
                        "paths": {"/threads": {"POST": [{"OAuth2": ["write"]}], "get": []}}})");
    CHECK(c.auth->openapi["security"][0]["OAuth2"][0] == "read");
    CHECK_NOTHROW(load(R"({"security_schemes": {"k": {"type": "apiKey", "in": "header", "name": "x-api-key"}}})"));

    auto expect = [&](const std::string& openapi, const std::string& message) {
      try {
        load(openapi);
        FAIL("accepted " << openapi);
      } catch (const StartupError& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find(message) != std::string::npos, what);
      }
    };
    expect("true", "\"auth.openapi\" must be an object");
    expect(R"({"securitySchemes": []})", "\"auth.openapi.securitySchemes\" must be an object");
    expect(R"({"securitySchemes": {"x": {"scheme": "bearer"}}})", "\"auth.openapi.securitySchemes.x\" must be an object with a string \"type\"");
    expect(R"({"securitySchemes": {}, "security_schemes": {}})", "has both");
    expect(R"({"security": {"x": []}})", "\"auth.openapi.security\" must be a list of objects");
    expect(R"({"security": [{"x": "read"}]})", "\"auth.openapi.security\" must be a list of objects");
    expect(R"({"paths": {"/threads": []}})", "\"auth.openapi.paths./threads\" must be an object");
    expect(R"({"paths": {"/threads": {"FETCH": []}}})", "not an HTTP method");
    expect(R"({"paths": {"/threads": {"POST": {}}}})", "\"auth.openapi.paths./threads.POST\" must be a list");
    expect(R"({"servers": []})", "\"auth.openapi.servers\" is not an OpenAPI setting");
  }
}
