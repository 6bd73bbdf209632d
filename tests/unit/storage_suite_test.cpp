// One behavioural suite for the Storage interface, run on every backend: memory, SQLite and
// PostgreSQL. MemoryStorage is the reference: every backend must answer as it does.
//
// Each test is registered once per backend, as "storage[memory]: ...", "storage[sqlite]: ..."
// and "storage[postgres]: ...", so that CTest names the backend that fails. Every test gets a
// fresh database: a temporary file for SQLite; for PostgreSQL a database of its own, created and
// dropped through the superuser URI in LANGGRAPH_TEST_POSTGRES_URI (tools/test.sh starts a
// private server and sets it). Without that variable the PostgreSQL tests are skipped with a
// message; with a variable that does not work they fail.
#include <doctest/doctest.h>

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "authz/filter.hpp"
#include "storage/storage.hpp"
#include "temp_dir.hpp"
#include "util/clock.hpp"

using namespace lgs;

namespace {

// ---------------------------------------------------------------------------------------------
// Backends

enum class Kind { memory, sqlite, postgres };

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// The administrator's connection to the PostgreSQL server named by LANGGRAPH_TEST_POSTGRES_URI.
struct PgAdminError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PgAdmin {
 public:
  explicit PgAdmin(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
      PQfinish(conn_);
      throw PgAdminError("cannot connect: " + message);
    }
  }
  ~PgAdmin() { PQfinish(conn_); }
  PgAdmin(const PgAdmin&) = delete;
  PgAdmin& operator=(const PgAdmin&) = delete;

  void exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
    std::string message = ok ? "" : PQresultErrorMessage(result);
    PQclear(result);
    if (!ok) throw PgAdminError(sql + ": " + message);
  }

 private:
  PGconn* conn_;
};

// The URI of database `name` on the server of `admin_uri` (a URI or a keyword=value string).
std::string with_database(const std::string& admin_uri, const std::string& name) {
  const auto scheme = admin_uri.find("://");
  if (scheme == std::string::npos) return admin_uri + " dbname=" + name;
  const auto query = admin_uri.find('?', scheme + 3);
  std::string base = admin_uri.substr(0, query);
  const std::string params = query == std::string::npos ? "" : admin_uri.substr(query);
  const auto slash = base.find('/', scheme + 3);
  if (slash != std::string::npos) base.erase(slash);
  return base + "/" + name + params;
}

// A database created for one test and dropped after it.
class PgDatabase {
 public:
  explicit PgDatabase(std::string admin_uri) : admin_uri_(std::move(admin_uri)) {
    static std::atomic<int> counter{0};
    std::random_device random;
    name_ = "lgs_suite_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 1000000);
    PgAdmin admin(admin_uri_);
    // An en-US collation, as many production databases have, so that text ordering that differs
    // from byte order shows up in the tests instead of only in production. A server built
    // without ICU gets its default collation.
    try {
      admin.exec("CREATE DATABASE " + name_ +
                 " TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
    } catch (const PgAdminError&) {
      admin.exec("CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'");
    }
  }
  ~PgDatabase() {
    try {
      PgAdmin(admin_uri_).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "storage suite: cannot drop database %s: %s\n", name_.c_str(), e.what());
    }
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  std::string uri() const { return with_database(admin_uri_, name_); }

 private:
  std::string admin_uri_;
  std::string name_;
};

class Backend {
 public:
  explicit Backend(Kind kind) : kind_(kind) {
    switch (kind) {
      case Kind::memory: uri_ = ":memory:"; break;
      case Kind::sqlite: uri_ = "sqlite:" + (dir_.path / "db" / "langgraph.sqlite").string(); break;
      case Kind::postgres:
        database_.emplace(env("LANGGRAPH_TEST_POSTGRES_URI"));
        uri_ = database_->uri();
        break;
    }
    storage_ = open_storage(uri_, dir_.path.string());
  }

  Kind kind() const { return kind_; }
  Storage& storage() { return *storage_; }
  // Another server on the same database (for shared databases).
  std::unique_ptr<Storage> open_another() { return open_storage(uri_, dir_.path.string()); }
  // Closes the database and opens it again, as a restarted server does.
  Storage& reopen() {
    storage_.reset();
    storage_ = open_storage(uri_, dir_.path.string());
    return *storage_;
  }
  void close() { storage_.reset(); }
  const std::string& uri() const { return uri_; }
  std::string data_dir() const { return dir_.path.string(); }

 private:
  Kind kind_;
  TempDir dir_;
  std::optional<PgDatabase> database_;  // before storage_: dropped after it is closed
  std::string uri_;
  std::unique_ptr<Storage> storage_;
};

using Body = void (*)(Backend&);

void run_on(Kind kind, Body body) {
  if (kind == Kind::postgres && env("LANGGRAPH_TEST_POSTGRES_URI").empty()) {
    MESSAGE("PostgreSQL skipped: LANGGRAPH_TEST_POSTGRES_URI is not set "
            "(tools/test.sh starts a server and sets it)");
    return;
  }
  std::unique_ptr<Backend> backend;
  try {
    backend = std::make_unique<Backend>(kind);
  } catch (const PgAdminError& e) {
    const std::string why = std::string("LANGGRAPH_TEST_POSTGRES_URI is set but unusable: ") + e.what();
    FAIL(why);
  }
  body(*backend);
}

}  // namespace

// A test on every backend; the body sees `backend` (Backend&).
#define STORAGE_TEST(function, title)                                               \
  static void function(Backend& backend);                                           \
  TEST_CASE("storage[memory]: " title) { run_on(Kind::memory, function); }          \
  TEST_CASE("storage[sqlite]: " title) { run_on(Kind::sqlite, function); }          \
  TEST_CASE("storage[postgres]: " title) { run_on(Kind::postgres, function); }      \
  static void function([[maybe_unused]] Backend& backend)

// A test on the backends that keep data on disk.
#define PERSISTENT_STORAGE_TEST(function, title)                                    \
  static void function(Backend& backend);                                           \
  TEST_CASE("storage[sqlite]: " title) { run_on(Kind::sqlite, function); }          \
  TEST_CASE("storage[postgres]: " title) { run_on(Kind::postgres, function); }      \
  static void function([[maybe_unused]] Backend& backend)

// A test on the backends several servers share (shared() is true).
#define SHARED_STORAGE_TEST(function, title)                                        \
  static void function(Backend& backend);                                           \
  TEST_CASE("storage[postgres]: " title) { run_on(Kind::postgres, function); }      \
  static void function([[maybe_unused]] Backend& backend)

