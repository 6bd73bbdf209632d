// Authorization through a real plugin: the SDK's handler resolution, the host's value
// round-trip, and the tutorial's owner plugin.
#include <doctest/doctest.h>

#include <langgraph/auth.hpp>

#include "authz/authorizer.hpp"
#include "http/responses.hpp"
#include "plugin/auth_plugin.hpp"

using namespace lgs;
namespace sdk = langgraph::auth;

namespace {
std::string which(const sdk::Auth& auth, const std::string& resource, const std::string& action) {
  const sdk::AuthorizeHandler* handler = auth.handler_for(resource, action);
  if (!handler) return "none";
  sdk::AuthContext ctx;
  sdk::Value value = sdk::Value::object();
  (*handler)(ctx, value);
  return value["by"];
}
sdk::AuthorizeHandler tag(std::string name) {
  return [name](const sdk::AuthContext&, sdk::Value& value) -> sdk::Result {
    value["by"] = name;
    return sdk::allow();
  };
}

std::shared_ptr<const AuthPlugin> owner_plugin() {
  AuthConfig c;
  c.plugin = parse_plugin_ref("auth.path", std::string(PLUGIN_DIR) + "/auth_owner.so:auth", "/");
  return AuthPlugin::load(c);
}
User user(const std::string& identity) {
  std::string why;
  return *normalize_user(identity, why);
}
}  // namespace

TEST_SUITE("authz.handlers") {
  TEST_CASE("exactly one handler runs: resource:action, then resource, then *:action, then global") {
    sdk::Auth auth;
    CHECK(which(auth, "threads", "read") == "none");
    auth.on(tag("global"));
    CHECK(which(auth, "threads", "read") == "global");
    auth.on("*:read", tag("any-read"));
    CHECK(which(auth, "threads", "read") == "any-read");
    CHECK(which(auth, "threads", "create") == "global");
    auth.on("threads", tag("threads"));
    CHECK(which(auth, "threads", "read") == "threads");
    CHECK(which(auth, "assistants", "read") == "any-read");
    auth.on(std::vector<std::string>{"threads:read", "store:put"}, tag("specific"));
    CHECK(which(auth, "threads", "read") == "specific");
    CHECK(which(auth, "store", "put") == "specific");
    CHECK(which(auth, "threads", "delete") == "threads");
  }

  TEST_CASE("registration rejects unknown events and duplicates") {
    sdk::Auth auth;
    CHECK_THROWS_AS(auth.on("thread", tag("x")), std::invalid_argument);
    CHECK_THROWS_AS(auth.on("threads:put", tag("x")), std::invalid_argument);
    CHECK_THROWS_AS(auth.on("*:explode", tag("x")), std::invalid_argument);
    auth.on("threads:create", tag("x"));
    CHECK_THROWS_AS(auth.on("threads:create", tag("y")), std::invalid_argument);
    auth.on(tag("global"));
    CHECK_THROWS_AS(auth.on("*", tag("again")), std::invalid_argument);
  }

  TEST_CASE("the owner plugin stamps metadata and returns the owner filter") {
    Authorizer authz(owner_plugin());
    const User alice = user("alice");
    json value = {{"thread_id", "t"}, {"metadata", {{"owner", "mallory"}, {"topic", "x"}}}};
    const json filter = authz.authorize(&alice, "threads", "create", value);
    CHECK(filter == json{{"owner", "alice"}});
    CHECK(value["metadata"] == json{{"owner", "alice"}, {"topic", "x"}});
  }

  TEST_CASE("the owner plugin denies assistants with its own status and detail") {
    Authorizer authz(owner_plugin());
    const User alice = user("alice");
    json value = {{"assistant_id", "a"}};
    try {
      authz.authorize(&alice, "assistants", "read", value);
      FAIL("allowed");
    } catch (const ApiError& e) {
      CHECK(e.status == 403);
      CHECK(e.detail == "User lacks the required permissions.");
    }
  }

  TEST_CASE("store: a foreign namespace is refused, an empty one is rewritten to the user's") {
    Authorizer authz(owner_plugin());
    const User alice = user("alice");
    json own = {{"namespace", {"alice", "notes"}}, {"key", "k"}, {"value", json::object()}};
    CHECK_NOTHROW(authz.authorize(&alice, "store", "put", own));
    json foreign = {{"namespace", {"bob", "notes"}}, {"key", "k"}};
    CHECK_THROWS_AS(authz.authorize(&alice, "store", "get", foreign), ApiError);
    json search = {{"namespace", json::array()}, {"limit", 10}};
    authz.authorize(&alice, "store", "search", search);
    CHECK(search["namespace"] == json::array({"alice"}));
  }

  TEST_CASE("the Studio user passes the owner plugin's handlers without a filter") {
    Authorizer authz(owner_plugin());
    User studio;
    studio.identity = "langgraph-studio-user";
    studio.object = {{"identity", studio.identity}, {"kind", "StudioUser"}, {"permissions", json::array()}};
    json value = {{"metadata", json::object()}};
    CHECK(authz.authorize(&studio, "threads", "search", value) == json::object());
    json assistant = {{"assistant_id", "a"}};
    CHECK_NOTHROW(authz.authorize(&studio, "assistants", "read", assistant));
  }

  TEST_CASE("without an auth plugin nothing is asked and nothing filtered") {
    Authorizer authz(nullptr);
    json value = {{"thread_id", "t"}};
    CHECK(authz.authorize(nullptr, "threads", "read", value) == json::object());
  }
}

TEST_SUITE("authz.failures") {
  TEST_CASE("a filter with an unknown operator is a 500, never a match") {
    AuthConfig c;
    c.plugin = parse_plugin_ref("auth.path", std::string(FIXTURE_DIR) + "/auth_bad_filter.so:auth", "/");
    Authorizer authz(AuthPlugin::load(c));
    const User anyone = user("anyone");
    json value = {{"thread_id", "t"}};
    try {
      authz.authorize(&anyone, "threads", "read", value);
      FAIL("allowed");
    } catch (const ApiError& e) {
      CHECK(e.status == 500);
      CHECK(e.detail.find("$regex") == std::string::npos);
    }
  }
}
