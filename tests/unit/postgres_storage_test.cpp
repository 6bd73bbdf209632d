// PostgresStorage on a real PostgreSQL server: what only a shared database does (several
// servers on one database, the run queue across them, reconnecting, run events, migrations) and
// the SQL translation of filters, checked against MemoryStorage. Each test gets a database of its
// own, created and dropped through the superuser URI in LANGGRAPH_TEST_POSTGRES_URI; without it
// the tests are skipped.
#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "config/startup_error.hpp"
#include "load_graph.hpp"
#include "runtime/run_manager.hpp"
#include "storage/memory_storage.hpp"
#include "storage/postgres_storage.hpp"
#include "util/clock.hpp"

using namespace lgs;

namespace {

std::string admin_uri() {
  const char* value = std::getenv("LANGGRAPH_TEST_POSTGRES_URI");
  return value ? value : "";
}

#define SKIP_WITHOUT_POSTGRES()                                                   \
  if (admin_uri().empty()) {                                                      \
    MESSAGE("PostgreSQL skipped: LANGGRAPH_TEST_POSTGRES_URI is not set");       \
    return;                                                                       \
  }

// A superuser connection for what the tests do behind the storage's back.
class Admin {
 public:
  explicit Admin(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string message = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error("cannot connect to the test server: " + message);
    }
  }
  ~Admin() { PQfinish(conn_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Returns the first column of the first row ("" when none).
  std::string exec(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                    nullptr, nullptr, 0);
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string message = PQresultErrorMessage(result);
      PQclear(result);
      throw std::runtime_error(sql + ": " + message);
    }
    std::string first = PQntuples(result) > 0 && PQnfields(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return first;
  }

 private:
  PGconn* conn_;
};

// The URI of database `name` on the server of `uri` (a URI or a keyword=value string).
std::string with_database(const std::string& uri, const std::string& name) {
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) return uri + " dbname=" + name;
  const auto query = uri.find('?', scheme + 3);
  std::string base = uri.substr(0, query);
  const std::string params = query == std::string::npos ? "" : uri.substr(query);
  const auto slash = base.find('/', scheme + 3);
  if (slash != std::string::npos) base.erase(slash);
  return base + "/" + name + params;
}

// A database of one test, dropped after it.
class TestDatabase {
 public:
  TestDatabase() {
    static std::atomic<int> counter{0};
    name_ = "lgs_pg_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(std::random_device{}() % 100000);
    Admin(admin_uri()).exec("CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'");
  }
  ~TestDatabase() {
    try {
      Admin(admin_uri()).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "postgres test: cannot drop database %s: %s\n", name_.c_str(), e.what());
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  std::string uri() const { return with_database(admin_uri(), name_); }
  // SQL on this database, as a superuser.
  std::string exec(const std::string& sql, const std::vector<std::string>& params = {}) const {
    return Admin(uri()).exec(sql, params);
  }
  // Ends every connection to the database but the caller's, as a database restart does.
  void terminate_connections() const {
    Admin(admin_uri()).exec(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        {name_});
  }
  void allow_connections(bool allow) const {
    Admin(admin_uri()).exec("ALTER DATABASE " + name_ + " ALLOW_CONNECTIONS " + (allow ? "true" : "false"));
  }

 private:
  std::string name_;
};

Thread make_thread(const std::string& id, json metadata = json::object(), const std::string& created = "") {
  Thread t;
  t.thread_id = id;
  t.created_at = created.empty() ? now_iso8601() : created;
  t.updated_at = t.created_at;
  t.metadata = std::move(metadata);
  return t;
}

Run make_run(const std::string& id, const std::string& thread_id, const std::string& ready_at) {
  Run r;
  r.run_id = id;
  r.thread_id = thread_id;
  r.assistant_id = "agent";
  r.created_at = ready_at;
  r.updated_at = ready_at;
  r.ready_at = ready_at;
  return r;
}

std::vector<std::string> ids_of(const std::vector<Thread>& threads) {
  std::vector<std::string> ids;
  for (const auto& t : threads) ids.push_back(t.thread_id);
  return ids;
}

}  // namespace