namespace {

// ---------------------------------------------------------------------------------------------
// Records and comparisons

// 2024-05-01T00:00:00.000000+00:00 plus `seconds`, in the format the server writes.
std::string ts(int seconds, int micros = 0) {
  char text[64];
  std::snprintf(text, sizeof text, "2024-05-01T%02d:%02d:%02d.%06d+00:00", seconds / 3600, seconds / 60 % 60,
                seconds % 60, micros);
  return text;
}

Assistant make_assistant(const std::string& id, int version = 1, int created = 1) {
  Assistant a;
  a.assistant_id = id;
  a.graph_id = "agent";
  a.config = {{"configurable", {{"model", "m" + std::to_string(version)}}}};
  a.context = {{"lang", "en"}};
  a.metadata = {{"created_by", "system"}, {"version_tag", version}};
  a.version = version;
  a.name = "assistant " + id;
  a.description = "v" + std::to_string(version);
  a.created_at = ts(created);
  a.updated_at = ts(created + version);
  return a;
}

Thread make_thread(const std::string& id, int created = 1, json metadata = json::object()) {
  Thread t;
  t.thread_id = id;
  t.created_at = ts(created);
  t.updated_at = ts(created);
  t.metadata = std::move(metadata);
  return t;
}

Run make_run(const std::string& id, const std::string& thread_id, int created = 1, const std::string& status = "pending") {
  Run r;
  r.run_id = id;
  r.thread_id = thread_id;
  r.assistant_id = "asst-1";
  r.metadata = {{"origin", "test"}};
  r.status = status;
  r.kwargs = {{"input", {{"messages", json::array({{{"role", "user"}, {"content", "hi " + id}}})}}},
              {"stream_mode", {"values"}}};
  r.multitask_strategy = "enqueue";
  r.created_at = ts(created);
  r.updated_at = ts(created);
  r.ready_at = ts(created);
  return r;
}

Checkpoint make_checkpoint(const std::string& thread_id, const std::string& id, const std::string& run_id, int step,
                           const std::string& parent = "") {
  Checkpoint c;
  c.thread_id = thread_id;
  c.checkpoint_id = id;
  c.parent_checkpoint_id = parent;
  c.values = {{"step", step}, {"messages", json::array({"m" + std::to_string(step)})}};
  c.next = {"node_" + std::to_string(step)};
  c.tasks = json::array({{{"id", "task-" + id}, {"name", "node"}, {"path", {"__pregel_pull", "node"}},
                          {"error", nullptr}, {"interrupts", json::array()}}});
  c.metadata = {{"source", step < 0 ? "input" : "loop"}, {"step", step}, {"run_id", run_id}, {"parents", json::object()}};
  c.pending_writes = json::object();
  c.resumes = json::object();
  c.created_at = ts(step + 100);
  return c;
}

Item make_item(std::vector<std::string> ns, const std::string& key, json value, int created = 1, int updated = -1) {
  Item i;
  i.namespace_path = std::move(ns);
  i.key = key;
  i.value = std::move(value);
  i.created_at = ts(created);
  i.updated_at = ts(updated < 0 ? created : updated);
  return i;
}

std::string shorten(const std::string& text) {
  return text.size() <= 400 ? text : text.substr(0, 400) + "... (" + std::to_string(text.size()) + " bytes)";
}

std::string show(const std::string& value) { return "\"" + shorten(value) + "\""; }
std::string show(int64_t value) { return std::to_string(value); }
std::string show(const std::vector<std::string>& value) { return json(value).dump(); }

// JSON must come back as it went in: compared by serialization, so that 2 coming back as 2.0,
// or 2^53 + 1 as 2^53, is caught (nlohmann's objects are sorted maps: the key order is fixed).
bool same(const json& a, const json& b) { return a.dump() == b.dump(); }
template <typename T>
bool same(const T& a, const T& b) {
  return a == b;
}

// Where two JSON values first differ, as "/path: got X, want Y".
std::string difference(const json& got, const json& want, const std::string& path = "") {
  if (same(got, want)) return "";
  if (got.is_object() && want.is_object()) {
    for (const auto& [key, value] : want.items()) {
      if (!got.contains(key)) return path + "/" + key + ": missing, want " + shorten(value.dump());
      if (auto d = difference(got[key], value, path + "/" + key); !d.empty()) return d;
    }
    for (const auto& [key, value] : got.items())
      if (!want.contains(key)) return path + "/" + key + ": unexpected " + shorten(value.dump());
  }
  if (got.is_array() && want.is_array() && got.size() == want.size())
    for (size_t i = 0; i < got.size(); ++i)
      if (auto d = difference(got[i], want[i], path + "/" + std::to_string(i)); !d.empty()) return d;
  return (path.empty() ? "" : path + ": ") + "got " + shorten(got.dump()) + ", want " + shorten(want.dump());
}
template <typename T>
std::string difference(const T& got, const T& want) {
  return "got " + show(got) + ", want " + show(want);
}

#define SAME_FIELD(field) \
  CHECK_MESSAGE(same(got.field, want.field), what << "." #field ": " << difference(got.field, want.field))

void expect_same(const Assistant& got, const Assistant& want, const std::string& what = "assistant") {
  SAME_FIELD(assistant_id);
  SAME_FIELD(graph_id);
  SAME_FIELD(config);
  SAME_FIELD(context);
  SAME_FIELD(metadata);
  SAME_FIELD(version);
  SAME_FIELD(name);
  SAME_FIELD(description);
  SAME_FIELD(created_at);
  SAME_FIELD(updated_at);
}

void expect_same(const Thread& got, const Thread& want, const std::string& what = "thread") {
  SAME_FIELD(thread_id);
  SAME_FIELD(created_at);
  SAME_FIELD(updated_at);
  SAME_FIELD(metadata);
  SAME_FIELD(status);
  SAME_FIELD(config);
  SAME_FIELD(values);
  SAME_FIELD(interrupts);
  SAME_FIELD(error);
}

void expect_same(const Run& got, const Run& want, const std::string& what = "run") {
  SAME_FIELD(run_id);
  SAME_FIELD(thread_id);
  SAME_FIELD(assistant_id);
  SAME_FIELD(metadata);
  SAME_FIELD(status);
  SAME_FIELD(kwargs);
  SAME_FIELD(multitask_strategy);
  SAME_FIELD(created_at);
  SAME_FIELD(updated_at);
  SAME_FIELD(output);
  SAME_FIELD(error);
  SAME_FIELD(ready_at);
  SAME_FIELD(cancel);
}

void expect_same(const Checkpoint& got, const Checkpoint& want, const std::string& what = "checkpoint") {
  SAME_FIELD(thread_id);
  SAME_FIELD(checkpoint_id);
  SAME_FIELD(parent_checkpoint_id);
  SAME_FIELD(values);
  SAME_FIELD(next);
  SAME_FIELD(tasks);
  SAME_FIELD(metadata);
  SAME_FIELD(pending_writes);
  SAME_FIELD(resumes);
  SAME_FIELD(created_at);
}

void expect_same(const Item& got, const Item& want, const std::string& what = "item") {
  SAME_FIELD(namespace_path);
  SAME_FIELD(key);
  SAME_FIELD(value);
  SAME_FIELD(created_at);
  SAME_FIELD(updated_at);
}

void expect_same(const StreamEvent& got, const StreamEvent& want, const std::string& what = "event") {
  SAME_FIELD(id);
  SAME_FIELD(mode);
  SAME_FIELD(event);
  SAME_FIELD(data);
}

void expect_same(const Cron& got, const Cron& want, const std::string& what = "cron");  // with the crons' tests

// Compares a stored record with the one expected; fails the test when it is missing.
template <typename T>
void expect_stored(const std::optional<T>& got, const T& want, const std::string& what) {
  REQUIRE_MESSAGE(got.has_value(), what << " is missing");
  expect_same(*got, want, what);
}

template <typename T>
void expect_same_list(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": got " << got.size() << " records, want " << want.size());
  for (size_t i = 0; i < got.size(); ++i) expect_same(got[i], want[i], what + "[" + std::to_string(i) + "]");
}

std::string key_of(const Assistant& a) { return a.assistant_id + "@v" + std::to_string(a.version); }
std::string key_of(const Thread& t) { return t.thread_id; }
std::string key_of(const Run& r) { return r.run_id; }
std::string key_of(const Checkpoint& c) { return c.checkpoint_id; }
std::string key_of(const Item& i) { return json(i.namespace_path).dump() + "/" + i.key; }

// "a,b,c": the ids of records in order, for readable comparisons.
template <typename T>
std::string keys(const std::vector<T>& records) {
  std::string out;
  for (const auto& r : records) out += (out.empty() ? "" : ",") + key_of(r);
  return out;
}

std::string namespaces_text(const std::vector<std::vector<std::string>>& namespaces) { return json(namespaces).dump(); }

// The ids, sorted: for results whose order the interface leaves open.
template <typename T>
std::string key_set(const std::vector<T>& records) {
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(key_of(r));
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

// Values that a careless encoding would change.
json tricky_json() {
  return {
      {"unicode", "h\u00e9llo w\u00f6rld \u2014 \u4e2d\u6587 \u2014 \U0001F600 \u2014 \u05e2\u05d1\u05e8\u05d9\u05ea"},
      {"escaped", json::parse(R"("\u00e9\ud83d\ude00\u2028\u2029")")},
      {"quotes", "she said \"hi\" and 'bye' \\ back\\slash / slash"},
      {"sql", "'; DROP TABLE threads; -- $1 ? %s %_"},
      {"control", "line1\nline2\ttab\rcr\x01\x02\x1f\b\f end"},
      {"int64_max", INT64_MAX},
      {"int64_min", INT64_MIN},
      {"uint64_max", UINT64_MAX},
      {"beyond_double", 9007199254740993LL},  // 2^53 + 1: not a double
      {"float", 0.1},
      {"pi", 3.141592653589793},
      {"tiny", 1.5e-300},
      {"huge", 1.7976931348623157e308},
      {"negative", -2.5},
      {"whole_float", 2.0},
      {"zero", 0},
      {"false", false},
      {"true", true},
      {"null", nullptr},
      {"empty_object", json::object()},
      {"empty_array", json::array()},
      {"empty_string", ""},
      {"nested", {{"a", {{"b", {{"c", nullptr}, {"d", json::object()}}}}},
                  {"list", {nullptr, json::object(), json::array(), {1, "two", 3.5, nullptr}}}}},
      {"key with spaces, \"quotes\" and \u00fcn\u00efc\u00f6de", "v"},
      {"", "empty key"},
  };
}

}  // namespace

// =============================================================================================
// Assistants

STORAGE_TEST(assistants_put_get_versions, "assistants: put stores versions, get the current one, versions newest first") {
  Storage& s = backend.storage();
  CHECK_FALSE(s.get_assistant("a1").has_value());
  CHECK(s.assistant_versions("a1").empty());

  const Assistant v1 = make_assistant("a1", 1, 1);
  s.put_assistant(v1);
  expect_stored(s.get_assistant("a1"), v1, "a1 after put v1");
  expect_same_list(s.assistant_versions("a1"), {v1}, "versions after v1");

  Assistant v2 = make_assistant("a1", 2, 1);
  v2.graph_id = "other_graph";
  v2.name = "renamed";
  v2.description = nullptr;
  v2.metadata = {{"created_by", "alice"}};
  s.put_assistant(v2);
  expect_stored(s.get_assistant("a1"), v2, "a1 after put v2");
  expect_same_list(s.assistant_versions("a1"), {v2, v1}, "versions after v2");

  Assistant v3 = make_assistant("a1", 3, 1);
  s.put_assistant(v3);
  expect_same_list(s.assistant_versions("a1"), {v3, v2, v1}, "versions after v3");

  // Making an older version current again (as setting the latest version does) replaces that
  // version and makes it the current one.
  Assistant v1_again = v1;
  v1_again.updated_at = ts(50);
  v1_again.metadata = {{"restored", true}};
  s.put_assistant(v1_again);
  expect_stored(s.get_assistant("a1"), v1_again, "a1 after putting version 1 again");
  expect_same_list(s.assistant_versions("a1"), {v3, v2, v1_again}, "versions after putting version 1 again");

  // Another assistant does not mix in.
  const Assistant other = make_assistant("a2", 1, 2);
  s.put_assistant(other);
  expect_same_list(s.assistant_versions("a2"), {other}, "versions of a2");
  expect_same_list(s.assistant_versions("a1"), {v3, v2, v1_again}, "versions of a1 beside a2");
  expect_stored(s.get_assistant("a2"), other, "a2");
}

STORAGE_TEST(assistants_delete, "assistants: delete removes the assistant and every version") {
  Storage& s = backend.storage();
  s.put_assistant(make_assistant("a1", 1));
  s.put_assistant(make_assistant("a1", 2));
  const Assistant keep = make_assistant("a2", 1);
  s.put_assistant(keep);

  CHECK(s.delete_assistant("a1"));
  CHECK_FALSE(s.get_assistant("a1").has_value());
  CHECK(s.assistant_versions("a1").empty());
  CHECK_FALSE(s.delete_assistant("a1"));
  CHECK_FALSE(s.delete_assistant("never-existed"));
  expect_stored(s.get_assistant("a2"), keep, "a2 after deleting a1");
  CHECK(s.search_assistants({}).total == 1);

  // The id can be used again, without the old versions.
  Assistant fresh = make_assistant("a1", 1, 9);
  fresh.description = "";  // empty, not null
  s.put_assistant(fresh);
  expect_same_list(s.assistant_versions("a1"), {fresh}, "versions of a recreated a1");
}

STORAGE_TEST(assistants_search_filters, "assistants: search by graph_id, name, metadata and auth filter") {
  Storage& s = backend.storage();
  Assistant a = make_assistant("a", 1, 1);
  a.graph_id = "agent";
  a.name = "Alpha Bot";
  a.metadata = {{"owner", "alice"}, {"tags", {"x", "y"}}, {"info", {{"lang", "en"}, {"level", 3}}}};
  Assistant b = make_assistant("b", 1, 2);
  b.graph_id = "agent";
  b.name = "50% off";
  b.metadata = {{"owner", "bob"}, {"tags", {"y"}}};
  Assistant c = make_assistant("c", 1, 3);
  c.graph_id = "agent_two";
  c.name = "500 off_";
  c.metadata = {{"owner", "alice"}};
  for (const auto& x : {a, b, c}) s.put_assistant(x);
  // An old version's metadata must not be searched: d's current version is owned by carol.
  Assistant d1 = make_assistant("d", 1, 4);
  d1.metadata = {{"owner", "alice"}};
  d1.name = "old name";
  Assistant d2 = make_assistant("d", 2, 4);
  d2.metadata = {{"owner", "carol"}};
  d2.name = "new name";
  s.put_assistant(d1);
  s.put_assistant(d2);

  auto search = [&](AssistantQuery q) {
    q.sort_by = "assistant_id";
    q.descending = false;
    return s.search_assistants(q);
  };
  auto ids = [&](AssistantQuery q) { return keys(search(std::move(q)).items); };

  CHECK(ids({}) == "a@v1,b@v1,c@v1,d@v2");
  CHECK(search({}).total == 4);
  {
    AssistantQuery q;
    q.graph_id = "agent";
    CHECK(ids(q) == "a@v1,b@v1,d@v2");  // exact, not a prefix: agent_two is not agent
  }
  {
    AssistantQuery q;
    q.name = "pha B";  // a substring
    CHECK(ids(q) == "a@v1");
    q.name = "alpha bot";  // case-sensitive
    CHECK(ids(q) == "");
    q.name = "50%";  // % and _ are plain characters
    CHECK(ids(q) == "b@v1");
    q.name = "off_";
    CHECK(ids(q) == "c@v1");
    q.name = "old";
    CHECK(ids(q) == "");
    q.name = "new";
    CHECK(ids(q) == "d@v2");
    q.name = "";  // every name holds the empty string
    CHECK(ids(q) == "a@v1,b@v1,c@v1,d@v2");
  }
  {
    AssistantQuery q;
    q.metadata = {{"owner", "alice"}};
    CHECK(ids(q) == "a@v1,c@v1");  // not d: its current version is carol's
    CHECK(search(q).total == 2);
    q.metadata = {{"tags", {"y"}}};
    CHECK(ids(q) == "a@v1,b@v1");
    q.metadata = {{"tags", {"x", "y"}}};
    CHECK(ids(q) == "a@v1");
    q.metadata = {{"info", {{"lang", "en"}}}};  // containment inside objects
    CHECK(ids(q) == "a@v1");
    q.metadata = {{"info", {{"lang", "fr"}}}};
    CHECK(ids(q) == "");
    q.metadata = {{"owner", "alice"}, {"missing", 1}};
    CHECK(ids(q) == "");
  }
  {
    AssistantQuery q;
    q.auth_filter = {{"owner", "alice"}};
    CHECK(ids(q) == "a@v1,c@v1");
    q.auth_filter = {{"owner", {{"$ne", "alice"}}}};
    CHECK(ids(q) == "b@v1,d@v2");
    q.auth_filter = {{"$or", {{{"owner", "bob"}}, {{"tags", {{"$contains", "x"}}}}}}};
    CHECK(ids(q) == "a@v1,b@v1");
    q.auth_filter = {{"owner", {{"$in", {"carol", "bob"}}}}};
    CHECK(ids(q) == "b@v1,d@v2");
    q.graph_id = "agent";
    q.metadata = {{"owner", "bob"}};
    CHECK(ids(q) == "b@v1");
    q.name = "Alpha";
    CHECK(ids(q) == "");
  }
}

STORAGE_TEST(assistants_sort_paginate, "assistants: sort by every field both ways, limit, offset and total") {
  Storage& s = backend.storage();
  // Distinct values in every sort field, each field ordering them differently. Text sorts by
  // bytes, as std::string compares: upper case before "_" before lower case.
  auto add = [&](const std::string& id, const std::string& graph, const std::string& name, int created, int updated) {
    Assistant a = make_assistant(id, 1, created);
    a.graph_id = graph;
    a.name = name;
    a.updated_at = ts(updated);
    s.put_assistant(a);
  };
  add("asst-a", "graph_B", "zeta", 3, 12);
  add("asst-b", "Graph_c", "Alpha", 1, 14);
  add("asst-c", "graph_a", "_mid", 4, 11);
  add("asst-d", "graph-z", "Beta", 2, 13);

  auto order = [&](const std::string& by, bool descending) {
    AssistantQuery q;
    q.sort_by = by;
    q.descending = descending;
    std::string out;
    for (const auto& a : s.search_assistants(q).items) out += a.assistant_id.substr(5);
    return out;
  };
  CHECK(order("assistant_id", false) == "abcd");
  CHECK(order("assistant_id", true) == "dcba");
  CHECK(order("graph_id", false) == "bdac");
  CHECK(order("graph_id", true) == "cadb");
  CHECK(order("name", false) == "bdca");
  CHECK(order("name", true) == "acdb");
  CHECK(order("created_at", false) == "bdac");
  CHECK(order("created_at", true) == "cadb");
  CHECK(order("updated_at", false) == "cadb");
  CHECK(order("updated_at", true) == "bdac");
  CHECK(order("created_at", true) == order("", true));  // the default: created_at

  AssistantQuery q;  // created_at, newest first
  q.limit = 2;
  auto page = s.search_assistants(q);
  CHECK(keys(page.items) == "asst-c@v1,asst-a@v1");
  CHECK(page.total == 4);
  q.offset = 2;
  page = s.search_assistants(q);
  CHECK(keys(page.items) == "asst-d@v1,asst-b@v1");
  CHECK(page.total == 4);
  q.offset = 3;
  page = s.search_assistants(q);
  CHECK(keys(page.items) == "asst-b@v1");
  q.offset = 4;
  page = s.search_assistants(q);
  CHECK(page.items.empty());
  CHECK(page.total == 4);
  q.offset = 0;
  q.limit = 0;
  page = s.search_assistants(q);
  CHECK(page.items.empty());
  CHECK(page.total == 4);
  q.limit = 10;
  q.graph_id = "graph_a";
  page = s.search_assistants(q);
  CHECK(keys(page.items) == "asst-c@v1");
  CHECK(page.total == 1);
  // Search returns whole records.
  REQUIRE(page.items.size() == 1);
  expect_stored(s.get_assistant("asst-c"), page.items[0], "asst-c from search");
}

STORAGE_TEST(assistants_sort_ties, "assistants: ties in the sort field follow assistant_id in the same direction, pages do not overlap") {
  Storage& s = backend.storage();
  // Put out of id order; most share a graph_id, pairs share created_at.
  const std::vector<std::tuple<std::string, std::string, int>> rows = {
      {"e", "agent", 2}, {"b", "agent", 1}, {"f", "other", 3}, {"a", "agent", 2}, {"d", "agent", 1}, {"c", "zeta", 3}};
  for (const auto& [id, graph, created] : rows) {
    Assistant a = make_assistant(id, 1, created);
    a.graph_id = graph;
    a.name = "same name";
    s.put_assistant(a);
  }
  auto order = [&](const std::string& by, bool descending, int limit = 10, int offset = 0) {
    AssistantQuery q;
    q.sort_by = by;
    q.descending = descending;
    q.limit = limit;
    q.offset = offset;
    std::string out;
    for (const auto& a : s.search_assistants(q).items) out += a.assistant_id;
    return out;
  };
  CHECK(order("graph_id", false) == "abdefc");
  CHECK(order("graph_id", true) == "cfedba");
  CHECK(order("name", false) == "abcdef");
  CHECK(order("name", true) == "fedcba");
  CHECK(order("created_at", false) == "bdaecf");
  CHECK(order("created_at", true) == "fceadb");
  std::string pages;
  for (int offset = 0; offset < 6; offset += 2) pages += order("graph_id", true, 2, offset);
  CHECK(pages == "cfedba");
  pages.clear();
  for (int offset = 0; offset < 6; offset += 4) pages += order("name", true, 4, offset);
  CHECK(pages == "fedcba");
}

// =============================================================================================
// Threads

STORAGE_TEST(threads_create_get, "threads: create, get, and create of a taken id returns false and changes nothing") {
  Storage& s = backend.storage();
  CHECK_FALSE(s.get_thread("t1").has_value());
  Thread t = make_thread("t1", 1, {{"owner", "alice"}});
  t.config = {{"configurable", {{"user_id", "u1"}}}};
  t.values = {{"messages", json::array()}};
  t.interrupts = {{"task-1", json::array({{{"value", "ask"}, {"id", "i1"}}})}};
  t.status = "interrupted";
  t.error = {{"error", "ValueError"}, {"message", "boom"}};
  CHECK(s.create_thread(t));
  expect_stored(s.get_thread("t1"), t, "t1");

  Thread duplicate = make_thread("t1", 5, {{"owner", "mallory"}});
  CHECK_FALSE(s.create_thread(duplicate));
  expect_stored(s.get_thread("t1"), t, "t1 after a duplicate create");

  const Thread fresh = make_thread("t2", 2);  // defaults: idle, values null, error null
  CHECK(s.create_thread(fresh));
  expect_stored(s.get_thread("t2"), fresh, "t2");
  CHECK(s.get_thread("t2")->values.is_null());
  CHECK(s.get_thread("t2")->error.is_null());
  CHECK(s.count_threads({}) == 2);
}

STORAGE_TEST(threads_update, "threads: update_thread changes the stored thread and sees its current state") {
  Storage& s = backend.storage();
  CHECK_FALSE(s.update_thread("missing", [](Thread&) {}));
  CHECK_FALSE(s.get_thread("missing").has_value());

  Thread t = make_thread("t1", 1, {{"owner", "alice"}});
  REQUIRE(s.create_thread(t));
  std::optional<Thread> seen;
  Thread want;
  CHECK(s.update_thread("t1", [&](Thread& current) {
    seen = current;
    current.status = "busy";
    current.updated_at = ts(30, 123456);
    current.metadata["step"] = 1;
    current.values = {{"messages", {"hello"}}};
    current.config = {{"configurable", {{"k", "v"}}}};
    current.interrupts = {{"n", json::array({1})}};
    current.error = {{"error", "E"}, {"message", "m"}};
    want = current;
  }));
  expect_stored(seen, t, "the thread update_thread passed");
  expect_stored(s.get_thread("t1"), want, "t1 after update");

  // A second update sees the first.
  const Thread after_first = want;
  CHECK(s.update_thread("t1", [&](Thread& current) {
    seen = current;
    current.values = nullptr;
    current.error = nullptr;
    current.status = "idle";
    want = current;
  }));
  expect_stored(seen, after_first, "the thread the second update_thread passed");
  expect_stored(s.get_thread("t1"), want, "t1 after the second update");
  CHECK(s.get_thread("t1")->values.is_null());
}

namespace {
// Adds one to metadata.count (and appends to values.log) of `thread_id`, `times` times, from
// `workers` threads at once; returns the errors met.
std::vector<std::string> increment_concurrently(const std::vector<Storage*>& storages, const std::string& thread_id,
                                                int workers, int times) {
  std::mutex mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      Storage& s = *storages[w % storages.size()];
      for (int i = 0; i < times; ++i) {
        try {
          const bool found = s.update_thread(thread_id, [&](Thread& t) {
            t.metadata["count"] = t.metadata.value("count", 0) + 1;
            t.values["log"].push_back(std::to_string(w) + ":" + std::to_string(i));
          });
          if (!found) {
            std::lock_guard lock(mutex);
            errors.push_back("update_thread returned false");
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          errors.push_back(e.what());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

void check_increments(Storage& s, const std::string& thread_id, int workers, int times,
                      const std::vector<std::string>& errors) {
  CHECK_MESSAGE(errors.empty(), errors.size() << " updates failed, the first: " << (errors.empty() ? "" : errors[0]));
  auto t = s.get_thread(thread_id);
  REQUIRE(t.has_value());
  CHECK(t->metadata.value("count", -1) == workers * times);
  REQUIRE(t->values.contains("log"));
  std::set<std::string> entries;
  for (const auto& e : t->values["log"]) entries.insert(e.get<std::string>());
  CHECK(t->values["log"].size() == static_cast<size_t>(workers * times));
  CHECK(entries.size() == static_cast<size_t>(workers * times));
}
}  // namespace

STORAGE_TEST(threads_update_concurrent, "threads: update_thread from many threads at once loses no update") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1", 1, {{"count", 0}})));
  constexpr int kWorkers = 8, kTimes = 25;
  auto errors = increment_concurrently({&s}, "t1", kWorkers, kTimes);
  check_increments(s, "t1", kWorkers, kTimes, errors);
}

SHARED_STORAGE_TEST(threads_update_shared, "threads: update_thread from several servers at once loses no update") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1", 1, {{"count", 0}})));
  auto second = backend.open_another();
  auto third = backend.open_another();
  constexpr int kWorkers = 6, kTimes = 20;
  auto errors = increment_concurrently({&s, second.get(), third.get()}, "t1", kWorkers, kTimes);
  check_increments(s, "t1", kWorkers, kTimes, errors);
  check_increments(*second, "t1", kWorkers, kTimes, {});
}

STORAGE_TEST(threads_delete, "threads: delete removes the thread with its runs and checkpoints, and nothing else") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1", 1)));
  REQUIRE(s.create_thread(make_thread("t2", 2)));
  s.put_run(make_run("r1", "t1", 1));
  s.put_run(make_run("r1b", "t1", 2, "success"));
  const Run r2 = make_run("r2", "t2", 3);
  s.put_run(r2);
  s.put_checkpoint(make_checkpoint("t1", "cp-1", "r1b", 0));
  const Checkpoint c2 = make_checkpoint("t2", "cp-2", "r2", 0);
  s.put_checkpoint(c2);
  const Item item = make_item({"threads", "t1"}, "k", {{"v", 1}});
  s.put_item(item);
  // A claimed run of the deleted thread is no longer reported once its lease ends.
  auto claimed = s.claim_run("w1", ts(10), ts(20));
  REQUIRE(claimed.has_value());
  CHECK(claimed->run_id == "r1");

  CHECK(s.delete_thread("t1"));
  CHECK_FALSE(s.get_thread("t1").has_value());
  CHECK_FALSE(s.get_run("r1").has_value());
  CHECK_FALSE(s.get_run("r1b").has_value());
  RunQuery rq;
  rq.thread_id = "t1";
  CHECK(s.list_runs(rq).items.empty());
  CHECK(s.list_runs(rq).total == 0);
  CHECK_FALSE(s.latest_checkpoint("t1").has_value());
  CHECK_FALSE(s.get_checkpoint("t1", "cp-1").has_value());
  CHECK(s.list_checkpoints("t1", 10).empty());
  CHECK(keys(s.expired_runs(ts(99))) == "");
  CHECK_FALSE(s.delete_thread("t1"));
  CHECK_FALSE(s.delete_thread("never-existed"));

  // Nothing else is touched.
  expect_stored(s.get_thread("t2"), make_thread("t2", 2), "t2");
  expect_stored(s.get_run("r2"), r2, "r2");
  expect_stored(s.latest_checkpoint("t2"), c2, "t2's checkpoint");
  expect_stored(s.get_item({"threads", "t1"}, "k"), item, "the store item");

  // The id can be used again, empty.
  REQUIRE(s.create_thread(make_thread("t1", 5)));
  CHECK(s.list_runs(rq).total == 0);
  CHECK_FALSE(s.latest_checkpoint("t1").has_value());
  // The run of the other thread is still claimable.
  auto next = s.claim_run("w1", ts(10), ts(20));
  REQUIRE(next.has_value());
  CHECK(next->run_id == "r2");
}

namespace {
std::string thread_ids(Storage& s, ThreadQuery q) {
  q.sort_by = "thread_id";
  q.descending = false;
  q.limit = 100;
  std::string out;
  for (const auto& t : s.search_threads(q).items) out += (out.empty() ? "" : ",") + t.thread_id;
  return out;
}
}  // namespace

STORAGE_TEST(threads_search_filters, "threads: search by ids, status, metadata and values") {
  Storage& s = backend.storage();
  Thread t1 = make_thread("t1", 1, {{"owner", "alice"}, {"tags", {"x", "y"}}, {"info", {{"lang", "en"}, {"level", 3}}}});
  t1.values = {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}, {{"role", "ai"}, {"content", "yo"}}})},
               {"count", 2}};
  Thread t2 = make_thread("t2", 2, {{"owner", "bob"}, {"tags", {"y"}}});
  t2.status = "busy";
  t2.values = {{"count", 3}};
  Thread t3 = make_thread("t3", 3, {{"owner", "alice"}});
  t3.status = "error";  // values null
  Thread t4 = make_thread("t4", 4);
  t4.values = json::object();
  for (const auto& t : {t1, t2, t3, t4}) REQUIRE(s.create_thread(t));

  CHECK(thread_ids(s, {}) == "t1,t2,t3,t4");
  ThreadQuery q;
  q.ids = {"t2", "t3", "nope"};
  CHECK(thread_ids(s, q) == "t2,t3");
  CHECK(s.count_threads(q) == 2);
  q.ids = {"t3", "t3", "t1"};
  CHECK(thread_ids(s, q) == "t1,t3");
  CHECK(s.count_threads(q) == 2);
  q = {};
  q.status = "busy";
  CHECK(thread_ids(s, q) == "t2");
  q.status = "interrupted";
  CHECK(thread_ids(s, q) == "");
  q.status = "idle";
  CHECK(thread_ids(s, q) == "t1,t4");

  q = {};
  q.metadata = {{"owner", "alice"}};
  CHECK(thread_ids(s, q) == "t1,t3");
  q.metadata = {{"tags", {"y"}}};
  CHECK(thread_ids(s, q) == "t1,t2");
  q.metadata = {{"tags", {"y", "x"}}};
  CHECK(thread_ids(s, q) == "t1");
  q.metadata = {{"tags", "y"}};  // a scalar does not match a list
  CHECK(thread_ids(s, q) == "");
  q.metadata = {{"tags", json::array()}};  // any list
  CHECK(thread_ids(s, q) == "t1,t2");
  q.metadata = {{"info", json::object()}};  // any object
  CHECK(thread_ids(s, q) == "t1");
  q.metadata = {{"owner", json::object()}};  // not a string
  CHECK(thread_ids(s, q) == "");
  q.metadata = {{"info", {{"lang", "en"}}}};
  CHECK(thread_ids(s, q) == "t1");
  q.metadata = {{"info", {{"lang", "en"}, {"level", 4}}}};
  CHECK(thread_ids(s, q) == "");
  q.metadata = {{"owner", "alice"}, {"missing", nullptr}};
  CHECK(thread_ids(s, q) == "");
  // Keys come from clients: quotes in them are plain characters.
  q.metadata = {{"owner' OR '1'='1", "x"}};
  CHECK(thread_ids(s, q) == "");
  q.metadata = {{"owner\") OR (\"1\"=\"1", "x"}};
  CHECK(thread_ids(s, q) == "");
  q.metadata = {{"$.owner", "alice"}};
  CHECK(thread_ids(s, q) == "");

  q = {};
  q.values = {{"count", 2}};
  CHECK(thread_ids(s, q) == "t1");
  q.values = {{"messages", json::array({{{"role", "ai"}}})}};  // containment inside a list of objects
  CHECK(thread_ids(s, q) == "t1");
  q.values = {{"messages", json::array({{{"role", "system"}}})}};
  CHECK(thread_ids(s, q) == "");
  q.values = {{"count", 3}};
  CHECK(thread_ids(s, q) == "t2");
  q.values = json::object();  // no condition: threads without values match too
  CHECK(thread_ids(s, q) == "t1,t2,t3,t4");

  q = {};
  q.ids = {"t1", "t2", "t3"};
  q.status = "idle";
  q.metadata = {{"owner", "alice"}};
  q.values = {{"count", 2}};
  CHECK(thread_ids(s, q) == "t1");
  q.values = {{"count", 3}};
  CHECK(thread_ids(s, q) == "");
}

