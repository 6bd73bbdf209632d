// What is specific to the SQLite storage: the file (persistence, lock, migrations, damaged
// content), group commit under concurrent writers, the indexed thread search, and a differential
// check against MemoryStorage, whose behaviour is the contract.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "config/startup_error.hpp"
#include "storage/memory_storage.hpp"
#include "storage/sqlite_storage.hpp"
#include "temp_dir.hpp"

using namespace lgs;

namespace {

// Runs SQL on the file directly, as another program would.
void raw_sql(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

int64_t raw_integer(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const int64_t value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::string startup_error(const std::filesystem::path& file) {
  try {
    SqliteStorage storage(file);
  } catch (const StartupError& e) {
    return e.what();
  }
  return "";
}

Thread make_thread(const std::string& id, const std::string& created_at, json metadata) {
  Thread t;
  t.thread_id = id;
  t.created_at = t.updated_at = created_at;
  t.metadata = std::move(metadata);
  return t;
}

// Creates the threads from 16 writers at once (sequential commits would each wait for the disk).
void create_all(SqliteStorage& s, const std::vector<Thread>& threads) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 16; ++w)
    writers.emplace_back([&] {
      for (size_t i = next++; i < threads.size(); i = next++) REQUIRE(s.create_thread(threads[i]));
    });
  for (auto& writer : writers) writer.join();
}

std::vector<std::string> ids_of(const ThreadPage& page) {
  std::vector<std::string> ids;
  for (const auto& t : page.items) ids.push_back(t.thread_id);
  return ids;
}

}  // namespace