TEST_SUITE("storage.postgres") {
  TEST_CASE("two storages on one database see each other's writes") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage a(db.uri()), b(db.uri());
    CHECK(a.shared());
    REQUIRE(a.create_thread(make_thread("t1", {{"owner", "alice"}})));
    CHECK_FALSE(b.create_thread(make_thread("t1")));
    REQUIRE(b.get_thread("t1"));
    CHECK(b.get_thread("t1")->metadata == json{{"owner", "alice"}});
    CHECK(b.update_thread("t1", [](Thread& t) { t.status = "busy"; }));
    CHECK(a.get_thread("t1")->status == "busy");
    ThreadQuery q;
    q.auth_filter = {{"owner", "alice"}};
    CHECK(b.count_threads(q) == 1);
    CHECK(a.delete_thread("t1"));
    CHECK_FALSE(b.get_thread("t1"));
  }

  TEST_CASE("update_thread is atomic across servers") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage a(db.uri()), b(db.uri());
    REQUIRE(a.create_thread(make_thread("t", {{"count", 0}})));
    std::vector<std::thread> workers;
    for (int i = 0; i < 6; ++i)
      workers.emplace_back([&, i] {
        Storage& s = i % 2 ? static_cast<Storage&>(a) : b;
        for (int n = 0; n < 20; ++n)
          s.update_thread("t", [](Thread& t) { t.metadata["count"] = t.metadata["count"].get<int>() + 1; });
      });
    for (auto& w : workers) w.join();
    CHECK(a.get_thread("t")->metadata["count"] == 120);
  }

  TEST_CASE("lock_thread holds off the same thread on another server, not other threads") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage a(db.uri()), b(db.uri()), c(db.uri());
    std::atomic<bool> b_locked{false};
    auto held = a.lock_thread("t1");
    std::thread other([&] {
      auto guard = b.lock_thread("t1");
      b_locked = true;
    });
    {
      auto unrelated = c.lock_thread("t2");  // another thread: not held off
      CHECK(unrelated);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK_FALSE(b_locked.load());  // still waiting for a's lock
    held.reset();
    other.join();
    CHECK(b_locked.load());
    auto again = a.lock_thread("t1");  // b released it
    CHECK(again);
  }

  TEST_CASE("claim_run on two servers claims each run once and never two runs of a thread at once") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage a(db.uri()), b(db.uri());
    const int threads = 12, runs_per_thread = 5;
    const std::string past = iso8601_from_now(-60);
    for (int t = 0; t < threads; ++t) {
      for (int r = 0; r < runs_per_thread; ++r) {
        // Ready times interleave the threads; equal ready times are ordered by created_at.
        Run run = make_run("run-" + std::to_string(t) + "-" + std::to_string(r), "thread-" + std::to_string(t), past);
        run.created_at = iso8601_from_now(-50 + r);
        a.put_run(run);
      }
    }
    a.put_run(make_run("later", "thread-later", iso8601_from_now(3600)));  // not ready

    std::mutex mutex;
    std::set<std::string> claimed, running_threads;
    std::map<std::string, int> next_of_thread;  // runs of a thread start in created_at order
    std::atomic<int> twice{0}, overlapping{0}, out_of_order{0}, done{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w) {
      workers.emplace_back([&, w] {
        Storage& storage = w % 2 ? static_cast<Storage&>(a) : b;
        const std::string worker = "worker-" + std::to_string(w);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (done < threads * runs_per_thread && std::chrono::steady_clock::now() < deadline) {
          auto run = storage.claim_run(worker, now_iso8601(), iso8601_from_now(30));
          if (!run) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
          }
          {
            std::lock_guard lock(mutex);
            if (!claimed.insert(run->run_id).second) ++twice;
            if (!running_threads.insert(run->thread_id).second) ++overlapping;
            const std::string expected = "run-" + run->thread_id.substr(7) + "-" +
                                         std::to_string(next_of_thread[run->thread_id]++);
            if (run->run_id != expected) ++out_of_order;
          }
          CHECK_MESSAGE(run->status == "running", run->run_id);
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          {
            std::lock_guard lock(mutex);
            running_threads.erase(run->thread_id);
          }
          storage.update_run(run->run_id, [](Run& r) { r.status = "success"; });
          ++done;
        }
      });
    }
    for (auto& w : workers) w.join();
    CHECK(done == threads * runs_per_thread);
    CHECK(claimed.size() == static_cast<size_t>(threads * runs_per_thread));
    CHECK(twice == 0);
    CHECK(overlapping == 0);
    CHECK(out_of_order == 0);
    CHECK(a.get_run("later")->status == "pending");
    CHECK_FALSE(b.claim_run("x", now_iso8601(), iso8601_from_now(30)));
  }

  TEST_CASE("leases: renew_leases and expired_runs across servers") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage a(db.uri()), b(db.uri());
    a.put_run(make_run("r1", "t1", "2026-01-01T00:00:00.000000+00:00"));
    a.put_run(make_run("r2", "t2", "2026-01-01T00:00:00.000000+00:00"));
    const std::string now = "2026-01-01T00:00:10.000000+00:00";
    auto first = a.claim_run("server-a", now, "2026-01-01T00:00:40.000000+00:00");
    auto second = b.claim_run("server-b", now, "2026-01-01T00:00:40.000000+00:00");
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->run_id == "r1");
    CHECK(first->updated_at == now);
    CHECK(second->run_id == "r2");
    CHECK(a.expired_runs("2026-01-01T00:00:30.000000+00:00").empty());
    b.renew_leases("server-b", "2026-01-01T00:01:40.000000+00:00");
    auto expired = b.expired_runs("2026-01-01T00:01:00.000000+00:00");
    REQUIRE(expired.size() == 1);
    CHECK(expired[0].run_id == "r1");
    // A run put as running without a claim has no lease: it counts as orphaned.
    Run orphan = make_run("r3", "t3", now);
    orphan.status = "running";
    a.put_run(orphan);
    CHECK(b.expired_runs("2026-01-01T00:00:11.000000+00:00").size() == 1);
  }

  TEST_CASE("a dropped connection is replaced; an unreachable database gives StorageUnavailable") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage storage(db.uri());
    REQUIRE(storage.create_thread(make_thread("t1")));

    db.terminate_connections();
    CHECK(storage.get_thread("t1"));  // a read
    db.terminate_connections();
    CHECK(storage.create_thread(make_thread("t2")));  // a write in a transaction
    db.terminate_connections();
    CHECK(storage.update_thread("t2", [](Thread& t) { t.status = "busy"; }));
    db.terminate_connections();
    storage.put_item({{"a"}, "k", {{"v", 1}}, "x", "x"});  // an idempotent write
    CHECK(storage.get_item({"a"}, "k"));

    // Several connections in the pool, all dropped at once.
    std::vector<std::thread> readers;
    for (int i = 0; i < 4; ++i)
      readers.emplace_back([&] {
        for (int n = 0; n < 20; ++n) storage.get_thread("t1");
      });
    for (auto& r : readers) r.join();
    db.terminate_connections();
    for (int i = 0; i < 6; ++i) CHECK(storage.get_thread("t1"));

    // Dropped in the middle of a transaction: nothing was committed, so it runs again.
    int calls = 0;
    CHECK(storage.update_thread("t1", [&](Thread& t) {
      if (++calls == 1) db.terminate_connections();
      t.metadata["calls"] = calls;
    }));
    CHECK(calls == 2);
    CHECK(storage.get_thread("t1")->metadata["calls"] == 2);

    db.allow_connections(false);
    db.terminate_connections();
    CHECK_THROWS_AS(storage.get_thread("t1"), StorageUnavailable);
    CHECK_THROWS_AS(storage.create_thread(make_thread("t3")), StorageUnavailable);
    CHECK_THROWS_AS(storage.check(), StorageUnavailable);  // GET /ok?check_db=1
    db.allow_connections(true);
    CHECK_NOTHROW(storage.check());
    CHECK(storage.get_thread("t1"));
    CHECK(storage.create_thread(make_thread("t3")));
  }

  TEST_CASE("a run that ends while the database is down is stored as failed once it is back, not left running") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage storage(db.uri());
    Graphs graphs;
    graphs["sleeper"] = load_graph(PLUGIN_DIR, "sleeper");
    StreamHub streams(&storage);
    RunManager runs(storage, graphs, streams, 1);
    REQUIRE(storage.create_thread(make_thread("t")));
    Run run = make_run("r", "t", now_iso8601());
    run.kwargs = {{"input", {{"naps", json::array()}}},
                  {"config", {{"configurable", {{"graph_id", "sleeper"}, {"sleep_seconds", 1}}}}}};
    storage.put_run(run);
    runs.enqueue("r");
    const auto deadline = [](int seconds) { return std::chrono::steady_clock::now() + std::chrono::seconds(seconds); };
    for (auto until = deadline(10); storage.get_run("r")->status != "running";) {
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    // The database goes away while the run sleeps; the run ends meanwhile.
    db.allow_connections(false);
    db.terminate_connections();
    const auto ended = runs.wait("r");  // this server's waiters learn at once
    REQUIRE(ended);
    CHECK(ended->status == "error");
    CHECK(ended->error["error"] == "StorageUnavailable");
    db.allow_connections(true);

    // Stored with the next lease sweep (every 5 s), although this server renews its leases.
    std::optional<Run> stored;
    for (auto until = deadline(20); (stored = storage.get_run("r"))->status == "running";) {
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, "the run stays running");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(stored->status == "error");
    CHECK(stored->error["error"] == "StorageUnavailable");
    CHECK(storage.get_thread("t")->status == "error");
    runs.shutdown();
  }

  TEST_CASE("the connection pool reuses connections and opens at most 16") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage storage(db.uri());
    auto connections = [&] {
      return std::stoi(db.exec("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                               {db.name()}));
    };
    for (int i = 0; i < 50; ++i) storage.get_thread("t");
    CHECK(connections() == 1);
    std::atomic<int> max_seen{0};
    std::vector<std::thread> callers;
    for (int i = 0; i < 40; ++i)
      callers.emplace_back([&] {
        for (int n = 0; n < 10; ++n) {
          storage.update_thread("t", [](Thread&) {});
          storage.search_threads({});
        }
      });
    for (auto& c : callers) c.join();
    const int open = connections();
    CHECK(open >= 1);
    CHECK(open <= 16);
  }

  TEST_CASE("run events: append, read after an id, idempotent appends, delete by age") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage a(db.uri()), b(db.uri());
    std::vector<StreamEvent> events;
    for (int i = 0; i < 5; ++i)
      events.push_back({i, i == 0 ? "" : "values", i == 0 ? "metadata" : "values",
                        json{{"n", i}, {"text", "line \"quoted\" \\ é"}}.dump()});
    a.append_events("run-1", {events.begin(), events.begin() + 3});
    a.append_events("run-1", {events.begin() + 2, events.end()});  // 2 again: kept once
    a.append_events("run-2", {events[0]});
    auto all = b.read_events("run-1", -1, 100);
    REQUIRE(all.size() == 5);
    for (int i = 0; i < 5; ++i) {
      CHECK(all[i].id == i);
      CHECK(all[i].mode == events[i].mode);
      CHECK(all[i].event == events[i].event);
      CHECK(all[i].data == events[i].data);
    }
    auto after = b.read_events("run-1", 2, 1);
    REQUIRE(after.size() == 1);
    CHECK(after[0].id == 3);
    CHECK(b.read_events("run-1", 4, 10).empty());
    CHECK(b.read_events("nothing", -1, 10).empty());

    b.delete_events_before(iso8601_from_now(-3600));
    CHECK(a.read_events("run-1", -1, 100).size() == 5);
    // run-1 was appended to just now, run-2 an hour ago.
    db.exec("UPDATE run_events SET created_at = now() - interval '1 hour' WHERE run_id = 'run-2'");
    b.delete_events_before(iso8601_from_now(-60));
    CHECK(a.read_events("run-1", -1, 100).size() == 5);
    CHECK(a.read_events("run-2", -1, 100).empty());
    b.delete_events_before(iso8601_from_now(60));
    CHECK(a.read_events("run-1", -1, 100).empty());
  }

  TEST_CASE("migrations: servers starting together migrate once; a newer schema refuses to start") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    std::atomic<int> failures{0};
    std::vector<std::thread> starting;
    for (int i = 0; i < 4; ++i)
      starting.emplace_back([&] {
        try {
          PostgresStorage storage(db.uri());
          storage.get_thread("x");
        } catch (const std::exception& e) {
          std::fprintf(stderr, "start failed: %s\n", e.what());
          ++failures;
        }
      });
    for (auto& s : starting) s.join();
    CHECK(failures == 0);
    CHECK(db.exec("SELECT count(*) FROM langgraph_schema_migrations") ==
          std::to_string(PostgresStorage::schema_version()));
    CHECK(db.exec("SELECT max(version) FROM langgraph_schema_migrations") ==
          std::to_string(PostgresStorage::schema_version()));
    { PostgresStorage again(db.uri()); }  // nothing to do

    db.exec("INSERT INTO langgraph_schema_migrations (version) VALUES ($1::integer)",
            {std::to_string(PostgresStorage::schema_version() + 1)});
    try {
      PostgresStorage newer(db.uri());
      FAIL("a newer schema was accepted");
    } catch (const StartupError& e) {
      CHECK(std::string(e.what()).find("newer") != std::string::npos);
    }
  }

  TEST_CASE("cannot connect: StartupError names host and database, never the password") {
    SKIP_WITHOUT_POSTGRES();
    for (const std::string uri : {"postgresql://someone:s3cr3t-pw@127.0.0.1:1/no_such_db",
                                  "host=127.0.0.1 port=1 dbname=no_such_db user=someone password=s3cr3t-pw"}) {
      try {
        PostgresStorage storage(uri);
        FAIL("connected to " << uri);
      } catch (const StartupError& e) {
        const std::string message = e.what();
        CHECK_MESSAGE(message.find("127.0.0.1") != std::string::npos, message);
        CHECK_MESSAGE(message.find("no_such_db") != std::string::npos, message);
        CHECK_MESSAGE(message.find("s3cr3t-pw") == std::string::npos, message);
      }
    }
  }

  TEST_CASE("records round-trip exactly: timestamps, JSON, namespaces") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage storage(db.uri());
    Thread t = make_thread("t", {{"n", 1.5}, {"big", 9007199254740993LL}, {"s", "é \" \\ \n"}, {"nested", {{"a", {1, nullptr, true}}}}},
                           "2026-11-23T19:05:42.123456+00:00");
    t.values = nullptr;
    t.error = {{"error", "X"}};
    REQUIRE(storage.create_thread(t));
    auto back = storage.get_thread("t");
    REQUIRE(back);
    CHECK(back->to_json() == t.to_json());
    CHECK(back->created_at == "2026-11-23T19:05:42.123456+00:00");
    CHECK(back->values.is_null());

    Item item{{"a,b", "{c}", "\"d\"", ""}, "k\\", {{"v", 1}}, "2026-01-01T00:00:00.000000+00:00",
              "2026-01-01T00:00:00.000000+00:00"};
    storage.put_item(item);
    auto found = storage.get_item(item.namespace_path, "k\\");
    REQUIRE(found);
    CHECK(found->namespace_path == item.namespace_path);
    CHECK(storage.list_namespaces({}).at(0) == item.namespace_path);

    Checkpoint c;
    c.thread_id = "t";
    c.checkpoint_id = "0001";
    c.next = {"a", "b"};
    c.metadata = {{"run_id", "r"}};
    storage.put_checkpoint(c);
    CHECK(storage.latest_checkpoint("t")->to_state_json() == c.to_state_json());
  }

  TEST_CASE("filters, sorts and pages give what MemoryStorage gives") {
    SKIP_WITHOUT_POSTGRES();
    TestDatabase db;
    PostgresStorage pg(db.uri());
    MemoryStorage memory;

    const std::vector<json> owners = {"alice", "bob", 1, 1.0, 2, nullptr, json::array({"alice"}), json{{"x", 1}}};
    const std::vector<json> tag_sets = {json::array(), json::array({"a"}), json::array({"a", "b"}),
                                        json::array({"b", json{{"k", 1}}}), json::array({json::array({"a"})}), "a"};
    std::mt19937 random(7);
    for (int i = 0; i < 150; ++i) {
      json metadata = json::object();
      if (i % 7 != 0) metadata["owner"] = owners[random() % owners.size()];
      if (i % 3 != 0) metadata["tags"] = tag_sets[random() % tag_sets.size()];
      if (i % 5 == 0) metadata["team"] = {{"name", i % 2 ? "red" : "blue"}, {"size", i % 4}};
      char created[64];
      std::snprintf(created, sizeof created, "2026-01-01T00:00:%02d.000000+00:00", static_cast<int>(random() % 20));
      Thread t = make_thread("thread-" + std::to_string(1000 + (i * 37) % 150), metadata, created);
      t.updated_at = i % 4 ? created : "2026-01-02T00:00:00.000000+00:00";
      t.status = std::vector<std::string>{"idle", "busy", "error"}[i % 3];
      if (i % 2) t.values = {{"messages", json::array({{{"role", "user"}, {"n", i % 3}}})}, {"step", i % 4}};
      REQUIRE(pg.create_thread(t) == memory.create_thread(t));
    }

    const std::vector<json> filters = json::parse(R"([
        {},
        {"owner": "alice"},
        {"owner": 1},
        {"owner": null},
        {"owner": ["alice"]},
        {"owner": {"x": 1}},
        {"owner": {}},
        {"owner": {"$eq": "bob"}},
        {"owner": {"$ne": "bob"}},
        {"owner": {"$ne": null}},
        {"owner": {"$in": ["alice", 2]}},
        {"owner": {"$in": [null, ["alice"]]}},
        {"owner": {"$in": []}},
        {"tags": {"$contains": "a"}},
        {"tags": {"$contains": ["a", "b"]}},
        {"tags": {"$contains": []}},
        {"tags": {"$contains": {"k": 1}}},
        {"tags": {"$contains": [["a"]]}},
        {"tags": "a"},
        {"tags": ["a"]},
        {"team": {"name": "red", "size": 1}},
        {"team": {"name": "red"}},
        {"$or": [{"owner": "alice"}, {"tags": {"$contains": "b"}}]},
        {"$or": []},
        {"$and": [{"owner": {"$ne": "alice"}}, {"owner": {"$ne": 1}}]},
        {"$and": []},
        {"owner": "alice", "$or": [{"tags": {"$contains": "a"}}, {"team": {"$ne": null}}]},
        {"owner": {"$ne": "alice", "$in": ["bob", 1]}}
    ])");
    const std::vector<json> metadata_patterns = {json::object(), {{"owner", "alice"}}, {{"tags", {"a"}}},
                                                 {{"team", {{"name", "red"}}}}, {{"owner", 1.0}}};
    for (const auto& filter : filters) {
      for (const auto& sort : {"created_at", "updated_at", "thread_id", "status", "bogus"}) {
        for (bool descending : {true, false}) {
          ThreadQuery q;
          q.auth_filter = filter;
          q.sort_by = sort;
          q.descending = descending;
          q.limit = 1000;
          auto expected = memory.search_threads(q);
          auto got = pg.search_threads(q);
          CHECK_MESSAGE(ids_of(got.items) == ids_of(expected.items), filter.dump() << " " << sort << " " << descending);
          CHECK(got.more == expected.more);
          CHECK(pg.count_threads(q) == memory.count_threads(q));
          q.offset = 3;
          q.limit = 4;
          CHECK_MESSAGE(ids_of(pg.search_threads(q).items) == ids_of(memory.search_threads(q).items), filter.dump());
        }
      }
    }
    for (const auto& pattern : metadata_patterns) {
      ThreadQuery q;
      q.metadata = pattern;
      q.limit = 1000;
      CHECK_MESSAGE(ids_of(pg.search_threads(q).items) == ids_of(memory.search_threads(q).items), pattern.dump());
      q.metadata = json::object();
      q.values = {{"messages", {{{"n", 1}}}}};
      q.status = "busy";
      CHECK(ids_of(pg.search_threads(q).items) == ids_of(memory.search_threads(q).items));
      q.values = json::object();
      q.status.reset();
      q.ids = {"thread-1003", "thread-1100", "nope"};
      CHECK(ids_of(pg.search_threads(q).items) == ids_of(memory.search_threads(q).items));
    }
    {
      ThreadQuery q;
      q.offset = 200;
      CHECK(pg.count_threads(q) == 150);
      CHECK(pg.search_threads(q).items.empty());
    }

    // The store: prefixes, the value filter, authorization filters on the filter view.
    const std::vector<std::vector<std::string>> namespaces = {
        {}, {"a"}, {"a", "b"}, {"a", "b", "c"}, {"a", "bc"}, {"a\x01"}, {"ab"}, {"users", "alice", "memories"},
        {"users", "bob", "memories"}, {"users", "alice", "notes"}};
    for (size_t i = 0; i < namespaces.size() * 3; ++i) {
      Item item;
      item.namespace_path = namespaces[i % namespaces.size()];
      item.key = "k" + std::to_string(i % 4);
      item.value = i % 5 == 0 ? json{{"owner", "alice"}, {"key", "shadowed"}} : json{{"owner", i % 2 ? "bob" : "alice"}, {"n", i % 3}};
      item.created_at = item.updated_at = "2026-01-01T00:00:0" + std::to_string(i % 4) + ".000000+00:00";
      pg.put_item(item);
      memory.put_item(item);
    }
    auto item_ids = [](const std::vector<Item>& items) {
      std::vector<std::string> out;
      for (const auto& i : items) out.push_back(json(i.namespace_path).dump() + i.key);
      return out;
    };
    const std::vector<json> item_filters = {json::object(), {{"owner", "alice"}}, {{"key", "k1"}},
                                            {{"key", "shadowed"}}, {{"namespace", {{"$contains", "alice"}}}},
                                            {{"namespace", json::array({"a", "b"})}}, {{"n", {{"$in", {1, 2}}}}}};
    for (const auto& prefix : namespaces) {
      for (const auto& filter : item_filters) {
        ItemQuery q;
        q.namespace_prefix = prefix;
        q.auth_filter = filter;
        q.limit = 100;
        CHECK_MESSAGE(item_ids(pg.search_items(q)) == item_ids(memory.search_items(q)), json(prefix).dump() << filter.dump());
        q.value_filter = {{"n", 1}};
        CHECK(item_ids(pg.search_items(q)) == item_ids(memory.search_items(q)));
        NamespaceQuery nq;
        nq.prefix = prefix;
        nq.auth_filter = filter;
        CHECK(pg.list_namespaces(nq) == memory.list_namespaces(nq));
        for (int depth : {0, 1, 2, -1}) {
          nq.max_depth = depth;
          CHECK(pg.list_namespaces(nq) == memory.list_namespaces(nq));
        }
        nq.max_depth.reset();
        nq.suffix = {"memories"};
        nq.offset = 1;
        nq.limit = 2;
        CHECK(pg.list_namespaces(nq) == memory.list_namespaces(nq));
      }
    }
  }
}