STORAGE_TEST(threads_auth_filter, "threads: auth filter with every operator") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1", 1,
                                      {{"owner", "alice"}, {"team", "red"}, {"tags", {"a", "b"}}, {"n", 1},
                                       {"flag", true}, {"info", {{"k", "v"}}}, {"nullable", nullptr},
                                       {"name", "\u00e9t\u00e9 \"quoted\""}})));
  REQUIRE(s.create_thread(make_thread(
      "t2", 2, {{"owner", "bob"}, {"team", "blue"}, {"tags", {"b", "c"}}, {"n", 2}, {"flag", false}, {"info", {{"k", "v"}, {"x", 1}}}})));
  REQUIRE(s.create_thread(make_thread("t3", 3, {{"owner", "carol"}, {"tags", json::array()}, {"n", "1"}, {"flag", 1}})));
  REQUIRE(s.create_thread(make_thread("t4", 4)));

  const std::vector<std::pair<json, std::string>> cases = {
      {json::object(), "t1,t2,t3,t4"},
      {{{"owner", "alice"}}, "t1"},
      {{{"owner", {{"$eq", "bob"}}}}, "t2"},
      {{{"team", {{"$ne", "red"}}}}, "t2,t3,t4"},  // a missing field is not equal
      {{{"owner", {{"$in", {"alice", "carol", "zed"}}}}}, "t1,t3"},
      {{{"owner", {{"$in", json::array()}}}}, ""},
      {{{"tags", {{"$contains", "b"}}}}, "t1,t2"},
      {{{"tags", {{"$contains", {"a", "b"}}}}}, "t1"},
      {{{"tags", {{"$contains", {"a", "c"}}}}}, ""},
      {{{"owner", {{"$contains", "alice"}}}}, ""},  // not a list
      {{{"$or", {{{"owner", "alice"}}, {{"team", "blue"}}}}}, "t1,t2"},
      {{{"$and", {{{"tags", {{"$contains", "b"}}}}, {{"team", {{"$ne", "red"}}}}}}}, "t2"},
      {{{"$or", {{{"$and", {{{"owner", "alice"}}, {{"n", 1}}}}}, {{"owner", "carol"}}}}}, "t1,t3"},
      {{{"$or", {{{"owner", "nobody"}}}}, {"team", "red"}}, ""},
      {{{"info", {{"k", "v"}}}}, "t1"},  // an object is compared whole, not contained
      {{{"info", {{"$eq", {{"k", "v"}, {"x", 1}}}}}}, "t2"},
      {{{"n", 1}}, "t1"},                // not the string "1"
      {{{"n", 1.0}}, "t1"},              // numbers compare by value
      {{{"n", "1"}}, "t3"},
      {{{"n", {{"$in", {1, 2}}}}}, "t1,t2"},
      {{{"n", {{"$ne", 1}}}}, "t2,t3,t4"},
      {{{"flag", true}}, "t1"},          // not the number 1
      {{{"flag", false}}, "t2"},
      {{{"nullable", nullptr}}, "t1"},   // present and null; t4 has no such key
      {{{"nullable", {{"$ne", nullptr}}}}, "t2,t3,t4"},
      {{{"owner", {{"$ne", "alice"}, {"$in", {"alice", "bob"}}}}}, "t2"},
      {{{"owner", "alice"}, {"team", "blue"}}, ""},
      {{{"name", "\u00e9t\u00e9 \"quoted\""}}, "t1"},
      {{{"owner", "ALICE"}}, ""},
  };
  for (const auto& [filter, want] : cases) {
    REQUIRE_NOTHROW(validate_filter(filter));
    ThreadQuery q;
    q.auth_filter = filter;
    CHECK_MESSAGE(thread_ids(s, q) == want, "auth filter " << filter.dump() << ": got [" << thread_ids(s, q)
                                                           << "], want [" << want << "]");
  }
  // With a metadata query: both apply.
  ThreadQuery q;
  q.metadata = {{"team", "red"}};
  q.auth_filter = {{"owner", "bob"}};
  CHECK(thread_ids(s, q) == "");
  q.auth_filter = {{"owner", "alice"}};
  CHECK(thread_ids(s, q) == "t1");
  CHECK(s.count_threads(q) == 1);
}

STORAGE_TEST(threads_sort_paginate, "threads: sort by thread_id, status, created_at, updated_at both ways; limit, offset, total") {
  Storage& s = backend.storage();
  auto add = [&](const std::string& id, const std::string& status, int created, int updated) {
    Thread t = make_thread(id, created);
    t.status = status;
    t.updated_at = ts(updated);
    REQUIRE(s.create_thread(t));
  };
  add("t-1", "idle", 3, 20);
  add("t-2", "busy", 1, 22);
  add("t-3", "error", 4, 21);
  add("t-4", "interrupted", 2, 23);
  auto order = [&](const std::string& by, bool descending) {
    ThreadQuery q;
    q.sort_by = by;
    q.descending = descending;
    std::string out;
    for (const auto& t : s.search_threads(q).items) out += t.thread_id.substr(2);
    return out;
  };
  CHECK(order("thread_id", false) == "1234");
  CHECK(order("thread_id", true) == "4321");
  CHECK(order("status", false) == "2314");
  CHECK(order("status", true) == "4132");
  CHECK(order("created_at", false) == "2413");
  CHECK(order("created_at", true) == "3142");
  CHECK(order("updated_at", false) == "1324");
  CHECK(order("updated_at", true) == "4231");
  CHECK(order("created_at", true) == order("", true));

  // Pagination over 12 threads in all (the four above and eight more).
  for (int i = 5; i <= 12; ++i) add("t-" + std::string(1, static_cast<char>('a' + i)), "idle", 10 + i, 30 + i);
  ThreadQuery q;  // created_at, newest first, 10 at most
  CHECK(s.count_threads(q) == 12);
  auto page = s.search_threads(q);
  CHECK(page.more);
  CHECK(page.items.size() == 10);
  CHECK(keys(page.items) == "t-m,t-l,t-k,t-j,t-i,t-h,t-g,t-f,t-3,t-1");
  q.limit = 5;
  q.offset = 8;
  page = s.search_threads(q);
  CHECK(keys(page.items) == "t-3,t-1,t-4,t-2");
  CHECK_FALSE(page.more);
  q.offset = 7;  // exactly the last five
  page = s.search_threads(q);
  CHECK(keys(page.items) == "t-f,t-3,t-1,t-4,t-2");
  CHECK_FALSE(page.more);
  q.offset = 6;
  page = s.search_threads(q);
  CHECK(keys(page.items) == "t-g,t-f,t-3,t-1,t-4");
  CHECK(page.more);
  q.offset = 12;
  page = s.search_threads(q);
  CHECK(page.items.empty());
  CHECK_FALSE(page.more);
  q.offset = 0;
  q.limit = 0;
  page = s.search_threads(q);
  CHECK(page.items.empty());
  CHECK(s.count_threads(q) == 12);  // limit and offset do not matter
  q.limit = 3;
  q.status = "idle";
  q.descending = false;
  page = s.search_threads(q);
  CHECK(keys(page.items) == "t-1,t-f,t-g");
  CHECK(page.more);
  CHECK(s.count_threads(q) == 9);
}

STORAGE_TEST(threads_sort_ties, "threads: ties in the sort field follow thread_id in the same direction, pages do not overlap") {
  Storage& s = backend.storage();
  const std::vector<std::tuple<std::string, std::string, int, int>> rows = {
      {"t5", "idle", 2, 9}, {"t2", "busy", 1, 9}, {"t6", "idle", 3, 8}, {"t1", "idle", 2, 8},
      {"t4", "busy", 1, 7}, {"t3", "idle", 3, 7}};
  for (const auto& [id, status, created, updated] : rows) {
    Thread t = make_thread(id, created, {{"owner", "alice"}});
    t.status = status;
    t.updated_at = ts(updated);
    REQUIRE(s.create_thread(t));
  }
  auto order = [&](const std::string& by, bool descending, json auth = json::object(), int limit = 10, int offset = 0) {
    ThreadQuery q;
    q.sort_by = by;
    q.descending = descending;
    q.auth_filter = std::move(auth);
    q.limit = limit;
    q.offset = offset;
    std::string out;
    for (const auto& t : s.search_threads(q).items) out += t.thread_id.substr(1);
    return out;
  };
  for (const json& auth : {json::object(), json{{"owner", "alice"}}}) {
    INFO("auth filter " << auth.dump());
    CHECK(order("status", false, auth) == "241356");
    CHECK(order("status", true, auth) == "653142");
    CHECK(order("created_at", false, auth) == "241536");
    CHECK(order("created_at", true, auth) == "635142");
    CHECK(order("updated_at", false, auth) == "341625");
    CHECK(order("updated_at", true, auth) == "526143");
    std::string pages;
    for (int offset = 0; offset < 6; offset += 4) pages += order("status", true, auth, 4, offset);
    CHECK(pages == "653142");
    pages.clear();
    for (int offset = 0; offset < 6; offset += 2) pages += order("created_at", true, auth, 2, offset);
    CHECK(pages == "635142");
  }
}

