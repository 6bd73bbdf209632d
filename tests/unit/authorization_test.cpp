// Authorization through a real plugin: the SDK's handler resolution, the host's value
// round-trip, and the tutorial's owner plugin.
#include <doctest/doctest.h>

#include <langgraph/auth.hpp>

#include <algorithm>
#include <optional>
#include <thread>

#include "authz/authorizer.hpp"
#include "http/responses.hpp"
#include "plugin/auth_plugin.hpp"
#include "plugin/host_sink.hpp"

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

// One call of the SDK's authorize trampoline, as the server makes it, and what it wrote back.
struct Answer {
  int32_t rc = -1;
  std::optional<std::string> value;
  std::optional<std::string> filter;
};
Answer ask_text(const sdk::Auth& auth, const std::string& resource, const std::string& action, const json& user_object,
                const std::string& value_text) {
  const std::string user_text = user_object.dump();
  lg_authz_request raw{};
  raw.struct_size = sizeof raw;
  raw.resource = HostSink::str(resource);
  raw.action = HostSink::str(action);
  raw.user_json = HostSink::str(user_text);
  raw.value_json = HostSink::str(value_text);
  HostSink sink;
  Answer answer;
  answer.rc = sdk::detail::authorize(const_cast<sdk::Auth*>(&auth), &raw, sink.get());
  if (const std::string* v = sink.json("value")) answer.value = *v;
  if (const std::string* f = sink.json("filter")) answer.filter = *f;
  return answer;
}
Answer ask(const sdk::Auth& auth, const std::string& resource, const std::string& action, const json& user_object,
           const json& value) {
  return ask_text(auth, resource, action, user_object, value.dump());
}
json user_json(const std::string& identity, json extra = json::object()) {
  json u = {{"identity", identity}, {"display_name", identity}, {"is_authenticated", true}, {"permissions", json::array()}};
  u.update(extra);
  return u;
}

