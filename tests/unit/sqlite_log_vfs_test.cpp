// The write-ahead log VFS (storage/sqlite_log_vfs): a connection on it leaves in the file, and
// shows to connections on the default VFS, what the default VFS would, also for transactions
// larger than its page cache or its buffer, pages written twice in one transaction, and
// checkpoints and log restarts by other connections.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <map>
#include <string>

#include "storage/sqlite_log_vfs.hpp"
#include "temp_dir.hpp"

using namespace lgs;

namespace {

class Db {
 public:
  Db(const std::filesystem::path& file, const char* vfs) {
    REQUIRE(sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << message);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    const auto* value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    std::string out = value ? value : "";
    sqlite3_finalize(stmt);
    return out;
  }
  void put(int id, const std::string& value) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO t (id, v) VALUES (?, ?)", -1, &stmt, nullptr) == SQLITE_OK);
    sqlite3_bind_int(stmt, 1, id);
    sqlite3_bind_blob(stmt, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_finalize(stmt);
  }
  std::map<int, std::string> all() {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, "SELECT id, v FROM t ORDER BY id", -1, &stmt, nullptr) == SQLITE_OK);
    std::map<int, std::string> rows;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt, 1));
      rows[sqlite3_column_int(stmt, 0)] = std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt, 1)));
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string value_of(int id, int version, size_t size) {
  std::string value(size, '\0');
  for (size_t i = 0; i < size; ++i) value[i] = static_cast<char>((id * 31 + version * 7 + static_cast<int>(i)) & 0xff);
  return value;
}

}  // namespace

TEST_SUITE("storage.sqlite") {
  TEST_CASE("the log VFS writes what the default VFS would, in big and small transactions") {
    const char* vfs = sqlite_log_vfs();
    REQUIRE(vfs != nullptr);
    // With FULL, SQLite syncs the log before a commit counts; with NORMAL it does not, and the
    // other connection must still see every commit at once.
    std::string synchronous;
    SUBCASE("synchronous = FULL") { synchronous = "FULL"; }
    SUBCASE("synchronous = NORMAL") { synchronous = "NORMAL"; }
    TempDir dir;
    const auto file = dir.path / "db.sqlite";
    std::map<int, std::string> expected;
    {
      Db writer(file, vfs);
      writer.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = " + synchronous +
                  "; PRAGMA cache_size = 20;"
                  "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
      Db reader(file, nullptr);

      // Larger than the cache (pages spill to the log and are read back) and than the buffer;
      // every row written twice, so spilled pages are changed again in the same transaction.
      writer.exec("BEGIN IMMEDIATE");
      for (int version = 0; version < 2; ++version)
        for (int id = 0; id < 600; ++id) {
          writer.put(id, value_of(id, version, 2000 + static_cast<size_t>(id % 7) * 300));
          expected[id] = value_of(id, version, 2000 + static_cast<size_t>(id % 7) * 300);
        }
      CHECK(reader.text("SELECT count(*) FROM t") == "0");  // not committed: not visible
      writer.exec("COMMIT");
      CHECK(reader.all() == expected);

      // Small transactions, checkpoints of the other connection between them, log restarts.
      for (int round = 0; round < 40; ++round) {
        writer.exec("BEGIN IMMEDIATE");
        for (int id = round * 13 % 600, n = 0; n < 5; ++n, id = (id + 101) % 600) {
          writer.put(id, value_of(id, round + 2, 100 + static_cast<size_t>(round) * 50));
          expected[id] = value_of(id, round + 2, 100 + static_cast<size_t>(round) * 50);
        }
        writer.exec("COMMIT");
        if (round % 10 == 3) reader.exec("PRAGMA wal_checkpoint(PASSIVE)");
        if (round % 10 == 7) reader.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        CHECK(reader.all() == expected);
      }
      CHECK(writer.all() == expected);

      // A failed transaction leaves nothing.
      writer.exec("BEGIN IMMEDIATE");
      for (int id = 0; id < 600; ++id) writer.put(id, value_of(id, 99, 3000));
      writer.exec("ROLLBACK");
      CHECK(writer.all() == expected);
      CHECK(reader.all() == expected);
    }
    Db reopened(file, nullptr);
    CHECK(reopened.text("PRAGMA integrity_check") == "ok");
    CHECK(reopened.all() == expected);
  }
}