STORAGE_TEST(threads_search_follows_changes, "threads: searches follow metadata, status and times changed by update_thread, and deletes") {
  Storage& s = backend.storage();
  for (int i = 1; i <= 6; ++i)
    REQUIRE(s.create_thread(make_thread("t" + std::to_string(i), i,
                                        {{"owner", i % 2 ? "alice" : "bob"}, {"n", i}, {"org", "acme"}})));
  auto search = [&](json auth, json metadata = json::object(), const std::string& by = "created_at",
                    bool descending = true) {
    ThreadQuery q;
    q.auth_filter = std::move(auth);
    q.metadata = std::move(metadata);
    q.sort_by = by;
    q.descending = descending;
    std::string out;
    for (const auto& t : s.search_threads(q).items) out += t.thread_id.substr(1);
    return out + "/" + std::to_string(s.count_threads(q));
  };
  CHECK(search({{"owner", "alice"}}) == "531/3");
  CHECK(search({}, {{"owner", "bob"}}) == "642/3");

  // The owner of t1 changes, t3 loses its owner, t2 gets an extra key.
  REQUIRE(s.update_thread("t1", [](Thread& t) { t.metadata["owner"] = "bob"; }));
  REQUIRE(s.update_thread("t3", [](Thread& t) { t.metadata.erase("owner"); }));
  REQUIRE(s.update_thread("t2", [](Thread& t) { t.metadata["team"] = "red"; }));
  CHECK(search({{"owner", "alice"}}) == "5/1");
  CHECK(search({}, {{"owner", "alice"}}) == "5/1");
  CHECK(search({{"owner", "bob"}}) == "6421/4");
  CHECK(search({}, {{"owner", "bob"}}) == "6421/4");
  CHECK(search({{"team", "red"}}) == "2/1");
  CHECK(search({{"owner", {{"$ne", "bob"}}}}) == "53/2");
  CHECK(search({{"org", "acme"}}) == "654321/6");

  // Numbers compare by value: 1.0 is 1.
  CHECK(search({{"n", 1.0}}) == "1/1");
  CHECK(search({}, {{"n", 1.0}}) == "1/1");
  CHECK(search({{"n", {{"$in", {2.0, 4}}}}}) == "42/2");
  REQUIRE(s.update_thread("t4", [](Thread& t) { t.metadata["n"] = 4.5; }));
  CHECK(search({{"n", 4}}) == "/0");
  CHECK(search({{"n", 4.5}}) == "4/1");

  // Times and status changed by an update reorder the results.
  REQUIRE(s.update_thread("t1", [](Thread& t) {
    t.created_at = ts(100);
    t.updated_at = ts(100);
    t.status = "busy";
  }));
  CHECK(search({{"owner", "bob"}}) == "1642/4");
  CHECK(search({{"owner", "bob"}}, json::object(), "updated_at", false) == "2461/4");
  CHECK(search({{"owner", "bob"}}, json::object(), "status", false) == "1246/4");
  ThreadQuery busy;
  busy.status = "busy";
  CHECK(keys(s.search_threads(busy).items) == "t1");

  // Deleted threads are gone from every search; a new thread under an old id starts afresh.
  REQUIRE(s.delete_thread("t6"));
  REQUIRE(s.delete_thread("t1"));
  CHECK(search({{"owner", "bob"}}) == "42/2");
  CHECK(search({}, {{"owner", "bob"}}) == "42/2");
  CHECK(search({{"org", "acme"}}) == "5432/4");
  REQUIRE(s.create_thread(make_thread("t1", 50, {{"owner", "carol"}})));
  CHECK(search({{"owner", "bob"}}) == "42/2");
  CHECK(search({{"owner", "carol"}}) == "1/1");
  CHECK(search({{"org", "acme"}}) == "5432/4");
}

STORAGE_TEST(largest_limits, "searches and lists take the largest limit and offset the API passes") {
  Storage& s = backend.storage();
  constexpr int kMax = INT32_MAX;
  for (int i = 1; i <= 3; ++i) {
    const std::string id = std::to_string(i);
    s.put_assistant(make_assistant("a" + id, 1, i));
    REQUIRE(s.create_thread(make_thread("t" + id, i)));
    s.put_run(make_run("r" + id, "t1", i, "success"));
    s.put_checkpoint(make_checkpoint("t1", "cp-" + id, "r1", i));
    s.put_item(make_item({"ns"}, "k" + id, json::object(), i));
  }
  AssistantQuery aq;
  aq.limit = kMax;
  CHECK(keys(s.search_assistants(aq).items) == "a3@v1,a2@v1,a1@v1");
  aq.offset = kMax;
  CHECK(s.search_assistants(aq).items.empty());
  CHECK(s.search_assistants(aq).total == 3);
  ThreadQuery tq;
  tq.limit = kMax;
  CHECK(keys(s.search_threads(tq).items) == "t3,t2,t1");
  tq.offset = kMax;
  CHECK(s.search_threads(tq).items.empty());
  CHECK(s.count_threads(tq) == 3);
  RunQuery rq;
  rq.thread_id = "t1";
  rq.limit = kMax;
  CHECK(keys(s.list_runs(rq).items) == "r3,r2,r1");
  rq.offset = kMax;
  CHECK(s.list_runs(rq).items.empty());
  CHECK(s.list_runs(rq).total == 3);
  CHECK(keys(s.list_checkpoints("t1", kMax)) == "cp-3,cp-2,cp-1");
  ItemQuery iq;
  iq.limit = kMax;
  CHECK(keys(s.search_items(iq)) == R"(["ns"]/k3,["ns"]/k2,["ns"]/k1)");
  iq.offset = kMax;
  CHECK(s.search_items(iq).empty());
  NamespaceQuery nq;
  nq.limit = kMax;
  CHECK(namespaces_text(s.list_namespaces(nq)) == R"([["ns"]])");
  nq.offset = kMax;
  CHECK(namespaces_text(s.list_namespaces(nq)) == "[]");
}

STORAGE_TEST(threads_create_concurrent, "threads: of many creates of one id at once, exactly one succeeds") {
  Storage& s = backend.storage();
  constexpr int kWorkers = 8;
  std::atomic<int> created{0};
  std::mutex mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      try {
        if (s.create_thread(make_thread("t1", w, {{"creator", w}}))) ++created;
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        errors.push_back(e.what());
      }
    });
  }
  for (auto& t : workers) t.join();
  CHECK_MESSAGE(errors.empty(), errors.size() << " creates failed, the first: " << (errors.empty() ? "" : errors[0]));
  CHECK(created == 1);
  auto t = s.get_thread("t1");
  REQUIRE(t.has_value());
  const int creator = t->metadata.value("creator", -1);
  CHECK(t->created_at == ts(creator));
  CHECK(s.count_threads({}) == 1);
}

// =============================================================================================
// Runs

STORAGE_TEST(runs_put_get_update, "runs: put, get, put again replaces, update_run changes every field") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  CHECK_FALSE(s.get_run("r1").has_value());
  CHECK_FALSE(s.update_run("r1", [](Run&) {}));

  Run r = make_run("r1", "t1", 1);
  r.cancel = "";
  r.output = nullptr;
  r.error = nullptr;
  s.put_run(r);
  expect_stored(s.get_run("r1"), r, "r1");
  CHECK(s.get_run("r1")->output.is_null());

  Run replaced = r;
  replaced.status = "error";
  replaced.metadata = {{"replaced", true}};
  replaced.updated_at = ts(9);
  s.put_run(replaced);
  expect_stored(s.get_run("r1"), replaced, "r1 put again");

  std::optional<Run> seen;
  Run want;
  CHECK(s.update_run("r1", [&](Run& current) {
    seen = current;
    current.status = "success";
    current.output = {{"messages", {"done"}}};
    current.error = {{"error", "E"}, {"message", "m"}};
    current.cancel = "rollback";
    current.updated_at = ts(10, 999999);
    current.metadata["k"] = "v";
    current.kwargs["extra"] = json::array({1, 2});
    current.multitask_strategy = "interrupt";
    current.ready_at = ts(11);
    current.assistant_id = "asst-2";
    want = current;
  }));
  expect_stored(seen, replaced, "the run update_run passed");
  expect_stored(s.get_run("r1"), want, "r1 after update");
  CHECK(s.get_run("r1")->finished());
}

STORAGE_TEST(runs_end_with_thread, "runs: end_run changes the run and its thread together, or neither") {
  Storage& s = backend.storage();
  Thread thread = make_thread("t1", 1, {{"owner", "alice"}});
  thread.status = "busy";
  REQUIRE(s.create_thread(thread));
  s.put_run(make_run("r1", "t1", 1, "running"));
  auto end_as_error = [](Run& r) {
    if (r.status != "running") return false;
    r.status = "error";
    r.error = {{"error", "ServerStopped"}};
    r.updated_at = ts(20);
    return true;
  };
  auto thread_error = [](Thread& t) {
    t.status = "error";
    t.error = {{"error", "ServerStopped"}};
    t.values = {{"messages", json::array({"kept"})}};
    t.updated_at = ts(20);
  };

  CHECK(s.end_run("t1", "r1", end_as_error, thread_error));
  const Run run = *s.get_run("r1");
  CHECK(run.status == "error");
  CHECK(run.error == json{{"error", "ServerStopped"}});
  CHECK(run.updated_at == ts(20));
  Thread want = thread;
  thread_error(want);
  expect_stored(s.get_thread("t1"), want, "t1 after its run ended");
  // Still found by its metadata: the thread's index rows were kept.
  ThreadQuery mine;
  mine.metadata = {{"owner", "alice"}};
  CHECK(s.search_threads(mine).items.size() == 1);

  // Declined (the run is no longer running): neither record changes.
  bool thread_changed = false;
  CHECK_FALSE(s.end_run("t1", "r1", end_as_error, [&](Thread& t) {
    thread_changed = true;
    t.status = "idle";
  }));
  CHECK_FALSE(thread_changed);
  expect_stored(s.get_run("r1"), run, "r1 after a declined end");
  expect_stored(s.get_thread("t1"), want, "t1 after a declined end");

  // A run whose thread is gone still ends; an unknown run is false.
  s.put_run(make_run("r2", "no-such-thread", 2, "running"));
  CHECK(s.end_run("no-such-thread", "r2", end_as_error, [](Thread&) { FAIL("no thread to change"); }));
  CHECK(s.get_run("r2")->status == "error");
  CHECK_FALSE(s.end_run("t1", "no-such-run", end_as_error, [](Thread&) { FAIL("no run to end"); }));
}

STORAGE_TEST(runs_update_concurrent, "runs: update_run from many threads at once loses no update") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  s.put_run(make_run("r1", "t1", 1, "running"));
  constexpr int kWorkers = 8, kTimes = 25;
  std::mutex mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < kTimes; ++i) {
        try {
          if (!s.update_run("r1", [](Run& r) { r.metadata["count"] = r.metadata.value("count", 0) + 1; }))
            throw std::runtime_error("update_run returned false");
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          errors.push_back(e.what());
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  CHECK_MESSAGE(errors.empty(), errors.size() << " updates failed, the first: " << (errors.empty() ? "" : errors[0]));
  CHECK(s.get_run("r1")->metadata.value("count", -1) == kWorkers * kTimes);
}

STORAGE_TEST(runs_list_delete, "runs: list by thread and status, newest first, limit, offset, total; delete") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  REQUIRE(s.create_thread(make_thread("t2")));
  const std::vector<std::string> statuses = {"success", "error", "success", "pending", "running", "success"};
  for (int i = 0; i < 6; ++i) s.put_run(make_run("r" + std::to_string(i), "t1", 10 + i, statuses[i]));
  s.put_run(make_run("other", "t2", 100, "success"));

  RunQuery q;
  q.thread_id = "t1";
  auto page = s.list_runs(q);
  CHECK(keys(page.items) == "r5,r4,r3,r2,r1,r0");
  CHECK(page.total == 6);
  expect_same(page.items[0], make_run("r5", "t1", 15, "success"), "listed r5");
  q.status = "success";
  page = s.list_runs(q);
  CHECK(keys(page.items) == "r5,r2,r0");
  CHECK(page.total == 3);
  q.limit = 1;
  q.offset = 1;
  page = s.list_runs(q);
  CHECK(keys(page.items) == "r2");
  CHECK(page.total == 3);
  q.status.reset();
  q.limit = 4;
  q.offset = 3;
  page = s.list_runs(q);
  CHECK(keys(page.items) == "r2,r1,r0");
  CHECK(page.total == 6);
  q.offset = 6;
  CHECK(s.list_runs(q).items.empty());
  q.offset = 0;
  q.limit = 0;
  CHECK(s.list_runs(q).items.empty());
  CHECK(s.list_runs(q).total == 6);
  q = {};
  q.thread_id = "t2";
  CHECK(keys(s.list_runs(q).items) == "other");
  q.thread_id = "nope";
  CHECK(s.list_runs(q).total == 0);

  CHECK(s.delete_run("r3"));
  CHECK_FALSE(s.get_run("r3").has_value());
  CHECK_FALSE(s.delete_run("r3"));
  CHECK_FALSE(s.delete_run("never-existed"));
  q = {};
  q.thread_id = "t1";
  CHECK(keys(s.list_runs(q).items) == "r5,r4,r2,r1,r0");
  CHECK(s.get_thread("t1").has_value());
  CHECK(s.get_run("other").has_value());
}

STORAGE_TEST(runs_same_time, "runs: runs created at the same time list newest run_id first, as the list's order") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  for (const auto* id : {"r-c", "r-a", "r-d", "r-b"}) s.put_run(make_run(id, "t1", 5));
  s.put_run(make_run("r-0", "t1", 6));
  s.put_run(make_run("r-z", "t1", 4));
  RunQuery q;
  q.thread_id = "t1";
  CHECK(keys(s.list_runs(q).items) == "r-0,r-d,r-c,r-b,r-a,r-z");
  q.limit = 2;
  q.offset = 2;
  CHECK(keys(s.list_runs(q).items) == "r-c,r-b");
}

STORAGE_TEST(runs_outlive_assistant, "runs: deleting the assistant a run used keeps the run") {
  Storage& s = backend.storage();
  s.put_assistant(make_assistant("asst-1"));
  REQUIRE(s.create_thread(make_thread("t1")));
  const Run r = make_run("r1", "t1", 1, "success");
  s.put_run(r);
  CHECK(s.delete_assistant("asst-1"));
  expect_stored(s.get_run("r1"), r, "r1");
}

// =============================================================================================
// The run queue

STORAGE_TEST(queue_claim_order, "queue: claim_run takes the earliest ready_at first, never before it") {
  Storage& s = backend.storage();
  for (const auto* id : {"t1", "t2", "t3", "t4", "t5"}) REQUIRE(s.create_thread(make_thread(id)));
  CHECK_FALSE(s.claim_run("w1", ts(1000), ts(2000)).has_value());  // nothing at all

  Run late = make_run("r-late", "t1", 1);
  late.ready_at = ts(30);
  Run early = make_run("r-early", "t2", 5);
  early.ready_at = ts(10);
  Run earlier_created = make_run("r-tie", "t3", 4);  // same ready_at, created earlier
  earlier_created.ready_at = ts(10);
  for (const auto& r : {late, early, earlier_created}) s.put_run(r);
  for (const auto* status : {"success", "error", "timeout", "interrupted"}) {
    Run done = make_run(std::string("r-") + status, "t4", 0, status);
    done.ready_at = ts(0);
    s.put_run(done);
  }

  CHECK_FALSE(s.claim_run("w1", ts(9, 999999), ts(100)).has_value());  // none ready yet

  auto first = s.claim_run("w1", ts(10), ts(100));  // ready_at == now: ready
  REQUIRE(first.has_value());
  Run want = earlier_created;
  want.status = "running";
  want.updated_at = ts(10);
  expect_same(*first, want, "the first claimed run");
  expect_stored(s.get_run("r-tie"), want, "r-tie once claimed");

  auto second = s.claim_run("w2", ts(11), ts(100));
  REQUIRE(second.has_value());
  CHECK(second->run_id == "r-early");
  CHECK(second->status == "running");
  CHECK(second->updated_at == ts(11));
  CHECK(s.get_run("r-early")->status == "running");

  CHECK_FALSE(s.claim_run("w1", ts(29), ts(100)).has_value());
  auto third = s.claim_run("w1", ts(31), ts(100));
  REQUIRE(third.has_value());
  CHECK(third->run_id == "r-late");
  CHECK_FALSE(s.claim_run("w1", ts(3000), ts(4000)).has_value());  // finished runs are never claimed
  for (const auto* status : {"success", "error", "timeout", "interrupted"})
    CHECK(s.get_run(std::string("r-") + status)->status == status);
}

