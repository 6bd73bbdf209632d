#include <doctest/doctest.h>

#include "auth/authenticator.hpp"
#include "config/startup_error.hpp"
#include "plugin/auth_plugin.hpp"

using namespace lgs;

namespace {

AuthConfig auth_config(const std::string& library, const std::string& symbol = "auth", json plugin_config = json::object()) {
  AuthConfig c;
  c.plugin = parse_plugin_ref("auth.path", library + ":" + symbol, "/");
  c.plugin_config = std::move(plugin_config);
  return c;
}

std::string fixture(const std::string& name) { return std::string(FIXTURE_DIR) + "/" + name + ".so"; }
std::string shipped(const std::string& name) { return std::string(PLUGIN_DIR) + "/" + name + ".so"; }

AuthDecision call(const AuthPlugin& plugin, const Pairs& headers, const Pairs& params = {}) {
  static const Pairs none;
  return plugin.authenticate(AuthRequest{"POST", "/threads", "127.0.0.1", headers, none, params});
}

}  // namespace

TEST_SUITE("plugin.auth") {
  TEST_CASE("loading failures name the library, the symbol and the cause") {
    auto expect = [](const AuthConfig& c, const std::string& cause) {
      try {
        AuthPlugin::load(c);
        FAIL("loaded " << c.plugin.describe());
      } catch (const StartupError& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find(c.plugin.describe()) != std::string::npos, what);
        CHECK_MESSAGE(what.find(cause) != std::string::npos, what);
      }
    };
    expect(auth_config("/nonexistent/auth.so"), "no such file");
    expect(auth_config(shipped("auth_tokens"), "nope"), "symbol \"nope\" not found");
    expect(auth_config(fixture("auth_abi_mismatch")), "ABI version 999");
    expect(auth_config(fixture("auth_no_authenticate")), "no authenticate handler");
    expect(auth_config("/etc/hostname"), "cannot load library");
  }

  TEST_CASE("the tutorial's tokens: valid tokens pass, anything else is a 401 with WWW-Authenticate") {
    auto plugin = AuthPlugin::load(auth_config(shipped("auth_tokens")));
    auto alice = call(*plugin, {{"authorization", "Bearer user1-token"}});
    REQUIRE(alice.kind == AuthDecision::Kind::allowed);
    CHECK(alice.user.identity == "user1");
    CHECK(alice.user.object["display_name"] == "Alice");
    CHECK(alice.user.object["is_authenticated"] == true);
    CHECK(alice.user.object["permissions"] == json::array());
    CHECK(call(*plugin, {{"authorization", "bearer user2-token"}}).user.identity == "user2");

    for (const Pairs& headers : std::vector<Pairs>{{}, {{"authorization", "Bearer wrong"}},
                                                   {{"authorization", "Basic user1-token"}},
                                                   {{"authorization", "Bearer user1-token extra"}},
                                                   {{"authorization", "Bearer user1-toke"}}}) {
      auto d = call(*plugin, headers);
      CHECK(d.kind == AuthDecision::Kind::rejected);
      CHECK(d.status == 401);
      CHECK(d.detail == "Invalid token");
      CHECK(d.headers == Pairs{{"WWW-Authenticate", "Bearer"}});
    }
  }

  TEST_CASE("a throwing handler or a malformed user fails closed with a generic 500") {
    auto throws = AuthPlugin::load(auth_config(fixture("auth_throws")));
    auto d = call(*throws, {});
    CHECK(d.kind == AuthDecision::Kind::failed);
    CHECK(d.status == 500);
    CHECK(d.detail.find("secret") == std::string::npos);
    CHECK(d.reason.find("secret internal detail") != std::string::npos);

    auto bad = AuthPlugin::load(auth_config(fixture("auth_bad_user")));
    auto b = call(*bad, {});
    CHECK(b.kind == AuthDecision::Kind::failed);
    CHECK(b.status == 500);
    CHECK(b.reason.find("identity") != std::string::npos);
  }

  TEST_CASE("the handler reads headers case-insensitively, path params, and its configuration") {
    auto plugin = AuthPlugin::load(auth_config(fixture("auth_inspect"), "auth", {{"issuer", "me"}}));
    auto d = call(*plugin, {{"x-trace-id", "t-1"}}, {{"thread_id", "abc"}});
    REQUIRE(d.kind == AuthDecision::Kind::allowed);
    CHECK(d.user.object["x_trace_header"] == "t-1");
    CHECK(d.user.object["path_params"] == json{{"thread_id", "abc"}});
    CHECK(d.user.object["plugin_config"] == json{{"issuer", "me"}});
    CHECK(d.user.object["client_address"] == "127.0.0.1");
  }

  TEST_CASE("the gate hands the plugin the socket's address, whatever headers the client sends") {
    Authenticator gate(AuthPlugin::load(auth_config(fixture("auth_inspect"))));
    HttpRequest req;
    req.method = "GET";
    req.path = "/threads";
    req.remote_addr = "127.0.0.1";
    req.headers.emplace("REMOTE_ADDR", "6.6.6.6");
    req.headers.emplace("X-Custom", "Value");
    req.params.emplace("limit", "5");
    auto d = gate.authenticate(req, {});
    REQUIRE(d.kind == AuthDecision::Kind::allowed);
    REQUIRE(d.user);
    CHECK(d.user->object.at("client_address") == "127.0.0.1");
    CHECK(d.user->object.at("headers").at("remote_addr") == "6.6.6.6");  // just a header
    CHECK(d.user->object.at("headers").at("x-custom") == "Value");
    CHECK(d.user->object.at("query_params").at("limit") == "5");
  }

  TEST_CASE("the request as the plugin receives it: lower-case names, repeated headers, parameters") {
    HttpRequest req;
    req.method = "POST";
    req.path = "/threads/abc/runs";
    req.remote_addr = "10.0.0.7";
    req.headers.emplace("X-Tenant", "One");
    req.headers.emplace("x-tenant", "Two");
    req.headers.emplace("AUTHORIZATION", "Bearer T");
    req.params.emplace("limit", "5");
    const Pairs path_params{{"thread_id", "abc"}};
    const lg_auth_request& raw = abi_request(req, path_params);
    auto view = [](lg_str s) { return std::string(s.ptr, s.len); };
    Pairs headers, query, params;
    for (size_t i = 0; i < raw.header_count; ++i) headers.emplace_back(view(raw.headers[i].name), view(raw.headers[i].value));
    for (size_t i = 0; i < raw.query_param_count; ++i) query.emplace_back(view(raw.query_params[i].name), view(raw.query_params[i].value));
    for (size_t i = 0; i < raw.path_param_count; ++i) params.emplace_back(view(raw.path_params[i].name), view(raw.path_params[i].value));
    // Headers are ordered by case-insensitive name, repeated ones in arrival order.
    CHECK(headers == Pairs{{"authorization", "Bearer T"}, {"x-tenant", "One"}, {"x-tenant", "Two"}});
    CHECK(query == Pairs{{"limit", "5"}});
    CHECK(params == path_params);
    CHECK(view(raw.method) == "POST");
    CHECK(view(raw.path) == "/threads/abc/runs");
    CHECK(view(raw.client_address) == "10.0.0.7");
    CHECK(raw.struct_size == sizeof(lg_auth_request));
  }

  TEST_CASE("the same user text is one shared user; another text is parsed again") {
    auto plugin = AuthPlugin::load(auth_config(shipped("auth_tokens")));
    auto as = [&](const std::string& token) {
      HttpRequest req;
      req.method = "GET";
      req.path = "/threads";
      req.headers.emplace("Authorization", "Bearer " + token);
      std::shared_ptr<const User> user;
      const AuthDecision d = plugin->authenticate(abi_request(req, {}), user);
      CHECK(d.kind == AuthDecision::Kind::allowed);
      REQUIRE(user);
      return user;
    };
    const auto first = as("user1-token");
    CHECK(as("user1-token") == first);
    const auto bob = as("user2-token");
    CHECK(bob->identity == "user2");
    CHECK(bob->object.at("display_name") == "Bob");
    const auto again = as("user1-token");
    CHECK(again->identity == "user1");
    CHECK(again->serialized == again->object.dump());
    CHECK(json::parse(again->serialized) ==
          json{{"identity", "user1"}, {"display_name", "Alice"}, {"is_authenticated", true}, {"permissions", json::array()}});
  }

  TEST_CASE("without an auth plugin every request is allowed, with no user") {
    Authenticator gate(nullptr);
    HttpRequest req;
    auto d = gate.authenticate(req, {});
    CHECK(d.kind == AuthDecision::Kind::allowed);
    CHECK_FALSE(d.user);
    CHECK_FALSE(gate.enabled());
  }

  TEST_CASE("users are normalised as LangGraph does") {
    std::string why;
    auto s = normalize_user("alice", why);
    REQUIRE(s);
    CHECK(s->object == json{{"identity", "alice"}, {"display_name", "alice"}, {"is_authenticated", true}, {"permissions", json::array()}});
    auto o = normalize_user(json{{"identity", "bob"}, {"permissions", {"read"}}, {"org", "acme"}}, why);
    REQUIRE(o);
    CHECK(o->permissions == std::vector<std::string>{"read"});
    CHECK(o->object["org"] == "acme");
    CHECK_FALSE(normalize_user(json{{"identity", ""}}, why));
    CHECK_FALSE(normalize_user(json{{"identity", 7}}, why));
    CHECK_FALSE(normalize_user(json{{"identity", "x"}, {"permissions", "read"}}, why));
    CHECK_FALSE(normalize_user(json::array(), why));
  }

  TEST_CASE("a user, value or filter holding a NUL character fails closed: no database stores one") {
    // auth_header_filter: the user of any token; the x-filter header's JSON becomes the user's
    // "filter" field, which every authorization then returns.
    auto plugin = AuthPlugin::load(auth_config(fixture("auth_header_filter")));
    const AuthDecision clean = call(*plugin, {{"authorization", "Bearer t"}, {"x-filter", R"({"owner":"a"})"}});
    CHECK(clean.kind == AuthDecision::Kind::allowed);
    const AuthDecision nul = call(*plugin, {{"authorization", "Bearer t"}, {"x-filter", R"({"owner":"a\u0000b"})"}});
    CHECK(nul.kind == AuthDecision::Kind::failed);
    CHECK(nul.status == 500);
    CHECK(nul.reason.find("NUL") != std::string::npos);

    std::string why;
    auto user = normalize_user(json{{"identity", "t"}, {"filter", {{"owner", std::string("a\0b", 3)}}}}, why);
    REQUIRE(user);
    json value = json::object();
    const AuthzDecision filtered = plugin->authorize(*user, "threads", "search", value);
    CHECK(filtered.kind == AuthzDecision::Kind::failed);
    CHECK(filtered.reason.find("NUL") != std::string::npos);
    user = normalize_user(json{{"identity", "t"}, {"filter", {{"owner", "a"}}}}, why);
    REQUIRE(user);
    CHECK(plugin->authorize(*user, "threads", "search", value).kind == AuthzDecision::Kind::allowed);
  }
}