TEST_SUITE("storage.sqlite") {
  TEST_CASE("every kind of record survives closing and reopening the file") {
    TempDir dir;
    const auto file = dir.path / "nested" / "folder" / "langgraph.sqlite";  // created on first open
    {
      SqliteStorage s(file);
      Assistant a;
      a.assistant_id = "a1";
      a.graph_id = "agent";
      a.name = "first";
      a.metadata = {{"owner", "alice"}};
      a.created_at = a.updated_at = "2024-01-01T00:00:00.000000+00:00";
      s.put_assistant(a);
      a.version = 2;
      a.name = "second";
      s.put_assistant(a);

      s.create_thread(make_thread("t1", "2024-01-01T00:00:01.000000+00:00", {{"owner", "alice"}, {"n", 1}}));
      s.update_thread("t1", [](Thread& t) {
        t.status = "busy";
        t.values = {{"messages", {"hi"}}};
      });

      Run r;
      r.run_id = "r1";
      r.thread_id = "t1";
      r.assistant_id = "a1";
      r.created_at = r.updated_at = r.ready_at = "2024-01-01T00:00:02.000000+00:00";
      r.kwargs = {{"input", {{"x", 1}}}};
      s.put_run(r);
      REQUIRE(s.claim_run("worker-1", "2024-01-01T00:00:03.000000+00:00", "2024-01-01T00:01:00.000000+00:00"));

      Checkpoint c;
      c.thread_id = "t1";
      c.checkpoint_id = "c1";
      c.values = {{"x", 1}};
      c.next = {"node"};
      c.metadata = {{"run_id", "r1"}, {"step", 0}};
      c.created_at = "2024-01-01T00:00:04.000000+00:00";
      s.put_checkpoint(c);

      Item item;
      item.namespace_path = {"users", "alice"};
      item.key = "prefs";
      item.value = {{"theme", "dark"}};
      item.created_at = item.updated_at = "2024-01-01T00:00:05.000000+00:00";
      s.put_item(item);
    }
    CHECK(std::filesystem::exists(dir.path / "nested" / "folder" / "langgraph.sqlite.lock"));
    SqliteStorage s(file);

    auto a = s.get_assistant("a1");
    REQUIRE(a);
    CHECK(a->name == "second");
    CHECK(a->version == 2);
    CHECK(s.assistant_versions("a1").size() == 2);

    auto t = s.get_thread("t1");
    REQUIRE(t);
    CHECK(t->status == "busy");
    CHECK(t->values == json{{"messages", {"hi"}}});
    ThreadQuery by_owner;
    by_owner.auth_filter = {{"owner", "alice"}};
    CHECK(s.count_threads(by_owner) == 1);

    auto r = s.get_run("r1");
    REQUIRE(r);
    CHECK(r->status == "running");
    CHECK(r->kwargs == json{{"input", {{"x", 1}}}});
    CHECK(s.expired_runs("2024-01-01T00:00:30.000000+00:00").empty());  // the lease is kept too
    CHECK(s.expired_runs("2024-01-01T00:02:00.000000+00:00").size() == 1);

    auto c = s.latest_checkpoint("t1");
    REQUIRE(c);
    CHECK(c->next == std::vector<std::string>{"node"});
    s.delete_checkpoints_of_run("t1", "r1");
    CHECK_FALSE(s.latest_checkpoint("t1"));

    auto item = s.get_item({"users", "alice"}, "prefs");
    REQUIRE(item);
    CHECK(item->value == json{{"theme", "dark"}});
    NamespaceQuery namespaces;
    CHECK(s.list_namespaces(namespaces) == std::vector<std::vector<std::string>>{{"users", "alice"}});
  }

  TEST_CASE("a second storage on the same file is refused while the first is open") {
    TempDir dir;
    const auto file = dir.path / "db.sqlite";
    {
      SqliteStorage first(file);
      const std::string error = startup_error(file);
      CHECK(error.find(file.string()) != std::string::npos);
      CHECK(error.find("in use by another langgraph-server") != std::string::npos);
      CHECK(error.find("pid " + std::to_string(::getpid())) != std::string::npos);
    }
    CHECK(startup_error(file).empty());  // released with the first
  }

  TEST_CASE("every write acknowledged before a kill -9 is in the file") {
    TempDir dir;
    const auto file = dir.path / "db.sqlite";
    int acks[2];
    REQUIRE(::pipe(acks) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Writes from 8 threads until killed; an id goes to the pipe once create_thread returned.
      ::close(acks[0]);
      SqliteStorage s(file);
      std::vector<std::thread> writers;
      for (int w = 0; w < 8; ++w)
        writers.emplace_back([&, w] {
          for (int i = 0;; ++i) {
            const std::string id = fmt::format("t-{}-{}", w, i);
            s.create_thread(make_thread(id, "2024-01-01T00:00:00.000000+00:00", {{"owner", "x"}}));
            const std::string line = id + "\n";  // shorter than PIPE_BUF: written at once
            if (::write(acks[1], line.data(), line.size()) < 0) ::_exit(1);
          }
        });
      for (auto& writer : writers) writer.join();
      ::_exit(0);
    }
    ::close(acks[1]);
    std::string acknowledged;
    char buffer[4096];
    while (std::count(acknowledged.begin(), acknowledged.end(), '\n') < 300) {
      const ssize_t n = ::read(acks[0], buffer, sizeof buffer);
      REQUIRE(n > 0);
      acknowledged.append(buffer, static_cast<size_t>(n));
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    for (ssize_t n; (n = ::read(acks[0], buffer, sizeof buffer)) > 0;) acknowledged.append(buffer, static_cast<size_t>(n));
    ::close(acks[0]);

    SqliteStorage s(file);  // the lock went with the killed process
    size_t checked = 0;
    for (size_t begin = 0, end; (end = acknowledged.find('\n', begin)) != std::string::npos; begin = end + 1) {
      const std::string id = acknowledged.substr(begin, end - begin);
      CHECK_MESSAGE(s.get_thread(id).has_value(), id);
      ++checked;
    }
    CHECK(checked >= 300);
  }

  TEST_CASE("the schema is migrated at open, once; a newer or foreign file is refused") {
    TempDir dir;
    SUBCASE("a new file gets the current version") {
      const auto file = dir.path / "new.sqlite";
      { SqliteStorage s(file); }
      CHECK(raw_integer(file, "PRAGMA user_version") == SqliteStorage::kSchemaVersion);
      { SqliteStorage again(file); }  // idempotent
      CHECK(raw_integer(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'threads'") == 1);
    }
    SUBCASE("an empty SQLite file is migrated") {
      const auto file = dir.path / "empty.sqlite";
      raw_sql(file, "PRAGMA user_version = 0");
      { SqliteStorage s(file); }
      CHECK(raw_integer(file, "PRAGMA user_version") == SqliteStorage::kSchemaVersion);
    }
    SUBCASE("a newer schema") {
      const auto file = dir.path / "newer.sqlite";
      { SqliteStorage s(file); }
      raw_sql(file, "PRAGMA user_version = " + std::to_string(SqliteStorage::kSchemaVersion + 1));
      const std::string error = startup_error(file);
      CHECK(error.find(file.string()) != std::string::npos);
      CHECK(error.find("newer") != std::string::npos);
    }
    SUBCASE("another application's database") {
      const auto file = dir.path / "other.sqlite";
      raw_sql(file, "CREATE TABLE notes (text TEXT)");
      CHECK(startup_error(file).find("another application") != std::string::npos);
    }
    SUBCASE("a file that is no database") {
      const auto file = dir.write("garbage.sqlite", std::string(8192, 'x'));
      const std::string error = startup_error(file);
      CHECK(error.find(file.string()) != std::string::npos);
    }
    SUBCASE("a folder that cannot be created") {
      const auto blocker = dir.write("blocker", "a file where a folder should be");
      CHECK_FALSE(startup_error(blocker / "db.sqlite").empty());
    }
  }

  TEST_CASE("the log is in WAL mode") {
    TempDir dir;
    const auto file = dir.path / "db.sqlite";
    { SqliteStorage s(file); }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  TEST_CASE("damaged JSON in the file is read as defaults, never a crash") {
    TempDir dir;
    const auto file = dir.path / "db.sqlite";
    {
      SqliteStorage s(file);
      s.create_thread(make_thread("t1", "2024-01-01T00:00:00.000000+00:00", {{"owner", "alice"}}));
      Item item;
      item.namespace_path = {"a"};
      item.key = "k";
      item.created_at = item.updated_at = "2024";
      s.put_item(item);
    }
    raw_sql(file, "UPDATE threads SET metadata = '{\"owner\": ', vals = 'nope', error = x'00ff'; "
                  "UPDATE items SET value = '[[[', ns = x'01'");
    SqliteStorage s(file);
    auto t = s.get_thread("t1");
    REQUIRE(t);
    CHECK(t->metadata == json::object());
    CHECK(t->values.is_null());
    ThreadQuery q;
    q.auth_filter = {{"owner", {{"$ne", "bob"}}}};
    q.values = {{"x", 1}};
    CHECK(s.count_threads(q) == 0);
    ItemQuery items;
    items.auth_filter = {{"key", "k"}};
    CHECK_NOTHROW(s.search_items(items));
    NamespaceQuery namespaces;
    namespaces.suffix = {"a"};
    namespaces.auth_filter = {{"key", "k"}};
    CHECK_NOTHROW(s.list_namespaces(namespaces));
    CHECK(s.list_namespaces(NamespaceQuery{}).size() == 1);
  }

  TEST_CASE("concurrent writers are batched, and a failing write leaves the rest of its batch in") {
    TempDir dir;
    SqliteStorage s(dir.path / "db.sqlite");
    s.create_thread(make_thread("shared", "2024-01-01T00:00:00.000000+00:00", {{"owner", "nobody"}}));
    constexpr int kThreads = 16;
    constexpr int kEach = 150;
    std::barrier start(kThreads);
    std::atomic<int> failures{0};
    std::atomic<int> duplicates{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kThreads; ++w) {
      writers.emplace_back([&, w] {
        start.arrive_and_wait();
        for (int i = 0; i < kEach; ++i) {
          const std::string id = fmt::format("t-{}-{}", w, i);
          CHECK(s.create_thread(make_thread(id, fmt::format("2024-01-02T00:00:{:02}.{:06}+00:00", w, i),
                                            {{"owner", fmt::format("user-{}", w)}, {"i", i}})));
          if (!s.create_thread(make_thread(id, "2025", json::object()))) ++duplicates;
          if (i % 10 == 0) {
            // Changes the metadata, then fails: nothing of it may stay.
            try {
              s.update_thread(id, [](Thread& t) {
                t.metadata["owner"] = "thief";
                throw std::runtime_error("refused");
              });
            } catch (const std::runtime_error&) {
              ++failures;
            }
          }
          s.update_thread("shared", [](Thread& t) { t.metadata["count"] = t.metadata.value("count", 0) + 1; });
        }
      });
    }
    for (auto& writer : writers) writer.join();
    CHECK(failures == kThreads * kEach / 10);
    CHECK(duplicates == kThreads * kEach);
    CHECK(s.get_thread("shared")->metadata["count"] == kThreads * kEach);  // read-modify-write is atomic

    ThreadQuery all;
    all.limit = 0;
    CHECK(s.count_threads(all) == kThreads * kEach + 1);
    ThreadQuery thief;
    thief.auth_filter = {{"owner", "thief"}};
    CHECK(s.count_threads(thief) == 0);
    ThreadQuery one_user;
    one_user.auth_filter = {{"owner", "user-3"}};
    one_user.limit = 1000;
    const auto page = s.search_threads(one_user);
    CHECK(s.count_threads(one_user) == kEach);
    CHECK_FALSE(page.more);
    REQUIRE(page.items.size() == kEach);
    CHECK(page.items.front().thread_id == fmt::format("t-3-{}", kEach - 1));  // newest first

    const auto stats = s.write_stats();
    INFO("jobs " << stats.jobs << ", batches " << stats.batches << ", syncs " << stats.syncs);
    CHECK(stats.batches < stats.jobs / 2);  // really grouped
    // Every committed write was answered after a sync of the log, and a sync serves whole commits.
    CHECK(stats.synced == stats.jobs);
    CHECK(stats.syncs >= 1);
    CHECK(stats.syncs <= stats.batches);
  }

  TEST_CASE("a write that waits only for its commit is visible at once, and reaches the disk without another write") {
    TempDir dir;
    SqliteStorage s(dir.path / "db.sqlite");
    const auto before = s.write_stats();
    REQUIRE(s.create_thread(make_thread("t1", "2024-01-01T00:00:00.000000+00:00", {{"n", 1}}), WriteWait::committed));
    CHECK(s.get_thread("t1"));  // committed: readers see it
    auto after = s.write_stats();
    CHECK(after.jobs == before.jobs + 1);
    CHECK(after.synced == before.synced);  // answered without waiting for a sync
    // Synced within kCommittedSyncDelay, with no other write to bring it along.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (s.write_stats().syncs == after.syncs && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(s.write_stats().syncs == after.syncs + 1);
    // A write that waits for the disk is answered after a sync.
    after = s.write_stats();
    REQUIRE(s.create_thread(make_thread("t2", "2024-01-01T00:00:01.000000+00:00", {})));
    CHECK(s.write_stats().synced == after.synced + 1);
    CHECK(s.write_stats().syncs == after.syncs + 1);
  }

  TEST_CASE("a metadata equality drives the thread search through the index") {
    TempDir dir;
    SqliteStorage s(dir.path / "db.sqlite");
    std::vector<Thread> threads;
    for (int i = 0; i < 2000; ++i)
      threads.push_back(make_thread(fmt::format("t{:05}", i),
                                    fmt::format("2024-01-01T00:{:02}:{:02}.000000+00:00", i / 60 % 60, i % 60),
                                    {{"owner", fmt::format("user-{}", i % 100)}, {"tags", {"a", i % 2 ? "odd" : "even"}}}));
    create_all(s, threads);
    auto plan_of = [&](const ThreadQuery& q) {
      const std::string plan = s.search_threads_plan(q);
      INFO(plan);
      CHECK(plan.find("SEARCH m USING PRIMARY KEY (key=? AND value=?)") != std::string::npos);
      CHECK(plan.find("SCAN t") == std::string::npos);  // no table scan (json_each lists are scanned)
      CHECK(plan.find("SCAN m") == std::string::npos);
      return plan;
    };
    ThreadQuery q;
    q.auth_filter = {{"owner", "user-7"}};
    CHECK(plan_of(q).find("TEMP B-TREE") == std::string::npos);  // already in created_at order
    auto page = s.search_threads(q);
    CHECK(s.count_threads(q) == 20);
    CHECK(page.more);
    CHECK(ids_of(page).front() == "t01907");
    q.descending = false;  // the same range, read the other way
    CHECK(plan_of(q).find("TEMP B-TREE") == std::string::npos);
    CHECK(ids_of(s.search_threads(q)).front() == "t00007");
    q.descending = true;

    q.auth_filter = {{"$and", {{{"owner", {{"$eq", "user-7"}}}}, {{"tags", {{"$contains", "odd"}}}}}}};
    plan_of(q);
    CHECK(s.count_threads(q) == 20);

    q.auth_filter = {{"owner", {{"$in", {"user-1", "user-2"}}}}};
    plan_of(q);
    page = s.search_threads(q);
    CHECK(s.count_threads(q) == 40);
    CHECK(ids_of(page).front() == "t01902");

    q.auth_filter = json::object();
    q.metadata = {{"owner", "user-8"}, {"tags", {"even"}}};
    q.sort_by = "updated_at";
    plan_of(q);
    CHECK(s.count_threads(q) == 20);
  }

  TEST_CASE("lists without a filter are read from an index in either direction, never sorted") {
    TempDir dir;
    SqliteStorage s(dir.path / "db.sqlite");
    ThreadQuery q;
    for (const char* sort : {"created_at", "updated_at"})
      for (bool descending : {true, false}) {
        q.sort_by = sort;
        q.descending = descending;
        const std::string plan = s.search_threads_plan(q);
        INFO(sort << (descending ? " desc: " : " asc: ") << plan);
        CHECK(plan.find(std::string("USING INDEX threads_by_") + (sort[0] == 'c' ? "created" : "updated")) !=
              std::string::npos);
        CHECK(plan.find("TEMP B-TREE") == std::string::npos);
      }
  }

  TEST_CASE("a database of schema version 2 (descending indexes, a by-thread index) is migrated and keeps working") {
    TempDir dir;
    const auto file = dir.path / "v2.sqlite";
    {
      SqliteStorage s(file);
      for (int i = 0; i < 6; ++i)
        REQUIRE(s.create_thread(make_thread(fmt::format("t{}", i), fmt::format("2024-01-01T00:00:0{}.000000+00:00", i),
                                            {{"owner", i % 2 ? "alice" : "bob"}, {"n", i}})));
    }
    // Back to version 2's schema, as that version left it.
    raw_sql(file, R"sql(
      DROP INDEX threads_by_created; DROP INDEX threads_by_updated;
      CREATE INDEX threads_by_created ON threads (created_at DESC, thread_id);
      CREATE INDEX threads_by_updated ON threads (updated_at DESC, thread_id);
      CREATE TABLE old_metadata (key TEXT NOT NULL, value TEXT NOT NULL, created_at TEXT NOT NULL,
        thread_id TEXT NOT NULL, thread INTEGER NOT NULL, PRIMARY KEY (key, value, created_at DESC, thread_id))
        WITHOUT ROWID;
      INSERT INTO old_metadata SELECT * FROM thread_metadata;
      DROP TABLE thread_metadata; ALTER TABLE old_metadata RENAME TO thread_metadata;
      CREATE INDEX thread_metadata_by_thread ON thread_metadata (thread);
      DROP INDEX runs_by_thread; CREATE INDEX runs_by_thread ON runs (thread_id, created_at DESC, run_id);
      DROP INDEX crons_by_created; CREATE INDEX crons_by_created ON crons (created_at DESC, cron_id);
      PRAGMA user_version = 2;)sql");
    SqliteStorage s(file);
    CHECK(raw_integer(file, "PRAGMA user_version") == SqliteStorage::kSchemaVersion);
    CHECK(raw_integer(file, "SELECT count(*) FROM sqlite_schema WHERE name = 'thread_metadata_by_thread'") == 0);
    CHECK(raw_integer(file, "SELECT count(*) FROM thread_metadata") == 12);
    ThreadQuery q;
    q.auth_filter = {{"owner", "alice"}};
    CHECK(ids_of(s.search_threads(q)) == std::vector<std::string>{"t5", "t3", "t1"});
    CHECK(s.search_threads_plan(q).find("TEMP B-TREE") == std::string::npos);
    // Changing and deleting threads finds their index rows without the by-thread index.
    REQUIRE(s.update_thread("t3", [](Thread& t) { t.metadata = {{"owner", "bob"}}; }));
    REQUIRE(s.delete_thread("t5"));
    CHECK(ids_of(s.search_threads(q)) == std::vector<std::string>{"t1"});
    q.auth_filter = {{"owner", "bob"}};
    CHECK(ids_of(s.search_threads(q)) == std::vector<std::string>{"t4", "t3", "t2", "t0"});
    CHECK(raw_integer(file, "SELECT count(*) FROM thread_metadata") == 9);  // t3 lost "n", t5 is gone
  }

  TEST_CASE("the same answers as MemoryStorage on random operations") {
    TempDir dir;
    SqliteStorage sqlite(dir.path / "db.sqlite");
    MemoryStorage memory;
    std::mt19937 rng(12345);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    // Few distinct values so that filters match and sort keys tie.
    // Also what JSON paths and SQL compare differently if carelessly translated: escapes, -0.0,
    // integers beyond 2^53 (equal to a double in nlohmann::json), unicode.
    const std::vector<json> scalars = {"alice", "bob",        1,         1.0,  2,       true,
                                       false,   nullptr,      "",        "1",  "a\"b", "\u00e9t\u00e9",
                                       -0.0,    9007199254740993, uint64_t{9007199254740993}, 9007199254740992.0,
                                       "a.b"};
    auto random_value = [&]() -> json {
      switch (pick(4)) {
        case 0:
          return json::array({scalars[pick(scalars.size())], scalars[pick(scalars.size())]});
        case 1:
          return json{{"k", scalars[pick(scalars.size())]}};
        default:
          return scalars[pick(scalars.size())];
      }
    };
    const std::vector<std::string> keys = {"owner", "team", "tags", "level", "a.b", "we\"ird", ""};
    auto random_object = [&] {
      json object = json::object();
      for (const auto& key : keys)
        if (pick(3)) object[key] = random_value();
      return object;
    };
    auto random_time = [&] { return fmt::format("2024-01-01T00:00:0{}.000000+00:00", pick(4)); };
    auto random_condition = [&]() -> json {
      switch (pick(6)) {
        case 0:
          return {{"$eq", random_value()}};
        case 1:
          return {{"$ne", random_value()}};
        case 2:
          return {{"$in", json::array({random_value(), random_value()})}};
        case 3:
          return {{"$contains", pick(2) ? random_value() : json::array({random_value()})}};
        default:
          return random_value();
      }
    };
    std::function<json(int)> random_filter = [&](int depth) {
      json filter = json::object();
      for (int i = pick(3); i > 0; --i) {
        if (depth < 2 && pick(4) == 0) {
          filter[pick(2) ? "$or" : "$and"] = json::array({random_filter(depth + 1), random_filter(depth + 1)});
        } else {
          filter[keys[pick(keys.size())]] = random_condition();
        }
      }
      return filter;
    };
    auto thread_id = [&] { return fmt::format("t{}", pick(40)); };
    auto same_threads = [](const ThreadPage& a, const ThreadPage& b) {
      CHECK(a.more == b.more);
      REQUIRE(a.items.size() == b.items.size());
      for (size_t i = 0; i < a.items.size(); ++i) CHECK(a.items[i].to_json() == b.items[i].to_json());
    };

    for (int step = 0; step < 1500; ++step) {
      switch (pick(12)) {
        case 0:
        case 1:
        case 2: {
          Thread t = make_thread(thread_id(), random_time(), random_object());
          t.status = pick(2) ? "idle" : "busy";
          t.values = pick(2) ? json{{"x", random_value()}} : json();
          CHECK(sqlite.create_thread(t) == memory.create_thread(t));
          break;
        }
        case 3: {
          const std::string id = thread_id();
          const json metadata = random_object();
          const std::string time = random_time();
          auto change = [&](Thread& t) {
            t.metadata = metadata;
            t.updated_at = time;
            t.status = "interrupted";
          };
          CHECK(sqlite.update_thread(id, change) == memory.update_thread(id, change));
          break;
        }
        case 4: {
          const std::string id = thread_id();
          CHECK(sqlite.delete_thread(id) == memory.delete_thread(id));
          break;
        }
        case 5: {
          Run r;
          r.run_id = fmt::format("r{}", pick(30));
          r.thread_id = thread_id();
          r.created_at = random_time();
          r.ready_at = random_time();
          r.status = pick(4) ? "pending" : "success";
          sqlite.put_run(r);
          memory.put_run(r);
          break;
        }
        case 6: {
          const std::string now = random_time();
          auto a = sqlite.claim_run("w", now, "2024-01-01T00:00:05.000000+00:00");
          auto b = memory.claim_run("w", now, "2024-01-01T00:00:05.000000+00:00");
          REQUIRE(a.has_value() == b.has_value());
          if (a) CHECK(a->to_json() == b->to_json());
          RunQuery rq;
          rq.thread_id = thread_id();
          rq.limit = 1 + pick(3);
          rq.offset = pick(2);
          const auto ra = sqlite.list_runs(rq), rb = memory.list_runs(rq);
          CHECK(ra.total == rb.total);
          REQUIRE(ra.items.size() == rb.items.size());
          for (size_t i = 0; i < ra.items.size(); ++i) CHECK(ra.items[i].to_json() == rb.items[i].to_json());
          break;
        }
        case 7: {
          Checkpoint c;
          c.thread_id = thread_id();
          c.checkpoint_id = fmt::format("c{}", pick(10));
          c.metadata = {{"run_id", fmt::format("r{}", pick(3))}, {"step", pick(3)}};
          c.created_at = random_time();
          sqlite.put_checkpoint(c);
          memory.put_checkpoint(c);
          const std::string id = thread_id();
          const std::string before = pick(2) ? fmt::format("c{}", pick(10)) : "";
          const json metadata = pick(2) ? json::object() : json{{"step", pick(3)}};
          const int limit = pick(4);
          const auto a = sqlite.list_checkpoints(id, limit, before, metadata);
          const auto b = memory.list_checkpoints(id, limit, before, metadata);
          REQUIRE(a.size() == b.size());
          for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].to_state_json() == b[i].to_state_json());
          if (pick(5) == 0) {
            const std::string run = fmt::format("r{}", pick(3));
            sqlite.delete_checkpoints_of_run(id, run);
            memory.delete_checkpoints_of_run(id, run);
          }
          break;
        }
        case 8: {
          Item item;
          const std::vector<std::vector<std::string>> paths = {{"a"}, {"a", "b"}, {"a", "b", "c"}, {"ab"}, {"a", ""},
                                                               {"b", "a"}, {std::string("a\0b", 3)}, {"\x01"}};
          item.namespace_path = paths[pick(paths.size())];
          item.key = fmt::format("k{}", pick(3));
          item.value = random_object();
          item.created_at = item.updated_at = random_time();
          if (pick(6)) {
            sqlite.put_item(item);
            memory.put_item(item);
          } else {
            CHECK(sqlite.delete_item(item.namespace_path, item.key) == memory.delete_item(item.namespace_path, item.key));
          }
          ItemQuery iq;
          iq.namespace_prefix = pick(2) ? std::vector<std::string>{} : paths[pick(paths.size())];
          if (pick(3) == 0) iq.value_filter = {{keys[pick(keys.size())], random_value()}};
          if (pick(3) == 0) iq.auth_filter = random_filter(0);
          iq.limit = 1 + pick(5);
          iq.offset = pick(3);
          const auto ia = sqlite.search_items(iq), ib = memory.search_items(iq);
          REQUIRE(ia.size() == ib.size());
          for (size_t i = 0; i < ia.size(); ++i) CHECK(ia[i].to_json() == ib[i].to_json());
          NamespaceQuery nq;
          if (pick(2)) nq.prefix = paths[pick(paths.size())];
          if (pick(3) == 0) nq.suffix = {pick(2) ? "b" : "a"};
          if (pick(2)) nq.max_depth = pick(4) - 1;
          if (pick(4) == 0) nq.auth_filter = random_filter(0);
          nq.limit = 1 + pick(6);
          nq.offset = pick(2);
          CHECK(sqlite.list_namespaces(nq) == memory.list_namespaces(nq));
          break;
        }
        case 9: {
          Assistant a;
          a.assistant_id = fmt::format("a{}", pick(5));
          a.graph_id = pick(2) ? "g1" : "g2";
          a.name = pick(2) ? "alpha" : "beta";
          a.version = 1 + pick(3);
          a.metadata = random_object();
          a.created_at = random_time();
          a.updated_at = random_time();
          if (pick(5)) {
            sqlite.put_assistant(a);
            memory.put_assistant(a);
          } else {
            CHECK(sqlite.delete_assistant(a.assistant_id) == memory.delete_assistant(a.assistant_id));
          }
          AssistantQuery aq;
          if (pick(2)) aq.auth_filter = random_filter(0);
          if (pick(3) == 0) aq.metadata = {{keys[pick(keys.size())], random_value()}};
          if (pick(3) == 0) aq.graph_id = "g1";
          if (pick(3) == 0) aq.name = pick(2) ? "ph" : "";
          const std::vector<std::string> sorts = {"assistant_id", "graph_id", "name", "created_at", "updated_at"};
          aq.sort_by = sorts[pick(sorts.size())];
          aq.descending = pick(2);
          aq.limit = 1 + pick(4);
          aq.offset = pick(2);
          const auto pa = sqlite.search_assistants(aq), pb = memory.search_assistants(aq);
          CHECK(pa.total == pb.total);
          REQUIRE(pa.items.size() == pb.items.size());
          for (size_t i = 0; i < pa.items.size(); ++i) CHECK(pa.items[i].to_json() == pb.items[i].to_json());
          const auto va = sqlite.assistant_versions(a.assistant_id), vb = memory.assistant_versions(a.assistant_id);
          REQUIRE(va.size() == vb.size());
          for (size_t i = 0; i < va.size(); ++i) CHECK(va[i].to_json() == vb[i].to_json());
          break;
        }
        default: {
          ThreadQuery q;
          if (pick(3)) q.auth_filter = random_filter(0);
          if (pick(3) == 0) q.metadata = {{keys[pick(keys.size())], random_value()}};
          if (pick(5) == 0) q.values = {{"x", random_value()}};
          if (pick(5) == 0) q.status = "idle";
          if (pick(6) == 0) q.ids = {thread_id(), thread_id()};
          const std::vector<std::string> sorts = {"thread_id", "status", "created_at", "updated_at"};
          q.sort_by = sorts[pick(sorts.size())];
          q.descending = pick(2);
          q.limit = pick(6);
          q.offset = pick(3);
          INFO("query " << q.auth_filter.dump() << " metadata " << q.metadata.dump() << " sort " << q.sort_by);
          same_threads(sqlite.search_threads(q), memory.search_threads(q));
          CHECK(sqlite.count_threads(q) == memory.count_threads(q));
          break;
        }
      }
    }
    // Expired runs and leases, after all that.
    sqlite.renew_leases("w", "2024-01-01T00:00:02.000000+00:00");
    memory.renew_leases("w", "2024-01-01T00:00:02.000000+00:00");
    const auto ea = sqlite.expired_runs("2024-01-01T00:00:03.000000+00:00");
    const auto eb = memory.expired_runs("2024-01-01T00:00:03.000000+00:00");
    REQUIRE(ea.size() == eb.size());
    for (size_t i = 0; i < ea.size(); ++i) CHECK(ea[i].to_json() == eb[i].to_json());
  }
}