STORAGE_TEST(queue_busy_thread, "queue: claim_run never starts a second run of a thread that has a running one") {
  Storage& s = backend.storage();
  for (const auto* id : {"ta", "tb", "tc"}) REQUIRE(s.create_thread(make_thread(id)));
  s.put_run(make_run("a1", "ta", 1, "running"));
  s.put_run(make_run("a2", "ta", 2));
  s.put_run(make_run("b1", "tb", 3));

  auto claimed = s.claim_run("w", ts(100), ts(200));
  REQUIRE(claimed.has_value());
  CHECK(claimed->run_id == "b1");  // a2 is older, but ta is busy
  CHECK_FALSE(s.claim_run("w", ts(100), ts(200)).has_value());
  CHECK(s.get_run("a2")->status == "pending");

  REQUIRE(s.update_run("a1", [](Run& r) { r.status = "success"; }));
  claimed = s.claim_run("w", ts(101), ts(200));
  REQUIRE(claimed.has_value());
  CHECK(claimed->run_id == "a2");

  // Two pending runs of one thread: one at a time, in order.
  s.put_run(make_run("c1", "tc", 10));
  s.put_run(make_run("c2", "tc", 11));
  claimed = s.claim_run("w", ts(102), ts(200));
  REQUIRE(claimed.has_value());
  CHECK(claimed->run_id == "c1");
  CHECK_FALSE(s.claim_run("w", ts(102), ts(200)).has_value());
  REQUIRE(s.update_run("c1", [](Run& r) { r.status = "error"; }));
  claimed = s.claim_run("w", ts(103), ts(200));
  REQUIRE(claimed.has_value());
  CHECK(claimed->run_id == "c2");
  CHECK_FALSE(s.claim_run("w", ts(104), ts(200)).has_value());
}

namespace {
// Claims from `storages` on `workers` threads until nothing is left; returns every claim.
std::vector<std::string> claim_concurrently(const std::vector<Storage*>& storages, int workers,
                                            std::vector<std::string>& errors) {
  std::mutex mutex;
  std::vector<std::string> claimed;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      Storage& s = *storages[w % storages.size()];
      const std::string worker = "worker-" + std::to_string(w);
      for (int misses = 0; misses < 3;) {
        try {
          auto run = s.claim_run(worker, ts(1000), ts(2000));
          std::lock_guard lock(mutex);
          if (run) {
            claimed.push_back(run->run_id);
            if (run->status != "running") errors.push_back(run->run_id + " claimed with status " + run->status);
            misses = 0;
          } else {
            ++misses;
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          errors.push_back(e.what());
          ++misses;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return claimed;
}

void check_claimed_once(Storage& s, const std::vector<Storage*>& storages) {
  constexpr int kThreads = 30;
  for (int i = 0; i < kThreads; ++i) {
    REQUIRE(s.create_thread(make_thread("t" + std::to_string(i))));
    s.put_run(make_run("r" + std::to_string(i), "t" + std::to_string(i), i % 7));
  }
  // Five runs of one thread: only one of them may run.
  REQUIRE(s.create_thread(make_thread("shared-thread")));
  for (int i = 0; i < 5; ++i) s.put_run(make_run("same" + std::to_string(i), "shared-thread", 50 + i));

  std::vector<std::string> errors;
  auto claimed = claim_concurrently(storages, 6, errors);
  CHECK_MESSAGE(errors.empty(), errors.size() << " claims failed, the first: " << (errors.empty() ? "" : errors[0]));
  std::map<std::string, int> times;
  for (const auto& id : claimed) ++times[id];
  int same = 0;
  for (const auto& [id, n] : times) {
    CHECK_MESSAGE(n == 1, id << " was claimed " << n << " times");
    if (id.rfind("same", 0) == 0) ++same;
  }
  for (int i = 0; i < kThreads; ++i) {
    const std::string id = "r" + std::to_string(i);
    CHECK_MESSAGE(times.count(id) == 1, id << " was never claimed");
    CHECK(s.get_run(id)->status == "running");
  }
  CHECK_MESSAGE(same == 1, same << " runs of one thread were claimed at once");
  CHECK(claimed.size() == static_cast<size_t>(kThreads + 1));
}
}  // namespace

STORAGE_TEST(queue_claim_contention, "queue: under contention from several threads each run is claimed once") {
  Storage& s = backend.storage();
  check_claimed_once(s, {&s});
}

SHARED_STORAGE_TEST(queue_claim_shared, "queue: several servers claiming at once claim each run once") {
  Storage& s = backend.storage();
  auto second = backend.open_another();
  auto third = backend.open_another();
  check_claimed_once(s, {&s, second.get(), third.get()});
}

STORAGE_TEST(queue_leases, "queue: leases end, renew_leases extends a worker's, expired_runs reports the ended") {
  Storage& s = backend.storage();
  for (const auto* id : {"t1", "t2", "t3", "t4"}) REQUIRE(s.create_thread(make_thread(id)));
  s.put_run(make_run("r1", "t1", 1));
  s.put_run(make_run("r2", "t2", 2));
  s.put_run(make_run("r3", "t3", 3));

  auto r1 = s.claim_run("w1", ts(10), ts(100));
  auto r2 = s.claim_run("w2", ts(10), ts(50));
  auto r3 = s.claim_run("w1", ts(10), ts(100));
  REQUIRE(r1.has_value());
  REQUIRE(r2.has_value());
  REQUIRE(r3.has_value());
  CHECK(r1->run_id == "r1");
  CHECK(r2->run_id == "r2");
  CHECK(r3->run_id == "r3");

  CHECK(key_set(s.expired_runs(ts(10))) == "");
  CHECK(key_set(s.expired_runs(ts(50))) == "");  // ends at 50: not before 50
  auto expired = s.expired_runs(ts(51));
  CHECK(key_set(expired) == "r2");
  REQUIRE(expired.size() == 1);
  expect_stored(s.get_run("r2"), expired[0], "the expired run");

  s.renew_leases("w2", ts(200));
  CHECK(key_set(s.expired_runs(ts(51))) == "");
  CHECK(key_set(s.expired_runs(ts(150))) == "r1,r3");
  CHECK(key_set(s.expired_runs(ts(201))) == "r1,r2,r3");
  s.renew_leases("w1", ts(300));
  CHECK(key_set(s.expired_runs(ts(250))) == "r2");
  s.renew_leases("nobody", ts(900));
  CHECK(key_set(s.expired_runs(ts(301))) == "r1,r2,r3");

  // A finished run is never reported; changing a running run keeps its lease.
  REQUIRE(s.update_run("r1", [](Run& r) { r.status = "success"; }));
  REQUIRE(s.update_run("r3", [](Run& r) { r.cancel = "interrupt"; r.updated_at = ts(60); }));
  CHECK(key_set(s.expired_runs(ts(250))) == "r2");
  CHECK(key_set(s.expired_runs(ts(999))) == "r2,r3");
  Run r3_again = *s.get_run("r3");
  r3_again.metadata["put"] = "again";
  s.put_run(r3_again);  // a run stored again keeps its lease
  CHECK(key_set(s.expired_runs(ts(250))) == "r2");
  s.renew_leases("w1", ts(400));
  CHECK(key_set(s.expired_runs(ts(350))) == "r2");

  // A requeued run claimed by another worker is leased to that worker only.
  REQUIRE(s.update_run("r2", [](Run& r) { r.status = "pending"; }));
  CHECK(key_set(s.expired_runs(ts(999))) == "r3");
  auto again = s.claim_run("w3", ts(300), ts(500));
  REQUIRE(again.has_value());
  CHECK(again->run_id == "r2");
  s.renew_leases("w2", ts(5000));
  CHECK(key_set(s.expired_runs(ts(501))) == "r2,r3");
  s.renew_leases("w3", ts(5000));
  CHECK(key_set(s.expired_runs(ts(501))) == "r3");

  // A running run that was never claimed has no lease: it is reported (as a server does at
  // start for every running run it finds).
  s.put_run(make_run("r4", "t4", 4, "running"));
  CHECK(key_set(s.expired_runs(ts(0))) == "r4");
  CHECK(key_set(s.expired_runs("9999-12-31T23:59:59.999999+00:00")) == "r2,r3,r4");
}

// =============================================================================================
// Checkpoints

STORAGE_TEST(checkpoints_put_get_latest, "checkpoints: put replaces the same id, get, latest is the greatest id") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  REQUIRE(s.create_thread(make_thread("t2")));
  CHECK_FALSE(s.latest_checkpoint("t1").has_value());
  CHECK_FALSE(s.get_checkpoint("t1", "cp-1").has_value());

  const Checkpoint c1 = make_checkpoint("t1", "cp-1", "r1", -1);
  const Checkpoint c3 = make_checkpoint("t1", "cp-3", "r1", 1, "cp-2");
  const Checkpoint c2 = make_checkpoint("t1", "cp-2", "r1", 0, "cp-1");
  s.put_checkpoint(c1);
  expect_stored(s.latest_checkpoint("t1"), c1, "latest of one");
  s.put_checkpoint(c3);
  s.put_checkpoint(c2);  // put last, but not the latest
  expect_stored(s.latest_checkpoint("t1"), c3, "latest");
  expect_stored(s.get_checkpoint("t1", "cp-1"), c1, "cp-1");
  expect_stored(s.get_checkpoint("t1", "cp-2"), c2, "cp-2");
  CHECK_FALSE(s.get_checkpoint("t1", "cp-9").has_value());
  CHECK_FALSE(s.get_checkpoint("t2", "cp-1").has_value());

  Checkpoint c2b = c2;
  c2b.values = {{"replaced", true}};
  c2b.next = {};
  c2b.tasks = json::array();
  c2b.pending_writes = {{"node", {{"x", 1}}}};
  c2b.resumes = {{"node", json::array({"yes"})}};
  c2b.metadata["writes"] = {{"node", nullptr}};
  c2b.created_at = ts(500);
  s.put_checkpoint(c2b);
  expect_stored(s.get_checkpoint("t1", "cp-2"), c2b, "cp-2 replaced");
  CHECK(s.list_checkpoints("t1", 10).size() == 3);

  // Ids are per thread: the same id on another thread is another checkpoint.
  const Checkpoint other = make_checkpoint("t2", "cp-2", "r9", 7);
  s.put_checkpoint(other);
  expect_stored(s.get_checkpoint("t2", "cp-2"), other, "t2's cp-2");
  expect_stored(s.get_checkpoint("t1", "cp-2"), c2b, "t1's cp-2 beside t2's");
  expect_stored(s.latest_checkpoint("t2"), other, "t2's latest");
  expect_stored(s.latest_checkpoint("t1"), c3, "t1's latest beside t2's");
}

STORAGE_TEST(checkpoints_list, "checkpoints: list newest first with limit, before and a metadata filter") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  REQUIRE(s.create_thread(make_thread("t2")));
  std::vector<Checkpoint> all;
  for (int i = 1; i <= 6; ++i) {
    Checkpoint c = make_checkpoint("t1", "cp-" + std::to_string(i), i <= 3 ? "ra" : "rb", i - 2);
    c.metadata["source"] = i % 2 ? "loop" : "update";
    c.metadata["writes"] = {{"node", {{"n", i}}}};
    all.push_back(c);
  }
  for (int i : {4, 1, 6, 2, 5, 3}) s.put_checkpoint(all[i - 1]);
  s.put_checkpoint(make_checkpoint("t2", "cp-7", "rc", 0));

  expect_same_list(s.list_checkpoints("t1", 10), {all[5], all[4], all[3], all[2], all[1], all[0]}, "all of t1");
  CHECK(keys(s.list_checkpoints("t1", 2)) == "cp-6,cp-5");
  CHECK(keys(s.list_checkpoints("t1", 0)) == "");
  CHECK(keys(s.list_checkpoints("t1", 10, "cp-4")) == "cp-3,cp-2,cp-1");
  CHECK(keys(s.list_checkpoints("t1", 2, "cp-4")) == "cp-3,cp-2");
  CHECK(keys(s.list_checkpoints("t1", 10, "cp-1")) == "");
  CHECK(keys(s.list_checkpoints("t1", 10, "cp-35")) == "cp-3,cp-2,cp-1");  // ids compare in order
  CHECK(keys(s.list_checkpoints("t1", 10, "", {{"run_id", "ra"}})) == "cp-3,cp-2,cp-1");
  CHECK(keys(s.list_checkpoints("t1", 10, "", {{"source", "update"}})) == "cp-6,cp-4,cp-2");
  CHECK(keys(s.list_checkpoints("t1", 1, "", {{"source", "update"}})) == "cp-6");  // limit after the filter
  CHECK(keys(s.list_checkpoints("t1", 10, "cp-6", {{"source", "update"}, {"run_id", "rb"}})) == "cp-4");
  CHECK(keys(s.list_checkpoints("t1", 10, "", {{"writes", {{"node", {{"n", 5}}}}}})) == "cp-5");  // nested
  CHECK(keys(s.list_checkpoints("t1", 10, "", {{"source", "nope"}})) == "");
  CHECK(keys(s.list_checkpoints("t2", 10)) == "cp-7");
  CHECK(keys(s.list_checkpoints("t3", 10)) == "");
}

STORAGE_TEST(checkpoints_delete_of_run, "checkpoints: delete_checkpoints_of_run removes only that run's, on that thread") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  REQUIRE(s.create_thread(make_thread("t2")));
  s.put_checkpoint(make_checkpoint("t1", "cp-1", "ra", 0));
  s.put_checkpoint(make_checkpoint("t1", "cp-2", "rb", 1));
  s.put_checkpoint(make_checkpoint("t1", "cp-3", "rb", 2));
  Checkpoint no_run = make_checkpoint("t1", "cp-4", "", 3);
  no_run.metadata.erase("run_id");
  s.put_checkpoint(no_run);
  s.put_checkpoint(make_checkpoint("t2", "cp-5", "rb", 0));  // the same run id on another thread

  s.delete_checkpoints_of_run("t1", "rb");
  CHECK(keys(s.list_checkpoints("t1", 10)) == "cp-4,cp-1");
  CHECK(keys(s.list_checkpoints("t2", 10)) == "cp-5");
  s.delete_checkpoints_of_run("t1", "nobody");
  s.delete_checkpoints_of_run("t9", "ra");
  CHECK(keys(s.list_checkpoints("t1", 10)) == "cp-4,cp-1");
  s.delete_checkpoints_of_run("t1", "ra");
  CHECK(keys(s.list_checkpoints("t1", 10)) == "cp-4");
  expect_stored(s.latest_checkpoint("t1"), no_run, "the checkpoint without a run");
}

// =============================================================================================
// Store items

STORAGE_TEST(items_put_get_delete, "items: put keeps created_at and updates the rest, get, delete") {
  Storage& s = backend.storage();
  CHECK_FALSE(s.get_item({"a"}, "k").has_value());
  const Item first = make_item({"a", "b"}, "k", {{"v", 1}, {"list", {1, 2}}}, 10, 10);
  s.put_item(first);
  expect_stored(s.get_item({"a", "b"}, "k"), first, "the item");

  Item second = make_item({"a", "b"}, "k", {{"v", 2}}, 20, 25);  // created_at 20 is ignored
  s.put_item(second);
  Item want = second;
  want.created_at = first.created_at;
  expect_stored(s.get_item({"a", "b"}, "k"), want, "the item put again");

  // Namespaces are paths: these are all other items.
  CHECK_FALSE(s.get_item({"a"}, "k").has_value());
  CHECK_FALSE(s.get_item({"a", "b", "k"}, "k").has_value());
  CHECK_FALSE(s.get_item({"ab"}, "k").has_value());
  CHECK_FALSE(s.get_item({"a", "b"}, "K").has_value());
  const Item joined = make_item({"ab"}, "k", {{"joined", true}}, 30);
  const Item nested = make_item({"a", "b", "k"}, "k", {{"nested", true}}, 31);
  const Item top = make_item({"a"}, "b", {{"top", true}}, 32);
  for (const auto& i : {joined, nested, top}) s.put_item(i);
  expect_stored(s.get_item({"ab"}, "k"), joined, "item in ab");
  expect_stored(s.get_item({"a", "b", "k"}, "k"), nested, "item in a/b/k");
  expect_stored(s.get_item({"a"}, "b"), top, "item in a");
  expect_stored(s.get_item({"a", "b"}, "k"), want, "item in a/b beside the others");

  CHECK(s.delete_item({"a", "b"}, "k"));
  CHECK_FALSE(s.get_item({"a", "b"}, "k").has_value());
  CHECK_FALSE(s.delete_item({"a", "b"}, "k"));
  CHECK_FALSE(s.delete_item({"nope"}, "k"));
  expect_stored(s.get_item({"ab"}, "k"), joined, "item in ab after the delete");
  expect_stored(s.get_item({"a", "b", "k"}, "k"), nested, "item in a/b/k after the delete");

  // Put after a delete: a new item, with its own created_at.
  const Item reborn = make_item({"a", "b"}, "k", {{"v", 3}}, 40, 41);
  s.put_item(reborn);
  expect_stored(s.get_item({"a", "b"}, "k"), reborn, "the item put after its delete");
}