// What the SDK's authenticate trampoline writes as "user" for a handler answering `answer`.
std::string user_text(const sdk::Auth& auth) {
  lg_auth_request raw{};
  raw.struct_size = sizeof raw;
  HostSink sink;
  REQUIRE(sdk::detail::authenticate(const_cast<sdk::Auth*>(&auth), &raw, sink.get()) == LG_OK);
  REQUIRE(sink.json("user"));
  return *sink.json("user");
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

TEST_SUITE("authz.boundary") {
  TEST_CASE("a handler that leaves the value as it was sends no value back; a changed value is sent") {
    sdk::Auth auth;
    auth.authenticate([](const sdk::Request&) { return std::string("x"); });
    auth.on("threads:read", [](const sdk::AuthContext&, sdk::Value&) { return sdk::allow(); });
    auth.on("threads:search", [](const sdk::AuthContext& ctx, sdk::Value& value) {
      (void)value["metadata"];              // reads only: {} is already there
      return sdk::filter({{"owner", ctx.user.identity}});
    });
    auth.on("threads:update", [](const sdk::AuthContext& ctx, sdk::Value& value) {
      value["metadata"]["owner"] = ctx.user.identity;  // may be what was sent already
      return true;
    });
    const json alice = user_json("alice");

    const Answer read = ask(auth, "threads", "read", alice, {{"thread_id", "t"}, {"limit", 10}});
    CHECK(read.rc == LG_OK);
    CHECK_FALSE(read.value);
    CHECK_FALSE(read.filter);

    const Answer search = ask(auth, "threads", "search", alice, {{"metadata", json::object()}, {"limit", 10}});
    CHECK(search.rc == LG_OK);
    CHECK_FALSE(search.value);
    REQUIRE(search.filter);
    CHECK(json::parse(*search.filter) == json{{"owner", "alice"}});

    const Answer same = ask(auth, "threads", "update", alice, {{"metadata", {{"owner", "alice"}, {"n", 1.5}}}});
    CHECK(same.rc == LG_OK);
    CHECK_FALSE(same.value);

    const Answer changed = ask(auth, "threads", "update", alice, {{"metadata", {{"owner", "mallory"}}}});
    CHECK(changed.rc == LG_OK);
    REQUIRE(changed.value);
    CHECK(json::parse(*changed.value) == json{{"metadata", {{"owner", "alice"}}}});

    const Answer added = ask(auth, "threads", "update", alice, json::object());
    REQUIRE(added.value);
    CHECK(json::parse(*added.value) == json{{"metadata", {{"owner", "alice"}}}});
  }

  TEST_CASE("a handler of the context alone gets no value: none is parsed, none sent back") {
    sdk::Auth auth;
    auth.on([](const sdk::AuthContext& ctx) { return sdk::filter({{"owner", ctx.user.identity}}); });
    auth.on("threads:create", [](const sdk::AuthContext& ctx, sdk::Value& value) {
      value["metadata"]["owner"] = ctx.user.identity;
      return true;
    });
    auth.on("store", [](const sdk::AuthContext&) { return false; });
    CHECK_FALSE(auth.reads_value("threads", "read"));
    CHECK(auth.reads_value("threads", "create"));
    CHECK_FALSE(auth.reads_value("threads", "explode"));  // an unknown action: the global handler
    CHECK_FALSE(auth.reads_value("store", "put"));
    const auto without = auth.context_events();
    CHECK(std::find(without.begin(), without.end(), "threads:read") != without.end());
    CHECK(std::find(without.begin(), without.end(), "crons:create") != without.end());
    CHECK(std::find(without.begin(), without.end(), "store:put") != without.end());
    CHECK(std::find(without.begin(), without.end(), "threads:create") == without.end());
    CHECK(without.size() == 6 + 5 + 5 + 5 - 1);

    // The server sends an empty value to such a handler: it is not parsed.
    const json alice = user_json("alice");
    const Answer read = ask_text(auth, "threads", "read", alice, "");
    CHECK(read.rc == LG_OK);
    CHECK_FALSE(read.value);
    REQUIRE(read.filter);
    CHECK(json::parse(*read.filter) == json{{"owner", "alice"}});
    CHECK(ask_text(auth, "store", "put", alice, "").rc == LG_DENIED);
    // A value handler needs its value; an older server's value for a context handler is ignored.
    CHECK(ask_text(auth, "threads", "create", alice, "").rc == LG_FAILED);
    const Answer older = ask(auth, "threads", "search", alice, {{"metadata", json::object()}});
    CHECK(older.rc == LG_OK);
    CHECK_FALSE(older.value);
  }

  TEST_CASE("a handler given value_for gets the value of those actions only") {
    sdk::Auth auth;
    std::vector<std::string> seen;
    auth.on(
        [&seen](const sdk::AuthContext& ctx, sdk::Value& value) {
          seen.push_back(ctx.action + "=" + value.dump());
          value["touched"] = true;  // kept on create, dropped on read (it never had a value)
          return true;
        },
        sdk::value_for({"create", "update"}));
    CHECK(auth.reads_value("threads", "create"));
    CHECK(auth.reads_value("crons", "update"));
    CHECK_FALSE(auth.reads_value("threads", "read"));
    CHECK_FALSE(auth.reads_value("store", "put"));
    // Every known event but create and update of threads, assistants and crons.
    CHECK(auth.context_events().size() == 6 + 5 + 5 + 5 - 6);

    const json alice = user_json("alice");
    const Answer create = ask(auth, "threads", "create", alice, {{"metadata", json::object()}});
    REQUIRE(create.value);
    CHECK(json::parse(*create.value) == json{{"metadata", json::object()}, {"touched", true}});
    const Answer read = ask_text(auth, "threads", "read", alice, "");  // what the server sends it
    CHECK(read.rc == LG_OK);
    CHECK_FALSE(read.value);
    const Answer older = ask(auth, "threads", "read", alice, {{"thread_id", "t"}});  // an older server's value
    CHECK_FALSE(older.value);
    CHECK(seen == std::vector<std::string>{"create={\"metadata\":{}}", "read=null", "read=null"});

    CHECK_THROWS_AS(auth.on("store", [](const sdk::AuthContext&, sdk::Value&) { return true; }, sdk::value_for({"explode"})),
                    std::invalid_argument);
  }

  TEST_CASE("handlers see the user the server sent, call after call, as it changes") {
    sdk::Auth auth;
    std::vector<std::string> seen;
    auth.on([&seen](const sdk::AuthContext& ctx, sdk::Value&) {
      seen.push_back(ctx.user.identity + "/" + ctx.user.display_name + "/" + std::to_string(ctx.permissions.size()) + "/" +
                     ctx.user.fields.dump() + "/" + ctx.resource + ":" + ctx.action);
      return true;
    });
    const json v = {{"thread_id", "t"}};
    ask(auth, "threads", "read", user_json("alice"), v);
    ask(auth, "threads", "delete", user_json("alice"), v);
    ask(auth, "store", "put", user_json("bob", {{"permissions", {"w"}}}), v);
    ask(auth, "threads", "read", user_json("alice", {{"org", "acme"}}), v);
    ask(auth, "threads", "read", user_json("alice"), v);
    CHECK(seen == std::vector<std::string>{"alice/alice/0/{}/threads:read", "alice/alice/0/{}/threads:delete",
                                           "bob/bob/1/{}/store:put", "alice/alice/0/{\"org\":\"acme\"}/threads:read",
                                           "alice/alice/0/{}/threads:read"});
  }

  TEST_CASE("authenticate writes each user as it is, also when it differs only by a number's type") {
    std::vector<sdk::User> users(5);
    users[0].identity = users[1].identity = "alice";
    users[2].identity = "bob";
    users[2].permissions = {"read"};
    users[3].identity = users[4].identity = "carol";
    users[3].fields = {{"n", 1}};
    users[4].fields = {{"n", 1.0}};
    size_t next = 0;
    sdk::Auth auth;
    auth.authenticate([&](const sdk::Request&) -> sdk::User { return users.at(next++); });
    for (const auto& expected : users) CHECK(user_text(auth) == expected.to_json().dump());
    CHECK(user_text(auth.authenticate([](const sdk::Request&) { return std::string("dave"); })) == "\"dave\"");
  }

  TEST_CASE("handler resolution survives copies, and unknown actions still reach the wildcards") {
    sdk::Auth auth;
    auth.on(tag("global"));
    auth.on("threads:read", tag("read"));
    const sdk::Auth copy = auth;
    CHECK(which(copy, "threads", "read") == "read");
    CHECK(which(copy, "threads", "create") == "global");
    CHECK(which(copy, "threads", "explode") == "global");
    CHECK(which(copy, "sessions", "read") == "global");
    // A list whose second event is taken registers the first, as before.
    CHECK_THROWS_AS(auth.on(std::vector<std::string>{"store:put", "threads:read"}, tag("late")), std::invalid_argument);
    CHECK(which(auth, "store", "put") == "late");
    CHECK(which(auth, "threads", "read") == "read");
  }

  TEST_CASE("allow and deny carry no filter") {
    CHECK(sdk::allow().filter() == json::object());
    CHECK(sdk::deny().filter() == json::object());
    CHECK(sdk::filter({{"owner", "a"}}).filter() == json{{"owner", "a"}});
  }

  TEST_CASE("the server keeps a value the handler did not change, as it was") {
    Authorizer authz(owner_plugin());
    const User alice = user("alice");
    json value = {{"thread_id", "t"}, {"limit", 10}};
    const json filter = authz.authorize(&alice, "threads", "read", value);
    CHECK(filter == json{{"owner", "alice"}});
    CHECK(value == json{{"thread_id", "t"}, {"limit", 10}});
    // Not a parsed copy: a parsed 10 would be an unsigned number.
    CHECK(value["limit"].type() == json::value_t::number_integer);
  }

  TEST_CASE("the owner plugin stamps the owner on create, update and create_run only") {
    Authorizer authz(owner_plugin());
    const User alice = user("alice");
    for (const char* action : {"create", "update", "create_run"}) {
      json value = {{"metadata", {{"owner", "mallory"}}}};
      CHECK(authz.authorize(&alice, "threads", action, value) == json{{"owner", "alice"}});
      CHECK_MESSAGE((value["metadata"] == json{{"owner", "alice"}}), action);
    }
    for (const char* action : {"read", "delete", "search"}) {
      json value = {{"metadata", {{"topic", "x"}}}, {"limit", 10}};
      CHECK(authz.authorize(&alice, "threads", action, value) == json{{"owner", "alice"}});
      CHECK_MESSAGE((value == json{{"metadata", {{"topic", "x"}}}, {"limit", 10}}), action);
    }
  }

  TEST_CASE("answers reused from one call to the next belong to the same user and filter") {
    Authorizer authz(owner_plugin());
    const User alice = user("alice"), bob = user("bob");
    for (int i = 0; i < 3; ++i) {
      json a = {{"thread_id", "t"}}, b = {{"thread_id", "t"}};
      CHECK(authz.authorize(&alice, "threads", "read", a) == json{{"owner", "alice"}});
      CHECK(authz.authorize(&alice, "threads", "search", a) == json{{"owner", "alice"}});
      CHECK(authz.authorize(&bob, "threads", "read", b) == json{{"owner", "bob"}});
    }
    // A user built field by field (no serialized form) is serialized on the call.
    User carol;
    carol.identity = "carol";
    carol.object = {{"identity", "carol"}};
    json value = {{"thread_id", "t"}};
    CHECK(authz.authorize(&carol, "threads", "read", value) == json{{"owner", "carol"}});
  }

  TEST_CASE("the server asks only about the events the plugin listed") {
    AuthConfig c;
    c.plugin = parse_plugin_ref("auth.path", std::string(FIXTURE_DIR) + "/auth_counting.so:auth", "/");
    const auto counting = AuthPlugin::load(c);  // lists threads:create, crons:read, crons:delete, crons:search
    CHECK(counting->has_handler("threads", "create"));
    CHECK(counting->has_handler("crons", "read"));
    CHECK_FALSE(counting->has_handler("threads", "read"));
    CHECK_FALSE(counting->has_handler("store", "put"));
    CHECK_FALSE(counting->has_handler("threads", "explode"));
    CHECK_FALSE(counting->decides_from_context("threads", "create"));
    CHECK(counting->decides_from_context("crons", "read"));
    const auto owner = owner_plugin();  // *:*, assistants:*, store:*
    CHECK(owner->has_handler("threads", "read"));
    CHECK(owner->has_handler("crons", "search"));
    CHECK(owner->has_handler("threads", "explode"));
    // Its global handler reads the value of creates, updates and runs only, its assistants handler
    // none: the other events are decided from the context alone. The store handler reads them all.
    using Event = std::pair<const char*, const char*>;
    for (const auto& [resource, action] : {Event{"threads", "read"}, Event{"threads", "search"}, Event{"threads", "delete"},
                                           Event{"crons", "read"}, Event{"assistants", "create"}, Event{"assistants", "read"}})
      CHECK_MESSAGE(owner->decides_from_context(resource, action), resource << ":" << action);
    for (const auto& [resource, action] : {Event{"threads", "create"}, Event{"threads", "update"}, Event{"threads", "create_run"},
                                           Event{"crons", "create"}, Event{"store", "put"}, Event{"store", "search"}})
      CHECK_MESSAGE(!owner->decides_from_context(resource, action), resource << ":" << action);
    CHECK_FALSE(owner->decides_from_context("threads", "explode"));  // not a known event: always asked
    // Not asked, not changed.
    json value = {{"thread_id", "t"}};
    const User alice = user("alice");
    CHECK(Authorizer(counting).authorize(&alice, "threads", "read", value) == json::object());
  }
}

TEST_SUITE("authz.context") {
  TEST_CASE("an answer decided from the context alone is reused for the same user and event, per thread") {
    AuthConfig c;
    c.plugin = parse_plugin_ref("auth.path", std::string(FIXTURE_DIR) + "/auth_counting.so:auth", "/");
    const auto counting = AuthPlugin::load(c);
    const User alice = user("alice"), bob = user("bob");
    json value = {{"cron_id", "c"}};
    auto call_of = [&](const User& who) {
      const AuthzDecision d = counting->authorize(who, "crons", "read", value);
      REQUIRE(d.kind == AuthzDecision::Kind::allowed);
      REQUIRE(d.filter);
      CHECK(d.filter->at("identity") == who.identity);
      return d.filter->at("call").get<int>();
    };
    CHECK(call_of(alice) == 1);
    CHECK(call_of(alice) == 1);  // reused: the plugin was not asked again
    CHECK(call_of(bob) == 2);    // another user: asked
    CHECK(call_of(bob) == 2);
    CHECK(call_of(alice) == 3);  // the thread remembers one user per event
    int on_another_thread = 0;
    std::thread([&] { on_another_thread = call_of(alice); }).join();
    CHECK(on_another_thread == 4);
    CHECK(value == json{{"cron_id", "c"}});

    // A refusal is an answer too; a failure is not remembered.
    for (int i = 0; i < 2; ++i) {
      const AuthzDecision refused = counting->authorize(alice, "crons", "delete", value);
      CHECK(refused.kind == AuthzDecision::Kind::rejected);
      CHECK(refused.status == 403);
      CHECK(refused.detail == "refused on call 5");
    }
    CHECK(counting->authorize(alice, "crons", "search", value).reason.find("failed on call 6") != std::string::npos);
    CHECK(counting->authorize(alice, "crons", "search", value).reason.find("failed on call 7") != std::string::npos);

    // Another plugin (even one at the same address later) never sees these answers.
    const auto again = AuthPlugin::load(c);
    const AuthzDecision fresh = again->authorize(alice, "crons", "read", value);
    REQUIRE(fresh.filter);
    CHECK(fresh.filter->at("call") == 1);
  }
}

TEST_SUITE("authz.failures") {
  TEST_CASE("a filter with an unknown operator is a 500, never a match") {
    AuthConfig c;
    c.plugin = parse_plugin_ref("auth.path", std::string(FIXTURE_DIR) + "/auth_bad_filter.so:auth", "/");
    Authorizer authz(AuthPlugin::load(c));
    const User anyone = user("anyone");
    json value = {{"thread_id", "t"}};
    for (int i = 0; i < 2; ++i) {  // the same invalid filter again is refused again
      try {
        authz.authorize(&anyone, "threads", "read", value);
        FAIL("allowed");
      } catch (const ApiError& e) {
        CHECK(e.status == 500);
        CHECK(e.detail.find("$regex") == std::string::npos);
      }
    }
  }
}