STORAGE_TEST(items_put_concurrent, "items: many puts of one item at once keep one item with the first created_at") {
  Storage& s = backend.storage();
  s.put_item(make_item({"ns"}, "k", {{"v", -1}}, 1, 1));
  constexpr int kWorkers = 8, kTimes = 10;
  std::mutex mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kTimes; ++i) {
        try {
          s.put_item(make_item({"ns"}, "k", {{"v", w * kTimes + i}}, 100 + w, 100 + w));
          s.put_item(make_item({"ns", std::to_string(w)}, "k" + std::to_string(i), {{"v", i}}, 100 + w, 100 + w));
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          errors.push_back(e.what());
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  CHECK_MESSAGE(errors.empty(), errors.size() << " puts failed, the first: " << (errors.empty() ? "" : errors[0]));
  auto item = s.get_item({"ns"}, "k");
  REQUIRE(item.has_value());
  CHECK(item->created_at == ts(1));
  ItemQuery q;
  q.limit = 1000;
  CHECK(s.search_items(q).size() == 1 + kWorkers * kTimes);
  NamespaceQuery nq;
  CHECK(s.list_namespaces(nq).size() == 1 + kWorkers);
}

namespace {
// Text that does not compress (long keys must not rely on compression to fit an index).
std::string incompressible(size_t length, unsigned seed) {
  std::mt19937 random(seed);
  std::string out;
  while (out.size() < length) out += static_cast<char>('!' + random() % 90);
  return out;
}
}  // namespace

STORAGE_TEST(items_long_keys, "items: the longest keys and namespaces the API accepts, a large value") {
  Storage& s = backend.storage();
  unsigned seed = 1;
  auto text = [&](size_t length) { return incompressible(length, seed++); };
  // The API takes keys of up to 1 KB and namespaces of up to 1 KB (core/api/store.cpp).
  const std::string key = text(1024);
  const std::vector<std::string> ns = {text(512), text(512)};
  const Item item = make_item(ns, key, {{"blob", text(200000)}, {"owner", "alice"}}, 1, 2);
  s.put_item(item);
  expect_stored(s.get_item(ns, key), item, "the item with long names");
  ItemQuery q;
  q.namespace_prefix = {ns[0]};
  q.value_filter = {{"owner", "alice"}};
  CHECK(s.search_items(q).size() == 1);
  NamespaceQuery nq;
  nq.max_depth = 1;
  CHECK(namespaces_text(s.list_namespaces(nq)) == json({std::vector<std::string>{ns[0]}}).dump());
  CHECK(s.delete_item(ns, key));
  CHECK_FALSE(s.get_item(ns, key).has_value());
}

STORAGE_TEST(threads_long_values, "threads: metadata values of kilobytes are searched like short ones") {
  Storage& s = backend.storage();
  unsigned seed = 100;
  auto text = [&](size_t length) { return incompressible(length, seed++); };
  const std::string long_owner = text(5000);
  REQUIRE(s.create_thread(make_thread("t1", 1, {{"owner", long_owner}, {"notes", text(100000)}})));
  REQUIRE(s.create_thread(make_thread("t2", 2, {{"owner", "bob"}})));
  ThreadQuery tq;
  tq.auth_filter = {{"owner", long_owner}};
  CHECK(keys(s.search_threads(tq).items) == "t1");
  tq = {};
  tq.metadata = {{"owner", long_owner}};
  CHECK(keys(s.search_threads(tq).items) == "t1");
}

STORAGE_TEST(items_search, "items: search by namespace prefix, value filter and auth filter, newest first, limit, offset") {
  Storage& s = backend.storage();
  s.put_item(make_item({"users", "alice", "notes"}, "n1", {{"owner", "alice"}, {"topic", "food"}, {"tags", {"a", "b"}}}, 1, 10));
  s.put_item(make_item({"users", "alice", "notes"}, "n2", {{"owner", "alice"}, {"topic", "work"}}, 2, 12));
  s.put_item(make_item({"users", "alice"}, "profile", {{"owner", "alice"}, {"namespace", "forged"}, {"key", "forged"}}, 3, 11));
  s.put_item(make_item({"users", "bob", "notes"}, "n1", {{"owner", "bob"}, {"topic", "food"}}, 4, 14));
  s.put_item(make_item({"users", "alicexyz"}, "x", {{"owner", "alicexyz"}}, 5, 13));
  s.put_item(make_item({"usersalice"}, "joined", {{"owner", "alice"}}, 6, 15));

  auto search = [&](ItemQuery q) { return keys(s.search_items(q)); };
  ItemQuery q;
  q.limit = 100;
  CHECK(search(q) ==
        R"(["usersalice"]/joined,["users","bob","notes"]/n1,["users","alicexyz"]/x,["users","alice","notes"]/n2,)"
        R"(["users","alice"]/profile,["users","alice","notes"]/n1)");
  q.namespace_prefix = {"users", "alice"};  // element by element: not alicexyz, not usersalice
  CHECK(search(q) == R"(["users","alice","notes"]/n2,["users","alice"]/profile,["users","alice","notes"]/n1)");
  q.namespace_prefix = {"users", "alice", "notes"};
  CHECK(search(q) == R"(["users","alice","notes"]/n2,["users","alice","notes"]/n1)");
  q.namespace_prefix = {"users", "ali"};
  CHECK(search(q) == "");
  q.namespace_prefix = {"users", "alice", "notes", "n1"};
  CHECK(search(q) == "");

  q.namespace_prefix = {"users"};
  q.value_filter = {{"topic", "food"}};
  CHECK(search(q) == R"(["users","bob","notes"]/n1,["users","alice","notes"]/n1)");
  q.value_filter = {{"topic", "food"}, {"owner", "alice"}};
  CHECK(search(q) == R"(["users","alice","notes"]/n1)");
  q.value_filter = {{"tags", {"b"}}};
  CHECK(search(q) == R"(["users","alice","notes"]/n1)");
  q.value_filter = {{"topic", "none"}};
  CHECK(search(q) == "");

  // The auth filter sees {...value, namespace, key}.
  q = {};
  q.limit = 100;
  q.auth_filter = {{"namespace", {{"$contains", "alice"}}}};
  CHECK(search(q) == R"(["users","alice","notes"]/n2,["users","alice"]/profile,["users","alice","notes"]/n1)");
  q.auth_filter = {{"key", "n1"}};
  CHECK(search(q) == R"(["users","bob","notes"]/n1,["users","alice","notes"]/n1)");
  q.auth_filter = {{"key", "forged"}};  // the item's own key, not the value's
  CHECK(search(q) == "");
  q.auth_filter = {{"namespace", {{"$contains", "forged"}}}};
  CHECK(search(q) == "");
  q.auth_filter = {{"owner", "alice"}, {"key", {{"$ne", "n2"}}}};
  CHECK(search(q) == R"(["usersalice"]/joined,["users","alice"]/profile,["users","alice","notes"]/n1)");
  q.auth_filter = {{"namespace", {"users", "alice"}}};  // the whole namespace, as a list
  CHECK(search(q) == R"(["users","alice"]/profile)");
  q.auth_filter = {{"$or", {{{"owner", "bob"}}, {{"key", "joined"}}}}};
  q.namespace_prefix = {"users"};
  CHECK(search(q) == R"(["users","bob","notes"]/n1)");

  // Newest update first, then limit and offset.
  q = {};
  q.namespace_prefix = {"users"};
  q.limit = 2;
  CHECK(search(q) == R"(["users","bob","notes"]/n1,["users","alicexyz"]/x)");
  q.offset = 2;
  CHECK(search(q) == R"(["users","alice","notes"]/n2,["users","alice"]/profile)");
  q.offset = 4;
  CHECK(search(q) == R"(["users","alice","notes"]/n1)");
  q.offset = 5;
  CHECK(search(q) == "");
  q.offset = 0;
  q.limit = 0;
  CHECK(search(q) == "");

  // Whole items come back.
  q = {};
  q.namespace_prefix = {"users", "bob"};
  auto found = s.search_items(q);
  REQUIRE(found.size() == 1);
  expect_same(found[0], make_item({"users", "bob", "notes"}, "n1", {{"owner", "bob"}, {"topic", "food"}}, 4, 14),
              "the item found");
}

STORAGE_TEST(items_same_time, "items: items updated at the same time come in namespace, then key order") {
  Storage& s = backend.storage();
  s.put_item(make_item({"b"}, "k1", json::object(), 1, 5));
  s.put_item(make_item({"a", "z"}, "k2", json::object(), 1, 5));
  s.put_item(make_item({"a", "z"}, "k1", json::object(), 1, 5));
  s.put_item(make_item({"a"}, "k9", json::object(), 1, 5));
  s.put_item(make_item({"a"}, "new", json::object(), 1, 6));
  ItemQuery q;
  CHECK(keys(s.search_items(q)) == R"(["a"]/new,["a"]/k9,["a","z"]/k1,["a","z"]/k2,["b"]/k1)");
  q.limit = 2;
  q.offset = 2;
  CHECK(keys(s.search_items(q)) == R"(["a","z"]/k1,["a","z"]/k2)");
}

STORAGE_TEST(items_namespace_bytes, "items: namespaces with spaces, control characters and unicode keep element-by-element byte order") {
  Storage& s = backend.storage();
  const std::vector<std::vector<std::string>> namespaces = {
      {"a\u00e9"}, {"a b"}, {"a", "b"}, {"a\x01"}, {"a"}, {"a", "\x01"}, {"a\x1f", "x"}, {"a", "b c"},
      {"a", "b", "\U0001F600"}, {"ab"}, {"a~"}, {"A"}};
  int n = 0;
  for (const auto& ns : namespaces) {
    ++n;
    s.put_item(make_item(ns, "k", {{"i", n}}, n, n));
  }
  const std::string all =
      R"([["A"],["a"],["a","\u0001"],["a","b"],["a","b","😀"],["a","b c"],["a\u0001"],["a\u001f","x"],["a b"],)"
      R"(["ab"],["a~"],["aé"]])";
  CHECK(namespaces_text(s.list_namespaces({})) == all);
  NamespaceQuery q;
  q.prefix = {"a"};
  CHECK(namespaces_text(s.list_namespaces(q)) == R"([["a"],["a","\u0001"],["a","b"],["a","b","😀"],["a","b c"]])");
  q.prefix = {"a", "b"};
  CHECK(namespaces_text(s.list_namespaces(q)) == R"([["a","b"],["a","b","😀"]])");
  q.max_depth = 2;
  q.prefix = {};
  CHECK(namespaces_text(s.list_namespaces(q)) ==
        R"([["A"],["a"],["a","\u0001"],["a","b"],["a","b c"],["a\u0001"],["a\u001f","x"],["a b"],["ab"],["a~"],["aé"]])");
  ItemQuery iq;
  iq.namespace_prefix = {"a", "b"};
  iq.limit = 100;
  CHECK(key_set(s.search_items(iq)) == R"(["a","b","😀"]/k,["a","b"]/k)");
  iq.namespace_prefix = {"a\x01"};
  CHECK(key_set(s.search_items(iq)) == R"(["a\u0001"]/k)");
  for (const auto& ns : namespaces) {
    auto item = s.get_item(ns, "k");
    REQUIRE_MESSAGE(item.has_value(), json(ns).dump() << " is missing");
    CHECK(item->namespace_path == ns);
  }
}

STORAGE_TEST(items_namespaces, "items: list_namespaces with prefix, suffix, max_depth, auth filter, limit, offset") {
  Storage& s = backend.storage();
  int n = 0;
  auto put = [&](std::vector<std::string> ns, const std::string& key, json value = json::object()) {
    ++n;
    s.put_item(make_item(std::move(ns), key, std::move(value), n, n));
  };
  put({"a"}, "k");
  put({"a", "b"}, "k");
  put({"a", "b"}, "k2");
  put({"a", "b", "c"}, "k");
  put({"a", "b", "d"}, "k", {{"owner", "bob"}});
  put({"a-b"}, "k");
  put({"ab"}, "k");
  put({"users", "alice", "notes"}, "k", {{"owner", "alice"}});
  put({"users", "bob", "notes"}, "k", {{"owner", "bob"}});
  put({"x", "b"}, "k");
  put({"B"}, "k");

  auto list = [&](NamespaceQuery q) { return namespaces_text(s.list_namespaces(q)); };
  // Distinct, ordered element by element, byte order within an element.
  CHECK(list({}) ==
        R"([["B"],["a"],["a","b"],["a","b","c"],["a","b","d"],["a-b"],["ab"],["users","alice","notes"],)"
        R"(["users","bob","notes"],["x","b"]])");
  NamespaceQuery q;
  q.prefix = {"a"};
  CHECK(list(q) == R"([["a"],["a","b"],["a","b","c"],["a","b","d"]])");
  q.prefix = {"a", "b"};
  CHECK(list(q) == R"([["a","b"],["a","b","c"],["a","b","d"]])");
  q.prefix = {"a", "b", "c", "d"};
  CHECK(list(q) == "[]");
  q = {};
  q.suffix = {"b"};
  CHECK(list(q) == R"([["a","b"],["x","b"]])");
  q.suffix = {"alice", "notes"};
  CHECK(list(q) == R"([["users","alice","notes"]])");
  q.suffix = {"notes"};
  q.prefix = {"users"};
  CHECK(list(q) == R"([["users","alice","notes"],["users","bob","notes"]])");
  q = {};
  q.max_depth = 1;
  CHECK(list(q) == R"([["B"],["a"],["a-b"],["ab"],["users"],["x"]])");
  q.max_depth = 2;
  q.prefix = {"a"};
  CHECK(list(q) == R"([["a"],["a","b"]])");
  q.prefix = {"users"};
  CHECK(list(q) == R"([["users","alice"],["users","bob"]])");
  q.suffix = {"notes"};  // the suffix applies to the whole namespace, before max_depth
  CHECK(list(q) == R"([["users","alice"],["users","bob"]])");
  q = {};
  q.prefix = {"a", "b"};  // a prefix deeper than max_depth: cut like the rest
  q.max_depth = 1;
  CHECK(list(q) == R"([["a"]])");

  q = {};
  q.auth_filter = {{"owner", "bob"}};
  CHECK(list(q) == R"([["a","b","d"],["users","bob","notes"]])");
  q.auth_filter = {{"namespace", {{"$contains", "alice"}}}};
  CHECK(list(q) == R"([["users","alice","notes"]])");
  q.auth_filter = {{"key", "k2"}};
  CHECK(list(q) == R"([["a","b"]])");
  q.auth_filter = {{"owner", "bob"}};
  q.max_depth = 1;
  CHECK(list(q) == R"([["a"],["users"]])");

  q = {};
  q.limit = 3;
  q.offset = 2;
  CHECK(list(q) == R"([["a","b"],["a","b","c"],["a","b","d"]])");
  q.offset = 9;
  CHECK(list(q) == R"([["x","b"]])");
  q.offset = 10;
  CHECK(list(q) == "[]");
  q.offset = 0;
  q.limit = 0;
  CHECK(list(q) == "[]");
  q.limit = 2;
  q.max_depth = 1;
  q.offset = 1;
  CHECK(list(q) == R"([["a"],["a-b"]])");
}

// =============================================================================================
// Run events and sharing

STORAGE_TEST(shared_flag, "shared() is true for PostgreSQL only") {
  CHECK(backend.storage().shared() == (backend.kind() == Kind::postgres));
}

namespace {
std::vector<StreamEvent> make_events(int from, int to, const std::string& tag) {
  std::vector<StreamEvent> events;
  for (int i = from; i < to; ++i) {
    StreamEvent e;
    e.id = i;
    e.mode = i == 0 ? "" : (i % 2 ? "values" : "messages-tuple");
    e.event = i == 0 ? "metadata" : (i % 2 ? "values" : "messages");
    e.data = json{{"tag", tag}, {"i", i}, {"text", "\u00e9\U0001F600 \"q\" \\n"}}.dump();
    events.push_back(e);
  }
  return events;
}
std::string event_ids(const std::vector<StreamEvent>& events) {
  std::string out;
  for (const auto& e : events) out += (out.empty() ? "" : ",") + std::to_string(e.id);
  return out;
}
}  // namespace

SHARED_STORAGE_TEST(events_append_read, "events: append, read after an id with a limit, per run, from another server") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  s.put_run(make_run("ra", "t1", 1, "running"));
  s.put_run(make_run("rb", "t1", 2, "pending"));
  const auto a = make_events(0, 5, "a");
  s.append_events("ra", a);
  s.append_events("rb", make_events(0, 2, "b"));
  s.append_events("ra", {});

  expect_same_list(s.read_events("ra", -1, 100), a, "events of ra");
  CHECK(event_ids(s.read_events("ra", 1, 2)) == "2,3");
  CHECK(event_ids(s.read_events("ra", 3, 100)) == "4");
  CHECK(event_ids(s.read_events("ra", 4, 100)) == "");
  CHECK(event_ids(s.read_events("ra", -1, 0)) == "");
  CHECK(event_ids(s.read_events("rb", -1, 100)) == "0,1");
  CHECK(s.read_events("rb", -1, 100)[1].data == make_events(0, 2, "b")[1].data);
  CHECK(event_ids(s.read_events("nope", -1, 100)) == "");
  CHECK(!s.last_event("nope"));

  const auto more = make_events(5, 8, "a");
  s.append_events("ra", more);
  CHECK(event_ids(s.read_events("ra", 4, 100)) == "5,6,7");
  expect_same_list(s.read_events("ra", 4, 1), {more[0]}, "the first of the later events");
  const auto last = s.last_event("ra");
  REQUIRE(last);
  expect_same_list(std::vector<StreamEvent>{*last}, std::vector<StreamEvent>{more[2]}, "the last event of ra");

  auto other = backend.open_another();
  CHECK(event_ids(other->read_events("ra", -1, 100)) == "0,1,2,3,4,5,6,7");
  other->append_events("rb", make_events(2, 3, "b"));
  CHECK(event_ids(s.read_events("rb", 0, 100)) == "1,2");
}

SHARED_STORAGE_TEST(events_delete_before,
                    "events: delete_events_before forgets finished runs last appended to before a time") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  for (const auto* id : {"old", "new", "kept"}) s.put_run(make_run(id, "t1", 1, "success"));
  s.put_run(make_run("running", "t1", 2, "running"));
  s.append_events("old", make_events(0, 3, "old"));
  s.append_events("running", make_events(0, 2, "running"));
  s.append_events("gone", make_events(0, 1, "gone"));  // a run no longer stored (a temporary one)
  s.append_events("kept", make_events(0, 1, "kept"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string between = now_iso8601();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  s.append_events("new", make_events(0, 2, "new"));
  s.append_events("kept", make_events(1, 2, "kept"));  // appended to after `between`: kept whole

  s.delete_events_before("2000-01-01T00:00:00.000000+00:00");
  CHECK(event_ids(s.read_events("old", -1, 100)) == "0,1,2");
  s.delete_events_before(between);
  CHECK(event_ids(s.read_events("old", -1, 100)) == "");
  CHECK(event_ids(s.read_events("gone", -1, 100)) == "");
  CHECK(event_ids(s.read_events("running", -1, 100)) == "0,1");  // still running: kept
  CHECK(event_ids(s.read_events("new", -1, 100)) == "0,1");
  CHECK(event_ids(s.read_events("kept", -1, 100)) == "0,1");
  s.delete_events_before(iso8601_from_now(3600));
  CHECK(event_ids(s.read_events("new", -1, 100)) == "");
  CHECK(event_ids(s.read_events("kept", -1, 100)) == "");
  CHECK(event_ids(s.read_events("running", -1, 100)) == "0,1");
  CHECK(s.get_run("new").has_value());  // only events go
}

// =============================================================================================
// JSON and text fidelity

namespace {
struct Tricky {
  Assistant assistant;
  std::vector<Thread> threads;
  Run run;
  Checkpoint checkpoint;
  std::vector<Item> items;
};

Tricky tricky_records() {
  const json t = tricky_json();
  Tricky out;
  Assistant& a = out.assistant;
  a = make_assistant("asst-\u00fc", 1, 1);
  a.graph_id = "graph \"quoted\" '\u00e9'";
  a.config = {{"configurable", t}};
  a.context = t;
  a.metadata = t;
  a.name = "N\u00e4me \"q\" 'single' \\ \U0001F600 '; DROP TABLE assistants; --";
  a.description = "line\nbreak \u4e2d";
  a.created_at = ts(1, 123456);
  a.updated_at = ts(2, 654321);

  Thread full = make_thread("thread-tricky", 1, t);
  full.config = {{"configurable", t}};
  full.values = t;
  full.interrupts = {{"node", json::array({t})}};
  full.error = {{"error", "E"}, {"message", t["control"]}};
  full.updated_at = ts(3, 1);
  out.threads.push_back(full);
  // Top-level values of every kind, and null against empty.
  const std::vector<json> values = {nullptr, json::object(), json::array(), json::array({nullptr}), "text", 0,
                                    false, 1.5, json::object({{"k", nullptr}})};
  for (size_t i = 0; i < values.size(); ++i) {
    Thread v = make_thread("thread-v" + std::to_string(i), 2);
    v.values = values[i];
    v.error = values[(i + 1) % values.size()];
    v.metadata = i % 2 ? json::object() : json::object({{"k", values[i]}});
    out.threads.push_back(v);
  }

  Run& r = out.run;
  r = make_run("run-tricky", "thread-tricky", 1, "error");
  r.metadata = t;
  r.kwargs = {{"input", t}, {"config", {{"configurable", t}}}};
  r.output = t;
  r.error = {{"error", "Err \"x\""}, {"message", t["unicode"]}};
  r.cancel = "rollback";
  r.ready_at = ts(5, 500000);

  Checkpoint& c = out.checkpoint;
  c = make_checkpoint("thread-tricky", "1ef-\u00e9", "run-tricky", 3, "1ee");
  c.values = t;
  c.next = {"n\u00f6de", "with \"quote\"", ""};
  c.tasks = json::array({t, {{"id", "x"}, {"error", nullptr}}});
  c.metadata = t;
  c.metadata["run_id"] = "run-tricky";
  c.pending_writes = {{"node", t}};
  c.resumes = {{"node", json::array({t, nullptr})}};
  c.created_at = ts(6, 999999);

  // Namespace labels are non-empty and hold no '.' (the API refuses others); keys are free.
  Item big = make_item({"ns \u00fc", "sp ace", "slash/and\\back", "\"q\"", "%_", "\U0001F600"}, "key \u00e9.\"/\\ %",
                       t, 1, 2);
  out.items.push_back(big);
  Item large = make_item({"large"}, "1mb", {{"text", std::string(1 << 20, 'x') + "\u00e9"}, {"nested", t}}, 3, 4);
  out.items.push_back(large);
  return out;
}

void put_tricky(Storage& s, const Tricky& t) {
  s.put_assistant(t.assistant);
  for (const auto& thread : t.threads) REQUIRE(s.create_thread(thread));
  s.put_run(t.run);
  s.put_checkpoint(t.checkpoint);
  for (const auto& item : t.items) s.put_item(item);
}

void expect_tricky(Storage& s, const Tricky& t) {
  expect_stored(s.get_assistant(t.assistant.assistant_id), t.assistant, "assistant");
  for (const auto& thread : t.threads) expect_stored(s.get_thread(thread.thread_id), thread, thread.thread_id);
  expect_stored(s.get_run(t.run.run_id), t.run, "run");
  expect_stored(s.get_checkpoint(t.checkpoint.thread_id, t.checkpoint.checkpoint_id), t.checkpoint, "checkpoint");
  expect_stored(s.latest_checkpoint(t.checkpoint.thread_id), t.checkpoint, "latest checkpoint");
  for (const auto& item : t.items) expect_stored(s.get_item(item.namespace_path, item.key), item, "item " + item.key);
}
}  // namespace

STORAGE_TEST(json_fidelity, "json: records come back field for field (unicode, big numbers, floats, nulls, escapes)") {
  Storage& s = backend.storage();
  const Tricky t = tricky_records();
  put_tricky(s, t);
  expect_tricky(s, t);

  // Through the list and search paths too.
  AssistantQuery aq;
  auto assistants = s.search_assistants(aq).items;
  expect_same_list(assistants, {t.assistant}, "searched assistants");
  expect_same_list(s.assistant_versions(t.assistant.assistant_id), {t.assistant}, "assistant versions");
  ThreadQuery tq;
  tq.ids = {"thread-tricky"};
  expect_same_list(s.search_threads(tq).items, {t.threads[0]}, "searched threads");
  RunQuery rq;
  rq.thread_id = "thread-tricky";
  expect_same_list(s.list_runs(rq).items, {t.run}, "listed runs");
  expect_same_list(s.list_checkpoints("thread-tricky", 5), {t.checkpoint}, "listed checkpoints");
  ItemQuery iq;
  iq.namespace_prefix = t.items[0].namespace_path;
  expect_same_list(s.search_items(iq), {t.items[0]}, "searched items");
  AssistantQuery by_name;
  by_name.name = "\u00e4me \"q\" 'single' \\ \U0001F600";
  CHECK(keys(s.search_assistants(by_name).items) == key_of(t.assistant));
  by_name.name = "N\u00c4ME";
  CHECK(keys(s.search_assistants(by_name).items) == "");
  NamespaceQuery nq;
  nq.prefix = {"ns \u00fc"};
  CHECK(namespaces_text(s.list_namespaces(nq)) == json({t.items[0].namespace_path}).dump());

  // Searching on tricky values finds them.
  const json tricky = tricky_json();
  for (const auto* key : {"unicode", "quotes", "sql", "control", "int64_max", "uint64_max", "beyond_double", "pi",
                          "empty_object", "empty_string", "nested",
                          "key with spaces, \"quotes\" and \u00fcn\u00efc\u00f6de"}) {
    ThreadQuery q;
    q.metadata = {{key, tricky[key]}};
    CHECK_MESSAGE(keys(s.search_threads(q).items) == "thread-tricky", "metadata search on " << key);
    q = {};
    q.auth_filter = {{key, tricky[key]}};
    CHECK_MESSAGE(keys(s.search_threads(q).items) == "thread-tricky", "auth filter on " << key);
    q = {};
    q.values = {{key, tricky[key]}};
    CHECK_MESSAGE(keys(s.search_threads(q).items) == "thread-tricky", "values search on " << key);
  }
  ThreadQuery near;
  near.auth_filter = {{"beyond_double", 9007199254740992LL}};  // 2^53: the double next to it
  CHECK(keys(s.search_threads(near).items) == "");
  near.auth_filter = {{"uint64_max", 18446744073709551614ULL}};
  CHECK(keys(s.search_threads(near).items) == "");
  ItemQuery vq;
  vq.value_filter = {{"sql", tricky["sql"]}, {"nested", {{"a", {{"b", {{"c", nullptr}}}}}}}};
  CHECK(keys(s.search_items(vq)) == keys(std::vector<Item>{t.items[0]}));

  // The same values update in place.
  REQUIRE(s.update_thread("thread-tricky", [&](Thread& th) { th.values["again"] = tricky; }));
  Thread updated = t.threads[0];
  updated.values["again"] = tricky;
  expect_stored(s.get_thread("thread-tricky"), updated, "thread updated with tricky values");
}

// =============================================================================================
// Durability

PERSISTENT_STORAGE_TEST(reopen, "reopen: everything written is there after the database is closed and opened again") {
  Storage& s = backend.storage();
  const Tricky t = tricky_records();
  put_tricky(s, t);
  const Assistant v2 = [&] {
    Assistant a = t.assistant;
    a.version = 2;
    a.name = "second";
    return a;
  }();
  s.put_assistant(v2);
  REQUIRE(s.create_thread(make_thread("tq")));
  s.put_run(make_run("queued", "tq", 2));
  s.put_run(make_run("leased", "thread-v1", 1));
  auto claimed = s.claim_run("w1", ts(10), ts(100));
  REQUIRE(claimed.has_value());
  CHECK(claimed->run_id == "leased");
  REQUIRE(s.update_thread("thread-v2", [](Thread& th) { th.status = "busy"; }));
  REQUIRE(s.delete_item(t.items[1].namespace_path, t.items[1].key));

  Storage& again = backend.reopen();
  expect_stored(again.get_assistant(t.assistant.assistant_id), v2, "assistant");
  expect_same_list(again.assistant_versions(t.assistant.assistant_id), {v2, t.assistant}, "assistant versions");
  for (size_t i = 0; i < t.threads.size(); ++i) {
    Thread want = t.threads[i];
    if (want.thread_id == "thread-v2") want.status = "busy";
    expect_stored(again.get_thread(want.thread_id), want, want.thread_id);
  }
  expect_stored(again.get_run(t.run.run_id), t.run, "run");
  expect_stored(again.get_checkpoint(t.checkpoint.thread_id, t.checkpoint.checkpoint_id), t.checkpoint, "checkpoint");
  expect_stored(again.get_item(t.items[0].namespace_path, t.items[0].key), t.items[0], "item");
  CHECK_FALSE(again.get_item(t.items[1].namespace_path, t.items[1].key).has_value());

  // The queue and the leases too.
  CHECK(key_set(again.expired_runs(ts(100))) == "");
  CHECK(key_set(again.expired_runs(ts(101))) == "leased");
  auto next = again.claim_run("w2", ts(20), ts(200));
  REQUIRE(next.has_value());
  CHECK(next->run_id == "queued");
  CHECK_FALSE(again.claim_run("w2", ts(20), ts(200)).has_value());

  // created_at of an item survives a later put.
  Item later = t.items[0];
  later.created_at = ts(900);
  later.updated_at = ts(901);
  later.value = {{"v", 2}};
  again.put_item(later);
  Item want = later;
  want.created_at = t.items[0].created_at;
  expect_stored(again.get_item(later.namespace_path, later.key), want, "item put after reopening");
}

PERSISTENT_STORAGE_TEST(killed_server, "durability: what a call acknowledged survives the server being killed right after") {
  backend.close();  // the killed server is another process, which must be able to open the database
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The server: writes, reports each acknowledged write, and is killed without any cleanup.
    close(pipe_fds[0]);
    auto say = [&](char c) { (void)!write(pipe_fds[1], &c, 1); };
    try {
      auto s = open_storage(backend.uri(), backend.data_dir());
      s->create_thread(make_thread("t1", 1, {{"owner", "alice"}}));
      say('t');
      s->put_run(make_run("r1", "t1", 1));
      s->put_run(make_run("r2", "t1", 2));
      say('r');
      s->put_checkpoint(make_checkpoint("t1", "cp-1", "r1", 0));
      say('c');
      s->put_item(make_item({"ns"}, "k", {{"v", 1}}, 1, 1));
      say('i');
      s->update_thread("t1", [](Thread& t) { t.status = "busy"; });
      say('u');
      if (s->claim_run("w1", ts(10), ts(20))) say('q');
    } catch (...) {
      say('x');
    }
    kill(getpid(), SIGKILL);
    _exit(1);
  }
  close(pipe_fds[1]);
  std::string acknowledged;
  char c;
  while (read(pipe_fds[0], &c, 1) == 1) acknowledged += c;
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  REQUIRE(acknowledged == "trciuq");

  Storage& s = backend.reopen();
  auto thread = s.get_thread("t1");
  REQUIRE(thread.has_value());
  CHECK(thread->status == "busy");
  CHECK(thread->metadata == json{{"owner", "alice"}});
  REQUIRE(s.get_run("r1").has_value());
  CHECK(s.get_run("r1")->status == "running");
  expect_stored(s.get_run("r2"), make_run("r2", "t1", 2), "r2");
  expect_stored(s.get_checkpoint("t1", "cp-1"), make_checkpoint("t1", "cp-1", "r1", 0), "cp-1");
  expect_stored(s.get_item({"ns"}, "k"), make_item({"ns"}, "k", {{"v", 1}}, 1, 1), "the item");
  CHECK(key_set(s.expired_runs(ts(20))) == "");
  CHECK(key_set(s.expired_runs(ts(21))) == "r1");
}

// ---------------------------------------------------------------------------------------------
// Crons

namespace {

Cron make_cron(const std::string& id, int created = 1, json metadata = json::object()) {
  Cron c;
  c.cron_id = id;
  c.assistant_id = "asst-1";
  c.schedule = "*/5 * * * *";
  c.created_at = ts(created);
  c.updated_at = ts(created);
  c.next_run_date = ts(created + 300);
  c.payload = {{"assistant_id", "asst-1"},
               {"input", {{"messages", json::array({{{"role", "user"}, {"content", "tick " + id}}})}}},
               {"config", {{"configurable", {{"cron_id", id}}}}}};
  c.metadata = std::move(metadata);
  c.user_id = "alice";
  c.auth_user = {{"identity", "alice"}, {"permissions", {"read"}}, {"is_authenticated", true}, {"team", "x"}};
  return c;
}

void expect_same(const Cron& got, const Cron& want, const std::string& what) {
  SAME_FIELD(cron_id);
  SAME_FIELD(assistant_id);
  SAME_FIELD(thread_id);
  SAME_FIELD(on_run_completed);
  SAME_FIELD(end_time);
  SAME_FIELD(schedule);
  SAME_FIELD(timezone);
  SAME_FIELD(created_at);
  SAME_FIELD(updated_at);
  SAME_FIELD(payload);
  SAME_FIELD(user_id);
  SAME_FIELD(next_run_date);
  SAME_FIELD(metadata);
  CHECK_MESSAGE(got.enabled == want.enabled, what << ".enabled");
  SAME_FIELD(auth_user);
}

std::string cron_ids(const std::vector<Cron>& crons) {
  std::string out;
  for (const auto& c : crons) out += (out.empty() ? "" : ",") + c.cron_id;
  return out;
}

std::string cron_ids(Storage& s, CronQuery q) { return cron_ids(s.search_crons(q).items); }

}  // namespace

STORAGE_TEST(crons_create_get_update_delete, "crons: create, get, update every field, delete; a taken id is refused") {
  Storage& s = backend.storage();
  Cron stateless = make_cron("c1", 1, {{"owner", "alice"}, {"tricky", tricky_json()}});
  stateless.on_run_completed = "keep";
  stateless.end_time = ts(5000);
  stateless.timezone = "Europe/Paris";
  REQUIRE(s.create_cron(stateless));
  expect_stored(s.get_cron("c1"), stateless, "stateless cron");
  Cron on_thread = make_cron("c2", 2);
  on_thread.thread_id = "t1";
  on_thread.user_id = "";
  on_thread.auth_user = nullptr;  // created without auth
  REQUIRE(s.create_cron(on_thread));
  expect_stored(s.get_cron("c2"), on_thread, "thread cron");

  Cron taken = make_cron("c1", 9);
  CHECK_FALSE(s.create_cron(taken));
  expect_stored(s.get_cron("c1"), stateless, "cron after a refused create");
  CHECK_FALSE(s.get_cron("nope").has_value());

  Cron changed = stateless;
  REQUIRE(s.update_cron("c1", [&](Cron& c) {
    expect_same(c, stateless, "cron seen by update_cron");
    c.schedule = "0 9 * * mon";
    c.timezone = "";
    c.end_time = "";
    c.enabled = false;
    c.on_run_completed = "delete";
    c.payload["input"] = {{"x", 1}};
    c.metadata["owner"] = "bob";
    c.next_run_date = ts(7000);
    c.updated_at = ts(7);
    changed = c;
  }));
  expect_stored(s.get_cron("c1"), changed, "updated cron");
  CHECK_FALSE(s.update_cron("nope", [](Cron&) { FAIL("called for a missing cron"); }));

  CHECK(s.delete_cron("c1"));
  CHECK_FALSE(s.delete_cron("c1"));
  CHECK_FALSE(s.get_cron("c1").has_value());
  expect_stored(s.get_cron("c2"), on_thread, "the other cron");
}

STORAGE_TEST(crons_search, "crons: search by assistant, thread, enabled, metadata and auth filter; sort, page, total") {
  Storage& s = backend.storage();
  for (int i = 0; i < 6; ++i) {
    Cron c = make_cron("c" + std::to_string(i), 10 - i, {{"owner", i % 2 ? "bob" : "alice"}, {"n", i}, {"tags", {"t" + std::to_string(i % 3)}}});
    c.assistant_id = i < 3 ? "asst-1" : "asst-2";
    c.thread_id = i == 4 ? "t4" : "";
    c.enabled = i != 5;
    c.next_run_date = ts(1000 + (i * 7) % 6);
    c.end_time = i == 2 ? ts(50) : "";
    c.updated_at = ts(100 + i);
    REQUIRE(s.create_cron(c));
  }
  CronQuery q;
  q.limit = 100;
  CHECK(cron_ids(s, q) == "c0,c1,c2,c3,c4,c5");  // newest created first
  CronQuery by_assistant = q;
  by_assistant.assistant_id = "asst-2";
  CHECK(cron_ids(s, by_assistant) == "c3,c4,c5");
  CronQuery by_thread = q;
  by_thread.thread_id = "t4";
  CHECK(cron_ids(s, by_thread) == "c4");
  CronQuery enabled = q;
  enabled.enabled = true;
  CHECK(cron_ids(s, enabled) == "c0,c1,c2,c3,c4");
  enabled.enabled = false;
  CHECK(cron_ids(s, enabled) == "c5");
  CronQuery metadata = q;
  metadata.metadata = {{"owner", "bob"}};
  CHECK(cron_ids(s, metadata) == "c1,c3,c5");
  metadata.metadata = {{"owner", "bob"}, {"n", 3}};
  CHECK(cron_ids(s, metadata) == "c3");

  CronQuery auth = q;
  auth.auth_filter = {{"owner", "alice"}};
  CHECK(cron_ids(s, auth) == "c0,c2,c4");
  auth.auth_filter = {{"owner", {{"$in", {"bob", "carol"}}}}, {"n", {{"$ne", 1}}}};
  CHECK(cron_ids(s, auth) == "c3,c5");
  auth.auth_filter = {{"tags", {{"$contains", "t2"}}}};
  CHECK(cron_ids(s, auth) == "c2,c5");
  auth.auth_filter = {{"$or", {{{"n", 0}}, {{"owner", "bob"}, {"n", 5}}}}};
  CHECK(cron_ids(s, auth) == "c0,c5");
  auth.auth_filter = {{"owner", "alice"}};
  auth.assistant_id = "asst-1";
  CHECK(cron_ids(s, auth) == "c0,c2");

  CronQuery sorted = q;
  sorted.descending = false;
  CHECK(cron_ids(s, sorted) == "c5,c4,c3,c2,c1,c0");
  sorted.sort_by = "cron_id";
  CHECK(cron_ids(s, sorted) == "c0,c1,c2,c3,c4,c5");
  sorted.descending = true;
  CHECK(cron_ids(s, sorted) == "c5,c4,c3,c2,c1,c0");
  sorted.sort_by = "updated_at";
  CHECK(cron_ids(s, sorted) == "c5,c4,c3,c2,c1,c0");
  sorted.sort_by = "next_run_date";  // 1000 + (0, 1, 2, 3, 4, 5) * 7 % 6 = 0, 1, 2, 3, 4, 5 → c0 c1 ... reversed
  CHECK(cron_ids(s, sorted) == "c5,c4,c3,c2,c1,c0");
  sorted.sort_by = "assistant_id";  // ties follow cron_id in the same direction
  CHECK(cron_ids(s, sorted) == "c5,c4,c3,c2,c1,c0");
  sorted.descending = false;
  CHECK(cron_ids(s, sorted) == "c0,c1,c2,c3,c4,c5");
  sorted.sort_by = "thread_id";
  CHECK(cron_ids(s, sorted) == "c0,c1,c2,c3,c5,c4");
  sorted.sort_by = "end_time";
  CHECK(cron_ids(s, sorted) == "c0,c1,c3,c4,c5,c2");

  CronQuery page = q;
  page.limit = 2;
  page.offset = 1;
  const auto found = s.search_crons(page);
  CHECK(cron_ids(found.items) == "c1,c2");
  CHECK(found.total == 6);
  page.auth_filter = {{"owner", "alice"}};
  page.offset = 2;
  const auto last = s.search_crons(page);
  CHECK(cron_ids(last.items) == "c4");
  CHECK(last.total == 3);
  page.limit = 0;
  page.offset = 0;
  const auto counted = s.search_crons(page);
  CHECK(counted.items.empty());
  CHECK(counted.total == 3);
  page.offset = 10;
  page.limit = 10;
  CHECK(s.search_crons(page).items.empty());
}

STORAGE_TEST(crons_due, "crons: due_crons and next_cron_due skip disabled and ended crons; advance_cron moves only from the date given, only a live cron") {
  Storage& s = backend.storage();
  CHECK_FALSE(s.next_cron_due(ts(0)).has_value());
  auto add = [&](const std::string& id, int next, bool enabled = true, int end = -1) {
    Cron c = make_cron(id);
    c.next_run_date = ts(next);
    c.enabled = enabled;
    c.end_time = end < 0 ? "" : ts(end);
    REQUIRE(s.create_cron(c));
  };
  add("late", 30);
  add("early", 10);
  add("off", 5, false);
  add("ended", 7, true, 8);
  add("ending", 20, true, 100);
  add("future", 500);
  CHECK(cron_ids(s.due_crons(ts(30), 10)) == "early,ending,late");
  CHECK(cron_ids(s.due_crons(ts(30), 2)) == "early,ending");
  CHECK(cron_ids(s.due_crons(ts(9), 10)) == "");
  CHECK(cron_ids(s.due_crons(ts(200), 10)) == "early,late");  // "ending" ended at 100
  CHECK(s.next_cron_due(ts(0)) == std::optional<std::string>(ts(7)));
  CHECK(s.next_cron_due(ts(8)) == std::optional<std::string>(ts(10)));
  CHECK(s.next_cron_due(ts(150)) == std::optional<std::string>(ts(10)));

  CHECK_FALSE(s.advance_cron("early", ts(11), ts(70), ts(30)));  // not the stored date
  CHECK_FALSE(s.advance_cron("nope", ts(10), ts(70), ts(30)));
  const auto claimed = s.advance_cron("early", ts(10), ts(70), ts(30));
  REQUIRE(claimed.has_value());
  Cron want = *s.get_cron("early");
  CHECK(want.next_run_date == ts(70));
  expect_same(*claimed, want, "the claimed cron");
  CHECK_FALSE(s.advance_cron("early", ts(10), ts(80), ts(30)));  // already moved
  CHECK(s.get_cron("early")->next_run_date == ts(70));
  CHECK(cron_ids(s.due_crons(ts(30), 10)) == "ending,late");
  // Disabled or ended: never claimed, whatever the date.
  CHECK_FALSE(s.advance_cron("off", ts(5), ts(70), ts(30)));
  CHECK_FALSE(s.advance_cron("ended", ts(7), ts(70), ts(30)));
  CHECK_FALSE(s.advance_cron("ending", ts(20), ts(70), ts(100)));  // its end_time is not after now
  CHECK(s.get_cron("off")->next_run_date == ts(5));
  CHECK(s.get_cron("ended")->next_run_date == ts(7));
  CHECK(s.get_cron("ending")->next_run_date == ts(20));
  CHECK(s.advance_cron("ending", ts(20), ts(70), ts(99)).has_value());
}

STORAGE_TEST(crons_claim_sees_changes, "crons: a cron disabled, ended, deleted or edited after due_crons read it is claimed as it now is, or not at all") {
  Storage& s = backend.storage();
  for (const char* id : {"disabled", "ended", "deleted", "edited", "moved"}) {
    Cron c = make_cron(id);
    c.next_run_date = ts(10);
    REQUIRE(s.create_cron(c));
  }
  const auto due = s.due_crons(ts(30), 10);
  REQUIRE(cron_ids(due) == "deleted,disabled,edited,ended,moved");
  REQUIRE(s.update_cron("disabled", [](Cron& c) { c.enabled = false; }));
  REQUIRE(s.update_cron("ended", [](Cron& c) { c.end_time = ts(20); }));
  REQUIRE(s.delete_cron("deleted"));
  REQUIRE(s.update_cron("edited", [](Cron& c) {
    c.payload["input"] = {{"edited", true}};
    c.user_id = "bob";
    c.auth_user = {{"identity", "bob"}};
  }));
  REQUIRE(s.update_cron("moved", [](Cron& c) { c.next_run_date = ts(500); }));
  std::map<std::string, std::optional<Cron>> claims;
  for (const Cron& c : due) claims[c.cron_id] = s.advance_cron(c.cron_id, c.next_run_date, ts(90), ts(30));
  CHECK_FALSE(claims["disabled"].has_value());
  CHECK_FALSE(claims["ended"].has_value());
  CHECK_FALSE(claims["deleted"].has_value());
  CHECK_FALSE(claims["moved"].has_value());
  REQUIRE(claims["edited"].has_value());
  CHECK(claims["edited"]->payload["input"] == json{{"edited", true}});
  CHECK(claims["edited"]->user_id == "bob");
  CHECK(claims["edited"]->auth_user == json{{"identity", "bob"}});
  CHECK(claims["edited"]->next_run_date == ts(90));
  CHECK(s.get_cron("disabled")->next_run_date == ts(10));
  CHECK(s.get_cron("ended")->next_run_date == ts(10));
  CHECK(s.get_cron("moved")->next_run_date == ts(500));
}

STORAGE_TEST(crons_delete_checked, "crons: delete_cron deletes only what its check accepts, as stored at the delete") {
  Storage& s = backend.storage();
  REQUIRE(s.create_cron(make_cron("c1", 1, {{"owner", "alice"}})));
  int calls = 0;
  CHECK_FALSE(s.delete_cron("c1", [&](const Cron& c) {
    ++calls;
    CHECK(c.metadata == json{{"owner", "alice"}});
    return false;
  }));
  CHECK(calls == 1);
  REQUIRE(s.get_cron("c1").has_value());
  // Changed after a caller read it: the check sees the change.
  REQUIRE(s.update_cron("c1", [](Cron& c) { c.metadata["owner"] = "bob"; }));
  auto alices = [](const Cron& c) { return c.metadata.value("owner", "") == "alice"; };
  CHECK_FALSE(s.delete_cron("c1", alices));
  REQUIRE(s.get_cron("c1").has_value());
  auto bobs = [](const Cron& c) { return c.metadata.value("owner", "") == "bob"; };
  CHECK(s.delete_cron("c1", bobs));
  CHECK_FALSE(s.get_cron("c1").has_value());
  CHECK_FALSE(s.delete_cron("c1", [](const Cron&) -> bool { FAIL("called for a missing cron"); return true; }));
}

namespace {
// `workers` threads advance cron "c" from the same date at once, each on one of `storages`;
// returns how many succeeded.
int advance_concurrently(const std::vector<Storage*>& storages, int workers, std::vector<std::string>& errors) {
  std::atomic<int> won{0};
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      try {
        if (storages[w % storages.size()]->advance_cron("c", ts(10), ts(100 + w), ts(10))) ++won;
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        errors.push_back(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  return won;
}
}  // namespace

STORAGE_TEST(crons_advance_concurrent, "crons: of many advance_cron calls from one date at once, exactly one succeeds") {
  Storage& s = backend.storage();
  for (int round = 0; round < 5; ++round) {
    Cron c = make_cron("c");
    c.next_run_date = ts(10);
    s.delete_cron("c");
    REQUIRE(s.create_cron(c));
    std::vector<std::string> errors;
    CHECK(advance_concurrently({&s}, 8, errors) == 1);
    CHECK_MESSAGE(errors.empty(), (errors.empty() ? "" : errors[0]));
  }
}

SHARED_STORAGE_TEST(crons_advance_shared, "crons: of advance_cron calls from one date on several servers, exactly one succeeds") {
  Storage& s = backend.storage();
  auto second = backend.open_another();
  auto third = backend.open_another();
  for (int round = 0; round < 5; ++round) {
    Cron c = make_cron("c");
    c.next_run_date = ts(10);
    s.delete_cron("c");
    REQUIRE(s.create_cron(c));
    std::vector<std::string> errors;
    CHECK(advance_concurrently({&s, second.get(), third.get()}, 9, errors) == 1);
    CHECK_MESSAGE(errors.empty(), (errors.empty() ? "" : errors[0]));
  }
}

STORAGE_TEST(crons_deleted_with_thread_or_assistant, "crons: deleting a thread or an assistant deletes its crons, and only those") {
  Storage& s = backend.storage();
  REQUIRE(s.create_thread(make_thread("t1")));
  REQUIRE(s.create_thread(make_thread("t2")));
  s.put_assistant(make_assistant("asst-1"));
  s.put_assistant(make_assistant("asst-2"));
  auto add = [&](const std::string& id, const std::string& thread, const std::string& assistant) {
    Cron c = make_cron(id);
    c.thread_id = thread;
    c.assistant_id = assistant;
    REQUIRE(s.create_cron(c));
  };
  add("on-t1", "t1", "asst-1");
  add("on-t2", "t2", "asst-1");
  add("stateless-1", "", "asst-1");
  add("stateless-2", "", "asst-2");
  REQUIRE(s.delete_thread("t1"));
  CronQuery all;
  all.limit = 100;
  all.sort_by = "cron_id";
  all.descending = false;
  CHECK(cron_ids(s, all) == "on-t2,stateless-1,stateless-2");
  REQUIRE(s.delete_assistant("asst-1"));
  CHECK(cron_ids(s, all) == "stateless-2");
}

PERSISTENT_STORAGE_TEST(crons_survive_reopen, "crons: stored crons and their next run dates survive a restart") {
  Storage& s = backend.storage();
  Cron c = make_cron("c1", 1, {{"owner", "alice"}});
  c.thread_id = "t1";
  c.timezone = "America/New_York";
  REQUIRE(s.create_cron(c));
  REQUIRE(s.advance_cron("c1", c.next_run_date, ts(4000), ts(3000)));
  c.next_run_date = ts(4000);
  Storage& again = backend.reopen();
  expect_stored(again.get_cron("c1"), c, "cron after reopening");
  CHECK(cron_ids(again.due_crons(ts(4000), 10)) == "c1");
}
