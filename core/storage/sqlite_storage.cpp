#include "storage/sqlite_storage.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "authz/filter.hpp"
#include "config/startup_error.hpp"
#include "storage/sqlite_log_vfs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace lgs {

namespace {

constexpr int kApplicationId = 0x4c475356;  // "LGSV" in the file header: a langgraph-server database

// Each entry migrates the schema from version i to i + 1 (PRAGMA user_version).
//
// Records keep their JSON fields as text. thread_metadata holds every top-level scalar of a
// thread's metadata as (key, value as canonical JSON text, created_at, thread_id, thread = the
// thread's row id): searches on a metadata equality read one range of its primary key, already in
// search order, and reach the thread by row id. Its rows are a function of the thread's stored
// metadata, which finds them again when the thread changes or goes. Lists sort by the field,
// then the id, in one direction: indexes are ascending, so new rows go at their end (SQLite
// rewrites several pages where an index grows at its start), and a descending page is the index
// read backwards. Store items keep their namespace as an encoded blob
// (encode_path) whose byte order is the namespaces' order and in which a namespace prefix is a
// byte prefix, so that a prefix search is a range.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE assistants (
  assistant_id TEXT PRIMARY KEY,
  graph_id TEXT NOT NULL,
  config TEXT NOT NULL,
  context TEXT NOT NULL,
  metadata TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE assistant_versions (
  assistant_id TEXT NOT NULL,
  graph_id TEXT NOT NULL,
  config TEXT NOT NULL,
  context TEXT NOT NULL,
  metadata TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (assistant_id, version)
);
CREATE TABLE threads (
  id INTEGER PRIMARY KEY,
  thread_id TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  status TEXT NOT NULL,
  metadata TEXT NOT NULL,
  config TEXT NOT NULL,
  vals TEXT NOT NULL,
  interrupts TEXT NOT NULL,
  error TEXT NOT NULL
);
CREATE INDEX threads_by_created ON threads (created_at DESC, thread_id);
CREATE INDEX threads_by_updated ON threads (updated_at DESC, thread_id);
-- Threads whose metadata is no object (none, through the API): searches never list them, and an
-- unfiltered count subtracts them from a count(*) that reads no row.
CREATE INDEX threads_not_object ON threads (id) WHERE substr(metadata, 1, 1) <> '{';
CREATE TABLE thread_metadata (
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  thread INTEGER NOT NULL,
  PRIMARY KEY (key, value, created_at DESC, thread_id)
) WITHOUT ROWID;
CREATE INDEX thread_metadata_by_thread ON thread_metadata (thread);
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  thread_id TEXT NOT NULL,
  assistant_id TEXT NOT NULL,
  metadata TEXT NOT NULL,
  status TEXT NOT NULL,
  kwargs TEXT NOT NULL,
  multitask_strategy TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  output TEXT NOT NULL,
  error TEXT NOT NULL,
  ready_at TEXT NOT NULL,
  cancel TEXT NOT NULL,
  lease_owner TEXT,
  lease_until TEXT
);
CREATE INDEX runs_by_status ON runs (status, ready_at, created_at, run_id);
CREATE INDEX runs_by_thread ON runs (thread_id, created_at DESC, run_id);
CREATE INDEX runs_running ON runs (thread_id) WHERE status = 'running';
CREATE TABLE checkpoints (
  thread_id TEXT NOT NULL,
  checkpoint_id TEXT NOT NULL,
  parent_checkpoint_id TEXT NOT NULL,
  run_id TEXT,
  vals TEXT NOT NULL,
  next TEXT NOT NULL,
  tasks TEXT NOT NULL,
  metadata TEXT NOT NULL,
  pending_writes TEXT NOT NULL,
  resumes TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_id)
);
CREATE INDEX checkpoints_by_run ON checkpoints (thread_id, run_id);
CREATE TABLE items (
  ns BLOB NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (ns, key)
);
CREATE INDEX items_by_updated ON items (updated_at DESC, ns, key);
)sql",
    // 2: crons. Optional text fields hold '' when unset; crons_due serves the scheduler.
    R"sql(
CREATE TABLE crons (
  cron_id TEXT PRIMARY KEY,
  assistant_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  on_run_completed TEXT NOT NULL,
  end_time TEXT NOT NULL,
  schedule TEXT NOT NULL,
  timezone TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  payload TEXT NOT NULL,
  user_id TEXT NOT NULL,
  next_run_date TEXT NOT NULL,
  metadata TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  auth_user TEXT NOT NULL
);
CREATE INDEX crons_due ON crons (next_run_date) WHERE enabled = 1;
CREATE INDEX crons_by_thread ON crons (thread_id);
CREATE INDEX crons_by_assistant ON crons (assistant_id);
CREATE INDEX crons_by_created ON crons (created_at DESC, cron_id);
)sql",
    R"sql(
DROP INDEX threads_by_created;
DROP INDEX threads_by_updated;
CREATE INDEX threads_by_created ON threads (created_at, thread_id);
CREATE INDEX threads_by_updated ON threads (updated_at, thread_id);
CREATE TABLE thread_metadata_ascending (
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  thread INTEGER NOT NULL,
  PRIMARY KEY (key, value, created_at, thread_id)
) WITHOUT ROWID;
INSERT INTO thread_metadata_ascending SELECT key, value, created_at, thread_id, thread FROM thread_metadata;
DROP TABLE thread_metadata;
ALTER TABLE thread_metadata_ascending RENAME TO thread_metadata;
DROP INDEX runs_by_thread;
CREATE INDEX runs_by_thread ON runs (thread_id, created_at, run_id);
DROP INDEX crons_by_created;
CREATE INDEX crons_by_created ON crons (created_at, cron_id);
)sql",
};
static_assert(std::size(kMigrations) == SqliteStorage::kSchemaVersion);

// ---------------------------------------------------------------------------------------------
// Errors

// Errors that may pass (disk full, I/O, a lock held too long) make the request a 503.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context) {
  const std::string message =
      fmt::format("SQLite: {} ({})", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), context.substr(0, 120));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
      throw StorageUnavailable(message);
    default:
      throw std::runtime_error(message);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON as stored

std::string to_text(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// The columns were written by to_text, but a damaged file must not take the server down.
json from_text(std::string_view text, json fallback) {
  try {
    return parse_stored_json(text);
  } catch (...) {
    return fallback;
  }
}

// The text a metadata scalar is indexed under in thread_metadata. Values nlohmann::json finds
// equal get the same text (numbers compare by value across integer and float); objects and
// lists are not indexed.
std::optional<std::string> index_text(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::string:
      return to_text(value);
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: {
      const double d = value.get<double>();
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.2e18)
        return fmt::format("{}", static_cast<int64_t>(d));
      return fmt::format("{}", d);
    }
    default:
      return std::nullopt;
  }
}

// True when equal index texts mean equal values (strings, booleans, null); numbers are indexed by
// their double value, so several integers may share a text, and to_text replaces invalid UTF-8.
bool index_text_is_exact(const json& value) {
  return value.is_null() || value.is_boolean() || (value.is_string() && valid_utf8(value.get_ref<const std::string&>()));
}

// A list's ORDER BY: the field, then the id, in one direction (an ascending index read either way).
std::string list_order(const std::string& field, const std::string& id, bool descending) {
  const std::string direction = descending ? " DESC" : " ASC";
  return " ORDER BY " + field + direction + (field == id ? "" : ", " + id + direction);
}

using IndexRows = std::vector<std::pair<std::string, std::string>>;

// The thread_metadata rows of a thread whose metadata is stored as `text`.
IndexRows metadata_index(std::string_view text) {
  IndexRows rows;
  const json metadata = from_text(text, nullptr);
  if (!metadata.is_object()) return rows;
  for (const auto& [key, value] : metadata.items())
    if (auto text = index_text(value)) rows.emplace_back(key, std::move(*text));
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Namespaces of store items: every label with 0x00 and 0x01 escaped (0x01 0x01, 0x01 0x02),
// followed by 0x00. Byte order equals the order of the label lists, and a namespace is a label
// prefix of another exactly when its encoding is a byte prefix of the other's.

std::string encode_path(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& label : path) {
    for (char c : label) {
      if (c == '\0') {
        out.append("\x01\x01", 2);
      } else if (c == '\x01') {
        out.append("\x01\x02", 2);
      } else {
        out += c;
      }
    }
    out += '\0';
  }
  return out;
}

std::vector<std::string> decode_path(std::string_view bytes) {
  std::vector<std::string> path;
  std::string label;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\0') {
      path.push_back(std::move(label));
      label.clear();
    } else if (c == '\x01' && i + 1 < bytes.size()) {
      label += bytes[++i] == '\x01' ? '\0' : '\x01';
    } else {
      label += c;
    }
  }
  if (!label.empty()) path.push_back(std::move(label));  // a damaged value: keep what is there
  return path;
}

// ---------------------------------------------------------------------------------------------
// SQL functions: the exact matching rules of the storage interface, for the conditions SQL
// cannot say exactly (see JsonSql). Registered on every connection.

std::string_view value_text(sqlite3_value* value) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
  return text ? std::string_view(text, static_cast<size_t>(sqlite3_value_bytes(value))) : std::string_view();
}

std::string_view value_blob(sqlite3_value* value) {
  const auto* blob = static_cast<const char*>(sqlite3_value_blob(value));
  return blob ? std::string_view(blob, static_cast<size_t>(sqlite3_value_bytes(value))) : std::string_view();
}

json value_json(sqlite3_value* value) {
  if (sqlite3_value_type(value) == SQLITE_NULL) return json();
  return from_text(value_text(value), json());
}

// The parsed JSON of a constant argument (a bound filter), parsed once per statement.
class ConstantJson {
 public:
  ConstantJson(sqlite3_context* context, sqlite3_value** argv, int index) : context_(context), index_(index) {
    cached_ = static_cast<const json*>(sqlite3_get_auxdata(context, index));
    if (!cached_) {
      owned_ = std::make_unique<json>(value_json(argv[index]));
      cached_ = owned_.get();
    }
  }
  // SQLite may discard the data at once: hand it over last.
  ~ConstantJson() {
    if (owned_) sqlite3_set_auxdata(context_, index_, owned_.release(), [](void* p) { delete static_cast<json*>(p); });
  }
  const json& operator*() const { return *cached_; }

 private:
  sqlite3_context* context_;
  int index_;
  const json* cached_ = nullptr;
  std::unique_ptr<json> owned_;
};

template <typename F>
void sql_function(sqlite3_context* context, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    sqlite3_result_error(context, e.what(), -1);
  } catch (...) {
    sqlite3_result_error(context, "unexpected error", -1);
  }
}

// lgs_contains(document, pattern): json_contains.
void fn_contains(sqlite3_context* context, int, sqlite3_value** argv) {
  sql_function(context, [&] {
    ConstantJson pattern(context, argv, 1);
    sqlite3_result_int(context, json_contains(value_json(argv[0]), *pattern) ? 1 : 0);
  });
}

// lgs_filter(filter, metadata): filter_matches.
void fn_filter(sqlite3_context* context, int, sqlite3_value** argv) {
  sql_function(context, [&] {
    ConstantJson filter(context, argv, 0);
    sqlite3_result_int(context, filter_matches(*filter, value_json(argv[1])) ? 1 : 0);
  });
}

// lgs_item_filter(filter, value, ns, key): filter_matches on Item::filter_view().
void fn_item_filter(sqlite3_context* context, int, sqlite3_value** argv) {
  sql_function(context, [&] {
    ConstantJson filter(context, argv, 0);
    Item item;
    item.value = value_json(argv[1]);
    item.namespace_path = decode_path(value_blob(argv[2]));
    item.key = std::string(value_text(argv[3]));
    sqlite3_result_int(context, filter_matches(*filter, item.filter_view()) ? 1 : 0);
  });
}

// lgs_ns_ends(ns, suffix): the namespace ends with the suffix's labels.
void fn_ns_ends(sqlite3_context* context, int, sqlite3_value** argv) {
  const std::string_view ns = value_blob(argv[0]);
  const std::string_view suffix = value_blob(argv[1]);
  bool ends = suffix.size() <= ns.size() && ns.substr(ns.size() - suffix.size()) == suffix;
  // Only 0x00 ends a label, so a match preceded by 0x00 (or at the start) starts at a label.
  if (ends && suffix.size() < ns.size()) ends = ns[ns.size() - suffix.size() - 1] == '\0';
  sqlite3_result_int(context, ends ? 1 : 0);
}

// lgs_ns_head(ns, depth): the namespace's first `depth` labels (all when depth < 0).
void fn_ns_head(sqlite3_context* context, int, sqlite3_value** argv) {
  const std::string_view ns = value_blob(argv[0]);
  const int64_t depth = sqlite3_value_int64(argv[1]);
  size_t end = ns.size();
  if (depth >= 0) {
    int64_t labels = 0;
    end = 0;
    while (labels < depth && end < ns.size()) {
      const size_t terminator = ns.find('\0', end);
      end = terminator == std::string_view::npos ? ns.size() : terminator + 1;
      ++labels;
    }
  }
  sqlite3_result_blob(context, end ? ns.data() : "", static_cast<int>(end), SQLITE_TRANSIENT);
}

void register_functions(sqlite3* db) {
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  struct Function {
    const char* name;
    int arguments;
    void (*body)(sqlite3_context*, int, sqlite3_value**);
  };
  for (const Function& f : {Function{"lgs_contains", 2, fn_contains}, Function{"lgs_filter", 2, fn_filter},
                            Function{"lgs_item_filter", 4, fn_item_filter}, Function{"lgs_ns_ends", 2, fn_ns_ends},
                            Function{"lgs_ns_head", 2, fn_ns_head}}) {
    const int rc = sqlite3_create_function_v2(db, f.name, f.arguments, flags, nullptr, f.body, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(db, rc, f.name);
  }
}

// ---------------------------------------------------------------------------------------------
// Connections and statements

struct SqlHash {
  using is_transparent = void;
  size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
};

class Conn {
 public:
  Conn(const std::string& file, bool create, const char* vfs = nullptr) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(file.c_str(), &db, flags, vfs);
    if (rc != SQLITE_OK) {
      const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      sqlite3_close(db);
      throw std::runtime_error(message);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 10000);
    try {
      register_functions(db);
    } catch (...) {
      sqlite3_close(db);
      throw;
    }
  }
  ~Conn() {
    for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
    sqlite3_close(db);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // For statements without results and without parameters (pragmas, schema).
  void exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      const std::string message = error ? error : sqlite3_errstr(rc);
      sqlite3_free(error);
      throw_sqlite(nullptr, rc, message);
    }
  }

  // A prepared statement, from the cache unless in use there. Sets `in_use` to the cache's flag
  // (to clear when done with it), or to nullptr for a statement the caller finalizes (the cache
  // is full, or the cached one is in use).
  sqlite3_stmt* prepare(std::string_view sql, bool*& in_use) {
    auto it = cache_.find(sql);
    if (it != cache_.end() && !it->second.in_use) {
      it->second.in_use = true;
      in_use = &it->second.in_use;
      return it->second.stmt;
    }
    const bool cache = it == cache_.end() && cache_.size() < kCacheSize;
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), cache ? SQLITE_PREPARE_PERSISTENT : 0,
                                      &stmt, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(db, rc, sql);
    in_use = nullptr;
    if (cache) {
      auto& cached = cache_.emplace(std::string(sql), Cached{stmt, true}).first->second;
      in_use = &cached.in_use;
    }
    return stmt;
  }

  sqlite3* db = nullptr;

 private:
  struct Cached {
    sqlite3_stmt* stmt;
    bool in_use;
  };
  static constexpr size_t kCacheSize = 400;
  std::unordered_map<std::string, Cached, SqlHash, std::equal_to<>> cache_;  // node-based: flags stay put
};

struct Blob {
  std::string_view bytes;
};

class Query {
 public:
  Query(Conn& conn, std::string_view sql) : conn_(conn), stmt_(conn.prepare(sql, in_use_)) {}
  ~Query() {
    if (!in_use_) {
      sqlite3_finalize(stmt_);
    } else {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
      *in_use_ = false;
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::string_view text) {
    check(sqlite3_bind_text64(stmt_, ++index_, text.data() ? text.data() : "", text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  Query& bind(const char* text) { return bind(std::string_view(text)); }
  // Text that stays valid as long as this Query (the destructor unbinds it): not copied.
  Query& bind_ref(std::string_view text) {
    check(sqlite3_bind_text64(stmt_, ++index_, text.data() ? text.data() : "", text.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Query& bind(int64_t number) {
    check(sqlite3_bind_int64(stmt_, ++index_, number));
    return *this;
  }
  Query& bind(int number) { return bind(static_cast<int64_t>(number)); }
  Query& bind(double number) {
    check(sqlite3_bind_double(stmt_, ++index_, number));
    return *this;
  }
  Query& bind(std::nullptr_t) {
    check(sqlite3_bind_null(stmt_, ++index_));
    return *this;
  }
  Query& bind(Blob blob) {
    check(sqlite3_bind_blob64(stmt_, ++index_, blob.bytes.data() ? blob.bytes.data() : "", blob.bytes.size(),
                              SQLITE_TRANSIENT));
    return *this;
  }

  // True while there is a row.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(conn_.db, rc, sqlite3_sql(stmt_));
  }
  void run() {
    while (step()) {
    }
  }

  std::string_view text(int column) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text ? std::string_view(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string_view();
  }
  std::string string(int column) { return std::string(text(column)); }
  std::string_view blob(int column) {
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return blob ? std::string_view(blob, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string_view();
  }
  int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }
  json json_or(int column, json fallback) { return from_text(text(column), std::move(fallback)); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw_sqlite(conn_.db, rc, sqlite3_sql(stmt_));
  }

  Conn& conn_;
  bool* in_use_ = nullptr;  // the cache's flag; nullptr for a statement of our own
  sqlite3_stmt* stmt_;
  int index_ = 0;
};

// The row `select` finds for `key`, made a record by `read`; nullopt when there is none.
template <typename Read>
auto row_by_key(Conn& c, const std::string& select, const std::string& key, Read read)
    -> std::optional<decltype(read(std::declval<Query&>()))> {
  Query q(c, select);
  q.bind(key);
  if (!q.step()) return std::nullopt;
  return read(q);
}

// Reads the row `select` finds for `key`, lets `change` alter it and writes it back with `update`,
// whose parameters are what `bind` binds, then the key. False when there is no such row.
template <typename T, typename Read, typename Bind>
bool change_row(Conn& c, const std::string& select, const std::string& key, Read read, Bind bind,
                const char* update, const std::function<void(T&)>& change) {
  auto record = row_by_key(c, select, key, read);
  if (!record) return false;
  change(*record);
  Query q(c, update);
  bind(q, *record).bind(key).run();
  return true;
}

// One parameter of a query assembled at run time.
struct Param {
  enum Kind { kText, kInteger, kReal, kBlob } kind;
  std::string text;
  int64_t integer = 0;
  double real = 0;

  static Param of_text(std::string value) { return {kText, std::move(value)}; }
  static Param of_integer(int64_t value) { return {kInteger, {}, value}; }
  static Param of_real(double value) { return {kReal, {}, 0, value}; }
  static Param of_blob(std::string value) { return {kBlob, std::move(value)}; }
};

void bind_all(Query& query, const std::vector<Param>& params) {
  for (const auto& p : params) {
    if (p.kind == Param::kText) query.bind(std::string_view(p.text));
    if (p.kind == Param::kInteger) query.bind(p.integer);
    if (p.kind == Param::kReal) query.bind(p.real);
    if (p.kind == Param::kBlob) query.bind(Blob{p.text});
  }
}

// SELECT ... WHERE <conditions>, assembled from optional parts.
struct Conditions {
  std::vector<std::string> parts;
  std::vector<Param> params;

  void add(std::string sql) { parts.push_back(std::move(sql)); }
  void add(std::string sql, Param param) {
    parts.push_back(std::move(sql));
    params.push_back(std::move(param));
  }
  std::string where() const {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? " AND " : " WHERE ") + parts[i];
    return out;
  }
};

// SQL LIMIT/OFFSET parameters with the paging rules of the interface (negative counts as 0).
void add_paging(std::vector<Param>& params, int limit, int offset) {
  params.push_back(Param::of_integer(std::max(limit, 0)));
  params.push_back(Param::of_integer(std::max(offset, 0)));
}

// The number of rows `where` matches and one page of them in `order`, read by `read`: for a
// search, inside one read snapshot.
template <typename T, typename Read>
Page<T> counted_page(Conn& c, const char* columns, const std::string& table, const Conditions& where,
                     const std::string& order, int limit, int offset, Read read) {
  const std::string filter = " FROM " + table + where.where();
  Page<T> page;
  {
    Query count(c, "SELECT count(*)" + filter);
    bind_all(count, where.params);
    if (count.step()) page.total = static_cast<size_t>(count.integer(0));
  }
  if (limit > 0 && page.total > 0) {
    Query rows(c, std::string("SELECT ") + columns + filter + order + " LIMIT ? OFFSET ?");
    auto params = where.params;
    add_paging(params, limit, offset);
    bind_all(rows, params);
    while (rows.step()) page.items.push_back(read(rows));
  }
  return page;
}

// ---------------------------------------------------------------------------------------------
// Filters in SQL
//
// filter_matches and json_contains on a JSON column, said with SQLite's JSON functions so that a
// search parses each row once, with SQLite's parser. Only what SQL says exactly as nlohmann::json
// compares is translated: strings, booleans, null and numbers below 2^53 as values, keys a JSON
// path can name. The rest (objects and lists as values, odd keys) goes to the C++ matchers as
// SQL functions, for its part of the filter only.

bool is_operator_object(const json& condition) {
  return condition.is_object() && !condition.empty() &&
         std::all_of(condition.items().begin(), condition.items().end(),
                     [](const auto& item) { return !item.key().empty() && item.key()[0] == '$'; });
}

// A value SQL compares exactly as nlohmann::json does.
bool sql_scalar(const json& value) {
  constexpr double kExact = 9007199254740992.0;  // 2^53: integers and doubles agree below it
  switch (value.type()) {
    case json::value_t::null:
    case json::value_t::boolean:
      return true;
    case json::value_t::string:
      return valid_utf8(value.get_ref<const std::string&>());
    case json::value_t::number_integer:
      return std::fabs(static_cast<double>(value.get<int64_t>())) < kExact;
    case json::value_t::number_unsigned:
      return value.get<uint64_t>() < static_cast<uint64_t>(kExact);
    case json::value_t::number_float:
      return std::isfinite(value.get<double>()) && std::fabs(value.get<double>()) < kExact;
    default:
      return false;
  }
}

// A key SQLite's JSON path $."key" finds: it compares the key as written in the JSON text, where
// nlohmann::json escapes quotes, backslashes and control characters.
bool nameable(const std::string& key) {
  for (unsigned char c : key)
    if (c == '"' || c == '\\' || c < 0x20) return false;
  return !key.empty() && valid_utf8(key);
}

class JsonSql {
 public:
  // `column` holds JSON text; parameters are appended to `params` in the order of their `?`.
  JsonSql(std::string column, std::vector<Param>& params) : column_(std::move(column)), params_(params) {}

  // filter_matches(filter, column).
  std::string filter(const json& filter) {
    std::string sql = "(CASE WHEN json_valid(" + column_ + ") THEN " + filter_part(filter) + " ELSE ";
    return sql + fallback_filter(filter) + " END)";
  }

  // json_contains(column, pattern).
  std::string contains(const json& pattern) {
    if (pattern.is_object() && pattern.empty()) return "substr(" + column_ + ", 1, 1) = '{'";  // only an object
    if (!pattern.is_object()) return fallback_contains(pattern);
    std::string sql = "(CASE WHEN json_valid(" + column_ + ") THEN (";
    bool first = true;
    for (const auto& [key, wanted] : pattern.items()) {
      sql += first ? "" : " AND ";
      first = false;
      // A scalar is contained when equal; a key present implies an object.
      sql += nameable(key) && sql_scalar(wanted) ? equals(path(key), wanted) : fallback_contains({{key, wanted}});
    }
    return sql + ") ELSE " + fallback_contains(pattern) + " END)";
  }

 private:
  static std::string path(const std::string& key) { return "$.\"" + key + "\""; }

  std::string text(std::string value) {
    params_.push_back(Param::of_text(std::move(value)));
    return "?";
  }
  std::string number(const json& value) {
    params_.push_back(value.is_number_float() ? Param::of_real(value.get<double>())
                                              : Param::of_integer(value.get<int64_t>()));
    return "?";
  }
  std::string fallback_filter(const json& filter) { return "lgs_filter(" + text(to_text(filter)) + ", " + column_ + ")"; }
  std::string fallback_contains(const json& pattern) {
    return "lgs_contains(" + column_ + ", " + text(to_text(pattern)) + ")";
  }

  // The key is present and equal to `value` (sql_scalar); never NULL.
  std::string equals(const std::string& at, const json& value) {
    const std::string type = "json_type(" + column_ + ", " + text(at) + ")";
    if (value.is_null()) return type + " IS 'null'";
    if (value.is_boolean()) return type + (value.get<bool>() ? " IS 'true'" : " IS 'false'");
    if (value.is_string()) {
      const std::string head = "(" + type + " IS 'text' AND json_extract(" + column_ + ", " + text(at) + ") = ";
      return head + text(value.get<std::string>()) + ")";
    }
    const std::string head =
        "(ifnull(" + type + ", '') IN ('integer', 'real') AND json_extract(" + column_ + ", " + text(at) + ") = ";
    return head + number(value) + ")";
  }

  // An element `e` of json_each equals `value` (sql_scalar).
  std::string element_equals(const json& value) {
    if (value.is_null()) return "e.type = 'null'";
    if (value.is_boolean()) return value.get<bool>() ? "e.type = 'true'" : "e.type = 'false'";
    if (value.is_string()) return "(e.type = 'text' AND e.value = " + text(value.get<std::string>()) + ")";
    return "(e.type IN ('integer', 'real') AND e.value = " + number(value) + ")";
  }

  static bool translatable(const json& condition) {
    if (!is_operator_object(condition)) return sql_scalar(condition);
    for (const auto& [op, operand] : condition.items()) {
      if ((op == "$eq" || op == "$ne") && !sql_scalar(operand)) return false;
      if (op == "$in" && !(operand.is_array() && std::all_of(operand.begin(), operand.end(), sql_scalar))) return false;
      if (op == "$contains" && !(operand.is_array() ? std::all_of(operand.begin(), operand.end(), sql_scalar)
                                                    : sql_scalar(operand)))
        return false;
    }
    return true;
  }

  std::string field_condition(const std::string& key, const json& condition) {
    if (!nameable(key) || !translatable(condition)) return fallback_filter({{key, condition}});
    const std::string at = path(key);
    if (!is_operator_object(condition)) return equals(at, condition);
    std::vector<std::string> parts;
    for (const auto& [op, operand] : condition.items()) {
      if (op == "$eq") parts.push_back(equals(at, operand));
      if (op == "$ne") parts.push_back("NOT " + equals(at, operand));
      if (op == "$in") {
        std::vector<std::string> any;
        for (const auto& value : operand) any.push_back(equals(at, value));
        parts.push_back(any.empty() ? "0" : "(" + join(any, " OR ") + ")");
      }
      if (op == "$contains") {
        std::string sql = "(json_type(" + column_ + ", " + text(at) + ") IS 'array'";
        const json wanted = operand.is_array() ? operand : json::array({operand});
        for (const auto& value : wanted) {
          sql += " AND EXISTS (SELECT 1 FROM json_each(" + column_ + ", " + text(at) + ") e WHERE ";
          sql += element_equals(value) + ")";
        }
        parts.push_back(sql + ")");
      }
      // Other operators are not conditions (filter_matches ignores them).
    }
    return parts.empty() ? "1" : "(" + join(parts, " AND ") + ")";
  }

  std::string filter_part(const json& filter) {
    if (!filter.is_object()) return fallback_filter(filter);
    std::vector<std::string> parts;
    for (const auto& [key, condition] : filter.items()) {
      if ((key == "$or" || key == "$and") && !condition.is_array()) {
        parts.push_back(fallback_filter({{key, condition}}));
      } else if (key == "$or" || key == "$and") {
        std::vector<std::string> each;
        for (const auto& part : condition) each.push_back(filter_part(part));
        if (each.empty()) {
          parts.push_back(key == "$or" ? "0" : "1");
        } else {
          parts.push_back("(" + join(each, key == "$or" ? " OR " : " AND ") + ")");
        }
      } else {
        parts.push_back(field_condition(key, condition));
      }
    }
    return parts.empty() ? "1" : "(" + join(parts, " AND ") + ")";
  }

  static std::string join(const std::vector<std::string>& parts, const char* separator) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
    return out;
  }

  std::string column_;
  std::vector<Param>& params_;
};

// Conditions for json_contains(column, pattern) and filter_matches(filter, column).
void add_contains(Conditions& where, const std::string& column, const json& pattern) {
  where.add(JsonSql(column, where.params).contains(pattern));
}

void add_filter(Conditions& where, const std::string& column, const json& filter) {
  if (!filter.empty()) where.add(JsonSql(column, where.params).filter(filter));
}

// ---------------------------------------------------------------------------------------------
// Records <-> rows

constexpr const char* kAssistantColumns =
    "assistant_id, graph_id, config, context, metadata, version, name, description, created_at, updated_at";
constexpr const char* kThreadColumns =
    "t.thread_id, t.created_at, t.updated_at, t.status, t.metadata, t.config, t.vals, t.interrupts, t.error";
constexpr const char* kRunColumns =
    "run_id, thread_id, assistant_id, metadata, status, kwargs, multitask_strategy, created_at, updated_at, output, "
    "error, ready_at, cancel";
constexpr const char* kCheckpointColumns =
    "thread_id, checkpoint_id, parent_checkpoint_id, vals, next, tasks, metadata, pending_writes, resumes, created_at";
constexpr const char* kItemColumns = "ns, key, value, created_at, updated_at";

Assistant read_assistant(Query& q) {
  Assistant a;
  a.assistant_id = q.string(0);
  a.graph_id = q.string(1);
  a.config = q.json_or(2, json::object());
  a.context = q.json_or(3, json::object());
  a.metadata = q.json_or(4, json::object());
  a.version = static_cast<int>(q.integer(5));
  a.name = q.string(6);
  a.description = q.json_or(7, json());
  a.created_at = q.string(8);
  a.updated_at = q.string(9);
  return a;
}

Query& bind_assistant(Query& q, const Assistant& a) {
  return q.bind(a.assistant_id)
      .bind(a.graph_id)
      .bind(to_text(a.config))
      .bind(to_text(a.context))
      .bind(to_text(a.metadata))
      .bind(a.version)
      .bind(a.name)
      .bind(to_text(a.description))
      .bind(a.created_at)
      .bind(a.updated_at);
}

Thread read_thread(Query& q) {
  Thread t;
  t.thread_id = q.string(0);
  t.created_at = q.string(1);
  t.updated_at = q.string(2);
  t.status = q.string(3);
  t.metadata = q.json_or(4, json::object());
  t.config = q.json_or(5, json::object());
  t.values = q.json_or(6, json());
  t.interrupts = q.json_or(7, json::object());
  t.error = q.json_or(8, json());
  return t;
}

// A thread's columns as text, made by the caller before its write is queued.
struct ThreadRow {
  std::string metadata, config, values, interrupts, error;

  explicit ThreadRow(const Thread& t)
      : metadata(to_text(t.metadata)),
        config(to_text(t.config)),
        values(to_text(t.values)),
        interrupts(to_text(t.interrupts)),
        error(to_text(t.error)) {}
};

void insert_thread_index(Conn& c, int64_t row, const std::string& thread_id, const std::string& created_at,
                         const IndexRows& index) {
  for (const auto& [key, value] : index) {
    Query q(c, "INSERT OR REPLACE INTO thread_metadata (key, value, created_at, thread_id, thread) VALUES (?, ?, ?, ?, ?)");
    q.bind_ref(key).bind_ref(value).bind_ref(created_at).bind_ref(thread_id).bind(row).run();
  }
}

void delete_thread_index(Conn& c, const std::string& thread_id, const std::string& created_at, const IndexRows& index) {
  for (const auto& [key, value] : index) {
    Query q(c, "DELETE FROM thread_metadata WHERE key = ? AND value = ? AND created_at = ? AND thread_id = ?");
    q.bind_ref(key).bind_ref(value).bind_ref(created_at).bind_ref(thread_id).run();
  }
}

Run read_run(Query& q) {
  Run r;
  r.run_id = q.string(0);
  r.thread_id = q.string(1);
  r.assistant_id = q.string(2);
  r.metadata = q.json_or(3, json::object());
  r.status = q.string(4);
  r.kwargs = q.json_or(5, json::object());
  r.multitask_strategy = q.string(6);
  r.created_at = q.string(7);
  r.updated_at = q.string(8);
  r.output = q.json_or(9, json());
  r.error = q.json_or(10, json());
  r.ready_at = q.string(11);
  r.cancel = q.string(12);
  return r;
}

// Binds every column of kRunColumns but run_id, in order.
Query& bind_run_fields(Query& q, const Run& r) {
  return q.bind(r.thread_id)
      .bind(r.assistant_id)
      .bind(to_text(r.metadata))
      .bind(r.status)
      .bind(to_text(r.kwargs))
      .bind(r.multitask_strategy)
      .bind(r.created_at)
      .bind(r.updated_at)
      .bind(to_text(r.output))
      .bind(to_text(r.error))
      .bind(r.ready_at)
      .bind(r.cancel);
}

// Reads the thread, lets `change` alter it and writes it back with its index rows; false when
// there is no such thread.
bool change_thread_row(Conn& c, const std::string& thread_id, const std::function<void(Thread&)>& change) {
  Thread thread;
  std::string old_metadata;
  int64_t row_id = 0;
  {
    Query q(c, std::string("SELECT ") + kThreadColumns + ", t.id FROM threads t WHERE t.thread_id = ?");
    q.bind(thread_id);
    if (!q.step()) return false;
    thread = read_thread(q);
    old_metadata = q.string(4);
    row_id = q.integer(9);
  }
  const std::string old_created_at = thread.created_at;
  change(thread);
  const ThreadRow row(thread);
  Query(c,
        "UPDATE threads SET created_at = ?, updated_at = ?, status = ?, metadata = ?, config = ?, vals = ?, "
        "interrupts = ?, error = ? WHERE id = ?")
      .bind(thread.created_at)
      .bind(thread.updated_at)
      .bind(thread.status)
      .bind(row.metadata)
      .bind(row.config)
      .bind(row.values)
      .bind(row.interrupts)
      .bind(row.error)
      .bind(row_id)
      .run();
  if (row.metadata != old_metadata || thread.created_at != old_created_at) {
    delete_thread_index(c, thread_id, old_created_at, metadata_index(old_metadata));
    insert_thread_index(c, row_id, thread_id, thread.created_at, metadata_index(row.metadata));
  }
  return true;
}

const std::string kRunById = std::string("SELECT ") + kRunColumns + " FROM runs WHERE run_id = ?";
constexpr const char* kUpdateRun =
    "UPDATE runs SET thread_id = ?, assistant_id = ?, metadata = ?, status = ?, kwargs = ?, multitask_strategy = ?, "
    "created_at = ?, updated_at = ?, output = ?, error = ?, ready_at = ?, cancel = ? WHERE run_id = ?";

Checkpoint read_checkpoint(Query& q) {
  Checkpoint c;
  c.thread_id = q.string(0);
  c.checkpoint_id = q.string(1);
  c.parent_checkpoint_id = q.string(2);
  c.values = q.json_or(3, json::object());
  for (const auto& node : q.json_or(4, json::array()))
    if (node.is_string()) c.next.push_back(node.get<std::string>());
  c.tasks = q.json_or(5, json::array());
  c.metadata = q.json_or(6, json::object());
  c.pending_writes = q.json_or(7, json::object());
  c.resumes = q.json_or(8, json::object());
  c.created_at = q.string(9);
  return c;
}

Item read_item(Query& q) {
  Item item;
  item.namespace_path = decode_path(q.blob(0));
  item.key = q.string(1);
  item.value = q.json_or(2, json::object());
  item.created_at = q.string(3);
  item.updated_at = q.string(4);
  return item;
}

// ---------------------------------------------------------------------------------------------
// Thread search

// A top-level metadata equality a search may start from: the key holds one of the values.
struct Equality {
  std::string key;
  std::vector<std::string> values;  // index_text
  bool exact = false;  // the index lookup alone decides the condition, which can be dropped
};

std::optional<Equality> scalar_equality(const std::string& key, const json& value, bool exact) {
  auto text = index_text(value);
  if (!text) return std::nullopt;
  return Equality{key, {*text}, exact && index_text_is_exact(value)};
}

// A condition every match of the authorization filter satisfies: a plain scalar, "$eq" or an
// "$in" of scalars, at the top or under "$and". Equalities come first: they read less.
std::optional<Equality> filter_equality(const json& filter, bool top) {
  if (!filter.is_object()) return std::nullopt;
  std::optional<Equality> any_of;
  for (const auto& [key, condition] : filter.items()) {
    if (key == "$and" && condition.is_array()) {
      for (const auto& part : condition)
        if (auto found = filter_equality(part, false)) {
          if (found->values.size() == 1) return found;
          if (!any_of) any_of = std::move(found);
        }
      continue;
    }
    if (!key.empty() && key[0] == '$') continue;
    if (!is_operator_object(condition)) {
      if (auto found = scalar_equality(key, condition, top)) return found;
    } else if (condition.contains("$eq")) {
      if (auto found = scalar_equality(key, condition["$eq"], top && condition.size() == 1)) return found;
    } else if (!any_of && condition.contains("$in") && condition["$in"].is_array()) {
      Equality in{key, {}, top && condition.size() == 1};
      bool indexed = true;
      for (const auto& operand : condition["$in"]) {
        auto text = index_text(operand);
        if (!text) {
          indexed = false;  // an object or a list matches values the index does not hold
          break;
        }
        in.values.push_back(std::move(*text));
        in.exact = in.exact && index_text_is_exact(operand);
      }
      if (indexed) any_of = std::move(in);
    }
  }
  return any_of;
}

// The FROM and WHERE of a thread search; `side` when thread_metadata drives it.
struct ThreadSearch {
  bool side = false;
  std::string from;
  Conditions where;
  bool thread_conditions = false;  // conditions on the thread row beyond the side table's
  bool unfiltered = false;         // all threads with object metadata
  std::string order;
};

ThreadSearch plan_thread_search(const ThreadQuery& q) {
  ThreadSearch s;
  json auth = q.auth_filter;
  json metadata = q.metadata;
  std::optional<Equality> equality;
  if (q.ids.empty()) {
    equality = filter_equality(auth, true);
    if (equality) {
      if (equality->exact) auth.erase(equality->key);
    } else if (metadata.is_object()) {
      for (const auto& [key, value] : metadata.items())
        if ((equality = scalar_equality(key, value, true))) break;
      if (equality && equality->exact) metadata.erase(equality->key);
    }
  }
  Conditions thread;  // conditions on the thread row
  if (equality) {
    s.side = true;
    s.from = "thread_metadata m CROSS JOIN threads t ON t.id = m.thread";
    s.where.add("m.key = ?", Param::of_text(equality->key));
    if (equality->values.size() == 1) {
      s.where.add("m.value = ?", Param::of_text(equality->values.front()));
    } else {
      s.where.add("m.value IN (SELECT value FROM json_each(?))", Param::of_text(to_text(equality->values)));
    }
  } else {
    s.from = "threads t";
  }
  if (!q.ids.empty()) thread.add("t.thread_id IN (SELECT value FROM json_each(?))", Param::of_text(to_text(q.ids)));
  if (q.status) thread.add("t.status = ?", Param::of_text(*q.status));
  // A side table row exists only for an object's key: the metadata is an object.
  if (!(s.side && metadata.is_object() && metadata.empty())) add_contains(thread, "t.metadata", metadata);
  s.unfiltered = !s.side && q.ids.empty() && !q.status && metadata.is_object() && metadata.empty() && auth.empty() &&
                 q.values.empty();
  add_filter(thread, "t.metadata", auth);
  if (!q.values.empty()) add_contains(thread, "t.vals", q.values);
  s.thread_conditions = !thread.parts.empty();
  for (size_t i = 0; i < thread.parts.size(); ++i) s.where.parts.push_back(thread.parts[i]);
  for (auto& p : thread.params) s.where.params.push_back(std::move(p));

  const std::string id = s.side ? "m.thread_id" : "t.thread_id";
  std::string key = s.side ? "m.created_at" : "t.created_at";
  if (q.sort_by == "thread_id") key = id;
  if (q.sort_by == "status") key = "t.status";
  if (q.sort_by == "updated_at") key = "t.updated_at";
  s.order = list_order(key, id, q.descending);
  return s;
}

std::string thread_page_sql(const ThreadSearch& s) {
  return std::string("SELECT ") + kThreadColumns + " FROM " + s.from + s.where.where() + s.order + " LIMIT ? OFFSET ?";
}

// ---------------------------------------------------------------------------------------------
// Misc

std::string checkpoint_run_id_column(const json& metadata, bool& known) {
  // MemoryStorage matches metadata.value("run_id", ""): a missing run_id is "".
  known = true;
  if (!metadata.is_object()) {
    known = false;
    return {};
  }
  auto it = metadata.find("run_id");
  if (it == metadata.end()) return {};
  if (!it->is_string()) {
    known = false;
    return {};
  }
  return it->get<std::string>();
}

int lock_database(const std::filesystem::path& file) {
  const std::string lock_path = file.string() + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw StartupError(fmt::format("cannot create the lock file {}: {}", lock_path, std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::string pid(32, '\0');
    const ssize_t n = ::pread(fd, pid.data(), pid.size(), 0);
    pid.resize(n > 0 ? static_cast<size_t>(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    ::close(fd);
    if (error == EWOULDBLOCK)
      throw StartupError(fmt::format("the database {} is in use by another langgraph-server (pid {})", file.string(),
                                     pid.empty() ? "unknown" : pid));
    throw StartupError(fmt::format("cannot lock the database {}: {}", file.string(), std::strerror(error)));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // Only the message of a later conflict loses the pid; the lock holds.
  }
  return fd;
}

void sync_directory(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Memory statistics take a global mutex on every allocation: needless contention.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// The writer thread, the readers

struct SqliteStorage::Impl {
  // One write call waiting in the queue. It lives on the caller's stack until it is done.
  //
  // Waking a thread costs the waker more than anything else in a small write, so the writer
  // wakes only the first caller of what it synced, and every caller wakes two more
  // before it returns (a binary tree over the callers). The caller sleeps on a futex of its
  // own: one system call to sleep, one to be woken, none when the job is done before it would
  // sleep. (A mutex and a condition variable add a wake-up on the mutex when the notifier still
  // holds it; std::binary_semaphore spins with sched_yield before it sleeps, which takes the CPU
  // from the writer.)
  struct Job {
    static constexpr uint32_t kRunning = 0, kSleeping = 1, kDone = 2;

    void (*run)(void* body, Conn& conn) = nullptr;
    void* body = nullptr;
    bool synced = true;  // answered once on disk, else once committed (WriteWait)
    std::exception_ptr error;
    Job* wake[2] = {nullptr, nullptr};  // callers of the same batch this one wakes when done
    std::atomic<uint32_t> state{kRunning};

    void finish() {
      // The owner may return, and the job be gone, as soon as it sees kDone: only the address
      // is used after the exchange, and a futex wake on an address nobody sleeps on does nothing.
      if (state.exchange(kDone, std::memory_order_acq_rel) == kSleeping)
        syscall(SYS_futex, &state, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
    void wait() {
      uint32_t expected = kRunning;
      if (state.compare_exchange_strong(expected, kSleeping, std::memory_order_acq_rel)) {
        while (state.load(std::memory_order_acquire) != kDone)
          syscall(SYS_futex, &state, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
      }
      for (Job* next : wake)
        if (next) next->finish();  // they cannot return before this: only we finish them
    }
  };

  explicit Impl(const std::filesystem::path& path) : file(path) {}

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    writer_cv.notify_all();
    if (writer_thread.joinable()) writer_thread.join();
    if (log_fd >= 0) ::close(log_fd);
    {
      std::lock_guard lock(checkpoint_mutex);
      checkpoint_stop = true;
    }
    checkpoint_cv.notify_all();
    if (checkpoint_thread.joinable()) checkpoint_thread.join();
    if (log_unsynced) {
      // Closing the last connection would copy the log into the database file and delete it;
      // the log stays instead, and the next start recovers from what the disk really holds.
      for (Conn* c : {writer.get(), checkpointer.get()})
        if (c) sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
      for (auto& reader : readers) sqlite3_db_config(reader->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    }
    readers.clear();
    checkpointer.reset();
    writer.reset();  // the last connection: checkpoints the log and removes it
    // Only now: closing a descriptor of the database file drops every POSIX lock this process
    // holds on it, SQLite's included.
    if (database_fd >= 0) ::close(database_fd);
    if (lock_fd >= 0) ::close(lock_fd);
  }

  void open() {
    configure_sqlite_once();
    lock_fd = lock_database(file);
    writer = std::make_unique<Conn>(file.string(), true, sqlite_log_vfs());
    // synchronous = NORMAL: a commit is written to the log without waiting for the disk; the
    // writer syncs the log before anyone is told (see "writes"). Checkpoints still sync.
    // A modest page cache: SQLite's commit walks the whole cache's hash table whenever a B-tree
    // split renumbered pages during the transaction (most batches), so its size is paid per batch.
    writer->exec("PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8000;"
                 "PRAGMA journal_size_limit = 67108864;");
    migrate(*writer);
    // The log lives as long as the connections (SQLite removes it when the last one closes), so
    // it is new on every start: its name must be on disk before a commit in it is acknowledged.
    const std::string log_file = file.string() + "-wal";
    log_fd = ::open(log_file.c_str(), O_RDWR | O_CLOEXEC);
    if (log_fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", log_file, std::strerror(errno)));
    sync_directory(file.parent_path());
    database_fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);  // -1: the writer's checkpoint syncs it all
    const int reader_count = std::clamp(static_cast<int>(std::thread::hardware_concurrency()) * 4, 8, 32);
    for (int i = 0; i < reader_count; ++i) {
      auto reader = std::make_unique<Conn>(file.string(), false);
      reader->exec("PRAGMA query_only = 1; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8000;");
      readers.push_back(std::move(reader));
    }
    // Checkpoints (copying the log into the database file) run beside the writer, not in it.
    checkpointer = std::make_unique<Conn>(file.string(), false);
    checkpointer->exec("PRAGMA synchronous = FULL;");
    sqlite3_wal_hook(writer->db, &Impl::on_commit, this);
    checkpoint_thread = std::thread([this] { checkpoint_loop(); });
    writer_thread = std::thread([this] { write_loop(); });
  }

  // ---- checkpoints
  //
  // A checkpoint copies the log's pages into the database file; the log starts over (its file
  // is overwritten from the start) only once a checkpoint copied all of it. A checkpoint beside a
  // writer that never pauses never gets to the end, so the work is split: the checkpoint thread
  // copies the bulk and syncs the database file while writes go on, then the writer copies what
  // was appended meanwhile, between two batches, and the next batch restarts the log. (SQLite
  // syncs the database file only in the checkpoint that reaches the log's end: the writer's. Left
  // to it, that sync wrote back every page the checkpoint thread had copied, about 10 ms during
  // which every write waited; synced here first, the writer's part takes about 1.5 ms.) The
  // checkpoint thread passes again only while readers kept pages from being copied. (A further
  // pass and sync over what was appended meanwhile halves the writer's part again, but each sync
  // of the database file slows the log's: measured, the server acknowledged no more writes.)

  static constexpr int kCheckpointPages = 4000;  // 16 MB of log
  static constexpr int kCheckpointTail = 256;    // log pages readers may keep from the checkpoint thread
  static constexpr int kCheckpointPasses = 8;    // a writer faster than the checkpoints gets the rest

  // On the writer thread after every commit, with the log's size in pages.
  static int on_commit(void* self, sqlite3* db, const char*, int pages) {
    if (pages < kCheckpointPages) return SQLITE_OK;
    auto* impl = static_cast<Impl*>(self);
    if (impl->checkpoint_copied.exchange(false) || pages >= kCheckpointPages * 8) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      return SQLITE_OK;
    }
    {
      std::lock_guard lock(impl->checkpoint_mutex);
      if (impl->checkpoint_running) return SQLITE_OK;
      impl->checkpoint_wanted = true;
    }
    impl->checkpoint_cv.notify_one();
    return SQLITE_OK;
  }

  void checkpoint_loop() {
    pthread_setname_np(pthread_self(), "sqlite-ckpt");
    std::unique_lock lock(checkpoint_mutex);
    while (true) {
      checkpoint_cv.wait(lock, [&] { return checkpoint_wanted || checkpoint_stop; });
      if (checkpoint_stop) return;
      checkpoint_wanted = false;
      checkpoint_running = true;
      lock.unlock();
      // Whatever the writer copies, it copies while every write waits.
      for (int pass = 0; pass < kCheckpointPasses && !log_unsynced; ++pass) {
        int log = 0, copied = 0;
        const int rc = sqlite3_wal_checkpoint_v2(checkpointer->db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (rc != SQLITE_OK || log - copied <= kCheckpointTail) break;
      }
      // Not a promise to anyone (the log still holds every page), so a failure is left to the
      // writer's checkpoint, which syncs again and reports it.
      if (database_fd >= 0) ::fdatasync(database_fd);
      checkpoint_copied = true;
      lock.lock();
      checkpoint_running = false;
    }
  }

  void migrate(Conn& c) {
    {
      Query mode(c, "PRAGMA journal_mode = WAL");
      if (!mode.step() || mode.text(0) != "wal")
        throw std::runtime_error("the file system does not support SQLite's write-ahead log");
    }
    c.exec("BEGIN IMMEDIATE");
    try {
      auto pragma = [&](const char* sql) {
        Query q(c, sql);
        return q.step() ? q.integer(0) : 0;
      };
      const int64_t version = pragma("PRAGMA user_version");
      const int64_t application = pragma("PRAGMA application_id");
      const int64_t tables = pragma("SELECT count(*) FROM sqlite_schema");
      if (version > kSchemaVersion)
        throw StartupError(fmt::format(
            "the database {} has schema version {}, newer than this langgraph-server knows ({}): run the newer "
            "server that wrote it",
            file.string(), version, kSchemaVersion));
      if (application != kApplicationId && (application != 0 || tables > 0))
        throw StartupError(fmt::format("the file {} is an SQLite database of another application", file.string()));
      for (int64_t v = version; v < kSchemaVersion; ++v) c.exec(kMigrations[v]);
      if (version < kSchemaVersion) {
        c.exec(fmt::format("PRAGMA user_version = {}; PRAGMA application_id = {};", kSchemaVersion, kApplicationId)
                   .c_str());
      }
      c.exec("COMMIT");
    } catch (...) {
      if (!sqlite3_get_autocommit(c.db)) sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  // ---- writes: group commit
  //
  // Write calls queue up. The writer thread takes every queued job, runs them in one
  // transaction, commits it to the log (no disk wait), makes it durable with one fdatasync of
  // the log, and only then answers their callers: a write is acknowledged once it is on disk.
  // Calls that come while it syncs wait in the queue (they do not wake it: waking a thread costs
  // more than a small write) and make the next batch, so the slower the disk, the more jobs share
  // a commit and a sync. The writer syncs itself rather than handing commits to a thread of
  // their own: measured, a sync thread beside a writer committing the next batch meanwhile
  // acknowledged no more writes, and each hand-over costs a thread wake-up.
  // (A commit is visible to other connections from its commit on, before the sync: a read may
  // see a write a moment before it is acknowledged, as with any group commit.)
  // Calls that wait only for the commit (WriteWait::committed) are answered right after it. A
  // batch of only such calls is not synced at once: the next batch's sync brings it along, or
  // the writer syncs it once it has waited kCommittedSyncDelay.
  //
  // A failed sync ends all writing until the server restarts. The kernel may have dropped the
  // pages it could not write, yet the commit is in the log and later commits would follow it; a
  // later sync that succeeds says nothing about them, and a log with a hole is read back only up
  // to the hole, so every write acknowledged after it would be lost at the next start. (This is
  // why PostgreSQL stops on a failed fsync.)

  // Runs `body(conn)` on the writer connection inside the writer's transaction and returns its
  // result once that transaction is committed and synced (only committed: see WriteWait). A body
  // that throws changes nothing.
  template <typename F>
  auto write(F&& body, WriteWait wait = WriteWait::synced) {
    using Result = std::invoke_result_t<F&, Conn&>;
    if constexpr (std::is_void_v<Result>) {
      submit(body, wait);
    } else {
      std::optional<Result> result;
      auto wrapped = [&](Conn& c) { result.emplace(body(c)); };
      submit(wrapped, wait);
      return std::move(*result);
    }
  }

  template <typename F>
  void submit(F& body, WriteWait wait) {
    Job job;
    job.synced = wait == WriteWait::synced;
    job.body = &body;
    job.run = [](void* b, Conn& c) { (*static_cast<F*>(b))(c); };
    bool wake = false;
    {
      std::lock_guard lock(mutex);
      if (stopping) throw StorageUnavailable("the database is closed");
      if (log_unsynced) throw StorageUnavailable(kUnsyncedLog);
      queue.push_back(&job);
      wake = writer_idle;  // else the writer finds it when its commit is synced
    }
    if (wake) writer_cv.notify_one();
    job.wait();
    if (job.error) std::rethrow_exception(job.error);
  }

  void write_loop() {
    pthread_setname_np(pthread_self(), "sqlite-writer");
    std::vector<Job*> incoming;
    while (true) {
      {
        std::unique_lock lock(mutex);
        writer_idle = true;
        const auto ready = [&] { return stopping || !queue.empty(); };
        bool woken = true;
        if (unsynced_since) {
          woken = writer_cv.wait_until(lock, *unsynced_since + kCommittedSyncDelay, ready);
        } else {
          writer_cv.wait(lock, ready);
        }
        writer_idle = false;
        if (!woken || queue.empty()) {  // commits nobody waits on are due to be synced, or stopping
          lock.unlock();
          if (unsynced_since) sync_and_answer();
          if (!woken) continue;
          return;  // stopping, nothing left
        }
        incoming.swap(queue);
      }
      for (Job* job : incoming) execute(job);
      incoming.clear();
      if (uncommitted.empty()) continue;
      try {
        step_cached("COMMIT");
      } catch (...) {
        fail_uncommitted(std::current_exception());
        continue;
      }
      jobs += uncommitted.size();
      batches += 1;
      // Who waits only for the commit is answered now, the others once the log is synced.
      const auto waiting = std::stable_partition(uncommitted.begin(), uncommitted.end(), [](Job* j) { return !j->synced; });
      if (waiting != uncommitted.begin()) {
        std::vector<Job*> committed(uncommitted.begin(), waiting);
        uncommitted.erase(uncommitted.begin(), waiting);
        answer(committed);
        if (!unsynced_since) unsynced_since = std::chrono::steady_clock::now();
        // Synced with this batch if they have waited long enough (a steady flow of such calls
        // would otherwise never let the writer time out).
        if (uncommitted.empty() && std::chrono::steady_clock::now() < *unsynced_since + kCommittedSyncDelay) continue;
      }
      sync_and_answer();
    }
  }

  // Syncs the log and answers the jobs of `uncommitted`, which is then empty: they were committed.
  void sync_and_answer() {
    unsynced_since.reset();  // synced, or never to be: a failed sync is not tried again
    if (sync_log()) {
      syncs += 1;
      synced_jobs += uncommitted.size();
    } else {
      // Committed but maybe not on disk: the callers are told it failed, and nothing more is
      // written (see above): submit() refuses from now on, and what it queued meanwhile is
      // refused with this batch.
      {
        std::lock_guard lock(mutex);
        log_unsynced = true;
        uncommitted.insert(uncommitted.end(), queue.begin(), queue.end());
        queue.clear();
      }
      log::error("SQLite: {}-wal could not be synced to disk: every write is refused from now on; "
                 "check the disk, then restart the server",
                 file.string());
      const auto error = std::make_exception_ptr(StorageUnavailable(kUnsyncedLog));
      for (Job* job : uncommitted) job->error = error;
    }
    if (!uncommitted.empty()) answer(uncommitted);
    uncommitted.clear();
  }

  // Runs `job` in the open transaction, opening one if none is. A job that throws must leave
  // nothing behind and take nothing of the others with it: the transaction is rolled back, that
  // job is answered with its error, and the jobs that ran before it in the transaction run again.
  // (Savepoints around every job would do the same, but they copy every page a job touches into
  // a statement journal; a failing job is rare.) Jobs are deterministic given the database, so
  // running one again gives what it gave the first time.
  void execute(Job* job) {
    try {
      if (sqlite3_get_autocommit(writer->db)) step_cached("BEGIN IMMEDIATE");
      job->run(job->body, *writer);
      uncommitted.push_back(job);
      return;
    } catch (...) {
      job->error = std::current_exception();
    }
    if (sqlite3_get_autocommit(writer->db)) {
      // SQLite rolled the transaction back itself (I/O error, disk full), or could not begin one:
      // nothing of it is written.
      fail_uncommitted(job->error);
      job->finish();
      return;
    }
    rollback();
    job->finish();
    std::vector<Job*> again;
    again.swap(uncommitted);
    for (Job* earlier : again) execute(earlier);
  }

  // The open transaction is lost: its jobs are answered with `error`.
  void fail_uncommitted(std::exception_ptr error) {
    rollback();
    for (Job* job : uncommitted) {
      job->error = error;
      job->finish();
    }
    uncommitted.clear();
  }

  bool sync_log() {
    while (::fdatasync(log_fd) != 0) {
      if (errno == EINTR) continue;
      log::error("SQLite: syncing {}-wal failed: {}", file.string(), std::strerror(errno));
      return false;
    }
    return true;
  }

  static constexpr const char* kUnsyncedLog = "SQLite: the database's log could not be synced to disk; writes are "
                                              "refused until the server restarts";

  // Wakes the callers of `done`: the first one, which wakes two more, and so on (see Job).
  static void answer(std::vector<Job*>& done) {
    for (size_t i = 0; i < done.size(); ++i)
      for (size_t child = 0; child < 2; ++child)
        if (2 * i + 1 + child < done.size()) done[i]->wake[child] = done[2 * i + 1 + child];
    done.front()->finish();  // its owner wakes the next ones; none of them may be touched now
  }

  void step_cached(const char* sql) { Query(*writer, sql).run(); }

  void rollback() {
    if (!sqlite3_get_autocommit(writer->db)) sqlite3_exec(writer->db, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // ---- reads: a pool of connections

  class Reader {
   public:
    explicit Reader(Impl& impl) : impl_(impl) {
      std::unique_lock lock(impl.readers_mutex);
      impl.readers_cv.wait(lock, [&] { return !impl.idle_readers.empty(); });
      conn_ = impl.idle_readers.back();
      impl.idle_readers.pop_back();
    }
    ~Reader() {
      {
        std::lock_guard lock(impl_.readers_mutex);
        impl_.idle_readers.push_back(conn_);
      }
      impl_.readers_cv.notify_one();
    }
    Conn& operator*() { return *conn_; }

   private:
    Impl& impl_;
    Conn* conn_;
  };

  template <typename F>
  auto read(F&& body) {
    Reader reader(*this);
    return body(*reader);
  }

  // Several statements that must see one snapshot.
  template <typename F>
  auto read_snapshot(F&& body) {
    Reader reader(*this);
    Conn& c = *reader;
    Query(c, "BEGIN").run();
    struct End {
      Conn& c;
      ~End() {
        if (!sqlite3_get_autocommit(c.db)) sqlite3_exec(c.db, "COMMIT", nullptr, nullptr, nullptr);
      }
    } end{c};
    return body(c);
  }

  std::filesystem::path file;
  int lock_fd = -1;
  std::unique_ptr<Conn> writer;
  std::vector<std::unique_ptr<Conn>> readers;

  std::mutex readers_mutex;
  std::condition_variable readers_cv;
  std::vector<Conn*> idle_readers;

  // The calls' hand-over to the writer.
  std::mutex mutex;
  std::condition_variable writer_cv;
  std::vector<Job*> queue;   // submitted, not yet run
  bool writer_idle = false;  // the writer waits for calls
  std::atomic<bool> log_unsynced{false};  // a sync of the log failed: nothing more is written
  bool stopping = false;
  std::vector<Job*> uncommitted;  // the writer thread's: run in its open transaction
  std::optional<std::chrono::steady_clock::time_point> unsynced_since;  // the writer's: commits not yet synced
  std::thread writer_thread;
  int log_fd = -1;       // the write-ahead log, for the writer's syncs
  int database_fd = -1;  // the database file, for the checkpoint thread's syncs
  std::unique_ptr<Conn> checkpointer;
  std::mutex checkpoint_mutex;
  std::condition_variable checkpoint_cv;
  bool checkpoint_wanted = false;
  bool checkpoint_running = false;
  bool checkpoint_stop = false;
  std::atomic<bool> checkpoint_copied{false};  // the checkpoint thread did its part
  std::thread checkpoint_thread;
  std::atomic<uint64_t> jobs{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> synced_jobs{0};
};

SqliteStorage::SqliteStorage(const std::filesystem::path& file) : impl_(std::make_unique<Impl>(file)) {
  try {
    std::error_code error;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), error);
    if (error)
      throw StartupError(fmt::format("cannot create the data folder {}: {}", file.parent_path().string(), error.message()));
    impl_->open();
    for (auto& reader : impl_->readers) impl_->idle_readers.push_back(reader.get());
  } catch (const StartupError&) {
    impl_.reset();
    throw;
  } catch (const std::exception& e) {
    impl_.reset();
    throw StartupError(fmt::format("cannot open the database {}: {}", file.string(), e.what()));
  }
}

SqliteStorage::~SqliteStorage() = default;

SqliteStorage::WriteStats SqliteStorage::write_stats() const {
  return {impl_->jobs.load(), impl_->batches.load(), impl_->syncs.load(), impl_->synced_jobs.load()};
}

// ---------------------------------------------------------------------------------------------
// Assistants

void SqliteStorage::check() {
  if (impl_->log_unsynced) throw StorageUnavailable(Impl::kUnsyncedLog);
  impl_->read([](Conn& c) { Query(c, "SELECT 1").step(); });
}

void SqliteStorage::put_assistant(const Assistant& assistant) {
  impl_->write([&](Conn& c) {
    Query current(c, std::string("INSERT OR REPLACE INTO assistants (") + kAssistantColumns +
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_assistant(current, assistant).run();
    Query version(c, std::string("INSERT OR REPLACE INTO assistant_versions (") + kAssistantColumns +
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_assistant(version, assistant).run();
  });
}

std::optional<Assistant> SqliteStorage::get_assistant(const std::string& assistant_id) {
  return impl_->read([&](Conn& c) {
    return row_by_key(c, std::string("SELECT ") + kAssistantColumns + " FROM assistants WHERE assistant_id = ?",
                      assistant_id, read_assistant);
  });
}

std::vector<Assistant> SqliteStorage::assistant_versions(const std::string& assistant_id) {
  return impl_->read([&](Conn& c) {
    Query q(c, std::string("SELECT ") + kAssistantColumns +
                   " FROM assistant_versions WHERE assistant_id = ? ORDER BY version DESC");
    q.bind(assistant_id);
    std::vector<Assistant> out;
    while (q.step()) out.push_back(read_assistant(q));
    return out;
  });
}

bool SqliteStorage::delete_assistant(const std::string& assistant_id) {
  return impl_->write([&](Conn& c) {
    Query(c, "DELETE FROM assistant_versions WHERE assistant_id = ?").bind(assistant_id).run();
    Query(c, "DELETE FROM crons WHERE assistant_id = ?").bind(assistant_id).run();
    Query(c, "DELETE FROM assistants WHERE assistant_id = ?").bind(assistant_id).run();
    return sqlite3_changes(c.db) > 0;
  });
}

Page<Assistant> SqliteStorage::search_assistants(const AssistantQuery& q) {
  Conditions where;
  if (q.graph_id) where.add("graph_id = ?", Param::of_text(*q.graph_id));
  if (q.name && !q.name->empty()) where.add("instr(name, ?) > 0", Param::of_text(*q.name));
  add_contains(where, "metadata", q.metadata);
  add_filter(where, "metadata", q.auth_filter);
  std::string key = "created_at";
  if (q.sort_by == "assistant_id" || q.sort_by == "graph_id" || q.sort_by == "name" || q.sort_by == "updated_at")
    key = q.sort_by;
  const std::string order = list_order(key, "assistant_id", q.descending);
  return impl_->read_snapshot([&](Conn& c) {
    return counted_page<Assistant>(c, kAssistantColumns, "assistants", where, order, q.limit, q.offset, read_assistant);
  });
}

// ---------------------------------------------------------------------------------------------
// Threads

bool SqliteStorage::create_thread(const Thread& thread, WriteWait wait) {
  const ThreadRow row(thread);
  const IndexRows index = metadata_index(row.metadata);
  return impl_->write([&](Conn& c) {
    Query insert(c,
                 "INSERT INTO threads (thread_id, created_at, updated_at, status, metadata, config, vals, interrupts, "
                 "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO NOTHING");
    insert.bind_ref(thread.thread_id)
        .bind_ref(thread.created_at)
        .bind_ref(thread.updated_at)
        .bind_ref(thread.status)
        .bind_ref(row.metadata)
        .bind_ref(row.config)
        .bind_ref(row.values)
        .bind_ref(row.interrupts)
        .bind_ref(row.error)
        .run();
    if (sqlite3_changes(c.db) == 0) return false;
    insert_thread_index(c, sqlite3_last_insert_rowid(c.db), thread.thread_id, thread.created_at, index);
    return true;
  }, wait);
}

std::optional<Thread> SqliteStorage::get_thread(const std::string& thread_id) {
  return impl_->read([&](Conn& c) {
    return row_by_key(c, std::string("SELECT ") + kThreadColumns + " FROM threads t WHERE t.thread_id = ?", thread_id,
                      read_thread);
  });
}

bool SqliteStorage::update_thread(const std::string& thread_id, const std::function<void(Thread&)>& change,
                                  WriteWait wait) {
  return impl_->write([&](Conn& c) { return change_thread_row(c, thread_id, change); }, wait);
}

bool SqliteStorage::delete_thread(const std::string& thread_id, WriteWait wait) {
  return impl_->write([&](Conn& c) {
    std::string metadata, created_at;
    {
      Query q(c, "DELETE FROM threads WHERE thread_id = ? RETURNING metadata, created_at");
      q.bind(thread_id);
      if (!q.step()) return false;
      metadata = q.string(0);
      created_at = q.string(1);
      q.run();
    }
    delete_thread_index(c, thread_id, created_at, metadata_index(metadata));
    Query(c, "DELETE FROM runs WHERE thread_id = ?").bind(thread_id).run();
    Query(c, "DELETE FROM checkpoints WHERE thread_id = ?").bind(thread_id).run();
    Query(c, "DELETE FROM crons WHERE thread_id = ?").bind(thread_id).run();
    return true;
  }, wait);
}

ThreadPage SqliteStorage::search_threads(const ThreadQuery& q) {
  const ThreadSearch s = plan_thread_search(q);
  return impl_->read([&](Conn& c) {
    ThreadPage page;
    // One row past the page says whether more follow.
    Query rows(c, thread_page_sql(s));
    auto params = s.where.params;
    params.push_back(Param::of_integer(int64_t{std::max(q.limit, 0)} + 1));
    params.push_back(Param::of_integer(std::max(q.offset, 0)));
    bind_all(rows, params);
    while (rows.step()) {
      if (page.items.size() == static_cast<size_t>(std::max(q.limit, 0))) {
        page.more = true;
        break;
      }
      page.items.push_back(read_thread(rows));
    }
    return page;
  });
}

size_t SqliteStorage::count_threads(const ThreadQuery& q) {
  const ThreadSearch s = plan_thread_search(q);
  return impl_->read([&](Conn& c) {
    // Without conditions on the thread row, counting the side table's range is enough.
    const std::string from = s.side && !s.thread_conditions ? "thread_metadata m" : s.from;
    Query count(c, s.unfiltered ? "SELECT (SELECT count(*) FROM threads) - (SELECT count(*) FROM threads WHERE "
                                  "substr(metadata, 1, 1) <> '{')"
                                : "SELECT count(*) FROM " + from + s.where.where());
    bind_all(count, s.where.params);
    return count.step() ? static_cast<size_t>(count.integer(0)) : size_t{0};
  });
}

std::string SqliteStorage::search_threads_plan(const ThreadQuery& q) {
  const ThreadSearch s = plan_thread_search(q);
  return impl_->read([&](Conn& c) {
    Query plan(c, "EXPLAIN QUERY PLAN " + thread_page_sql(s));
    auto params = s.where.params;
    add_paging(params, q.limit, q.offset);
    bind_all(plan, params);
    std::string out;
    while (plan.step()) out += plan.string(3) + "\n";
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Runs

void SqliteStorage::put_run(const Run& run) {
  impl_->write([&](Conn& c) {
    // An existing run keeps its lease.
    Query q(c, std::string("INSERT INTO runs (") + kRunColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                   "thread_id = excluded.thread_id, assistant_id = excluded.assistant_id, metadata = excluded.metadata, "
                   "status = excluded.status, kwargs = excluded.kwargs, multitask_strategy = "
                   "excluded.multitask_strategy, created_at = excluded.created_at, updated_at = excluded.updated_at, "
                   "output = excluded.output, error = excluded.error, ready_at = excluded.ready_at, cancel = "
                   "excluded.cancel");
    q.bind(run.run_id);
    bind_run_fields(q, run).run();
  });
}

std::optional<Run> SqliteStorage::get_run(const std::string& run_id) {
  return impl_->read([&](Conn& c) {
    return row_by_key(c, kRunById, run_id, read_run);
  });
}

bool SqliteStorage::update_run(const std::string& run_id, const std::function<void(Run&)>& change) {
  return impl_->write([&](Conn& c) {
    return change_row(c, kRunById, run_id, read_run, bind_run_fields, kUpdateRun, change);
  });
}

bool SqliteStorage::end_run(const std::string& thread_id, const std::string& run_id,
                            const std::function<bool(Run&)>& change_run, const std::function<void(Thread&)>& change_thread) {
  return impl_->write([&](Conn& c) {
    auto run = row_by_key(c, kRunById, run_id, read_run);
    if (!run || !change_run(*run)) return false;
    Query q(c, kUpdateRun);
    bind_run_fields(q, *run).bind(run_id).run();
    change_thread_row(c, thread_id, change_thread);
    return true;
  });
}

Page<Run> SqliteStorage::list_runs(const RunQuery& q) {
  Conditions where;
  where.add("thread_id = ?", Param::of_text(q.thread_id));
  if (q.status) where.add("status = ?", Param::of_text(*q.status));
  return impl_->read_snapshot([&](Conn& c) {
    return counted_page<Run>(c, kRunColumns, "runs", where, list_order("created_at", "run_id", true), q.limit,
                             q.offset, read_run);
  });
}

bool SqliteStorage::delete_run(const std::string& run_id) {
  return impl_->write([&](Conn& c) {
    Query(c, "DELETE FROM runs WHERE run_id = ?").bind(run_id).run();
    return sqlite3_changes(c.db) > 0;
  });
}

namespace {
// The pending run to claim next: the earliest ready, on a thread with no running run.
constexpr const char* kNextRunSql =
    "SELECT r.run_id FROM runs r WHERE r.status = 'pending' AND r.ready_at <= ? AND NOT EXISTS "
    "(SELECT 1 FROM runs b WHERE b.thread_id = r.thread_id AND b.status = 'running') "
    "ORDER BY r.ready_at, r.created_at, r.run_id LIMIT 1";
}  // namespace

std::optional<Run> SqliteStorage::claim_run(const std::string& worker, const std::string& now,
                                            const std::string& lease_until) {
  // Workers poll: look on a reader first, and queue a write only when there is a run to claim.
  const bool ready = impl_->read([&](Conn& c) {
    Query q(c, kNextRunSql);
    q.bind(now);
    return q.step();
  });
  if (!ready) return std::nullopt;
  return impl_->write([&](Conn& c) -> std::optional<Run> {
    std::string run_id;
    {
      Query next(c, kNextRunSql);
      next.bind(now);
      if (!next.step()) return std::nullopt;
      run_id = next.string(0);
    }
    Query claim(c, std::string("UPDATE runs SET status = 'running', updated_at = ?, lease_owner = ?, lease_until = ? "
                               "WHERE run_id = ? RETURNING ") +
                       kRunColumns);
    claim.bind(now).bind(worker).bind(lease_until).bind(run_id);
    if (!claim.step()) return std::nullopt;
    Run run = read_run(claim);
    claim.run();
    return run;
  });
}

void SqliteStorage::renew_leases(const std::string& worker, const std::string& lease_until) {
  impl_->write([&](Conn& c) {
    Query(c, "UPDATE runs SET lease_until = ? WHERE status = 'running' AND lease_owner = ?")
        .bind(lease_until)
        .bind(worker)
        .run();
  });
}

std::vector<Run> SqliteStorage::expired_runs(const std::string& now) {
  return impl_->read([&](Conn& c) {
    Query q(c, std::string("SELECT ") + kRunColumns +
                   " FROM runs WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?) ORDER BY run_id");
    q.bind(now);
    std::vector<Run> out;
    while (q.step()) out.push_back(read_run(q));
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

void SqliteStorage::put_checkpoint(const Checkpoint& checkpoint, WriteWait wait) {
  bool run_known = false;
  const std::string run_id = checkpoint_run_id_column(checkpoint.metadata, run_known);
  const std::string values = to_text(checkpoint.values), next = to_text(checkpoint.next),
                    tasks = to_text(checkpoint.tasks), metadata = to_text(checkpoint.metadata),
                    pending_writes = to_text(checkpoint.pending_writes), resumes = to_text(checkpoint.resumes);
  impl_->write([&](Conn& c) {
    Query q(c,
            "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_id, parent_checkpoint_id, run_id, vals, next, "
            "tasks, metadata, pending_writes, resumes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(checkpoint.thread_id).bind(checkpoint.checkpoint_id).bind(checkpoint.parent_checkpoint_id);
    if (run_known) {
      q.bind(run_id);
    } else {
      q.bind(nullptr);  // matches no run id
    }
    q.bind(values).bind(next).bind(tasks).bind(metadata).bind(pending_writes).bind(resumes).bind(checkpoint.created_at);
    q.run();
  }, wait);
}

std::optional<Checkpoint> SqliteStorage::latest_checkpoint(const std::string& thread_id) {
  return impl_->read([&](Conn& c) -> std::optional<Checkpoint> {
    Query q(c, std::string("SELECT ") + kCheckpointColumns +
                   " FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_id DESC LIMIT 1");
    q.bind(thread_id);
    if (!q.step()) return std::nullopt;
    return read_checkpoint(q);
  });
}

std::optional<Checkpoint> SqliteStorage::get_checkpoint(const std::string& thread_id, const std::string& checkpoint_id) {
  return impl_->read([&](Conn& c) -> std::optional<Checkpoint> {
    Query q(c, std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints WHERE thread_id = ? AND checkpoint_id = ?");
    q.bind(thread_id).bind(checkpoint_id);
    if (!q.step()) return std::nullopt;
    return read_checkpoint(q);
  });
}

std::vector<Checkpoint> SqliteStorage::list_checkpoints(const std::string& thread_id, int limit,
                                                        const std::string& before, const json& metadata) {
  if (limit <= 0) return {};
  Conditions where;
  where.add("thread_id = ?", Param::of_text(thread_id));
  if (!before.empty()) where.add("checkpoint_id < ?", Param::of_text(before));
  add_contains(where, "metadata", metadata);
  where.params.push_back(Param::of_integer(limit));
  return impl_->read([&](Conn& c) {
    Query q(c, std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints" + where.where() +
                   " ORDER BY checkpoint_id DESC LIMIT ?");
    bind_all(q, where.params);
    std::vector<Checkpoint> out;
    while (q.step()) out.push_back(read_checkpoint(q));
    return out;
  });
}

void SqliteStorage::delete_checkpoints_of_run(const std::string& thread_id, const std::string& run_id) {
  impl_->write([&](Conn& c) {
    Query(c, "DELETE FROM checkpoints WHERE thread_id = ? AND run_id = ?").bind(thread_id).bind(run_id).run();
  });
}

// ---------------------------------------------------------------------------------------------
// Store items

namespace {

// ns >= prefix AND ns < prefix with its last byte (the 0x00 ending a label) raised to 0x01.
void add_namespace_prefix(Conditions& where, const std::vector<std::string>& prefix) {
  if (prefix.empty()) return;
  std::string low = encode_path(prefix);
  std::string high = low;
  high.back() = '\x01';
  where.add("ns >= ?", Param::of_blob(std::move(low)));
  where.add("ns < ?", Param::of_blob(std::move(high)));
}

}  // namespace

void SqliteStorage::put_item(const Item& item) {
  const std::string ns = encode_path(item.namespace_path);
  const std::string value = to_text(item.value);
  impl_->write([&](Conn& c) {
    // An existing item keeps its created_at.
    Query(c,
          "INSERT INTO items (ns, key, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (ns, key) "
          "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at")
        .bind(Blob{ns})
        .bind(item.key)
        .bind(value)
        .bind(item.created_at)
        .bind(item.updated_at)
        .run();
  });
}

std::optional<Item> SqliteStorage::get_item(const std::vector<std::string>& namespace_path, const std::string& key) {
  const std::string ns = encode_path(namespace_path);
  return impl_->read([&](Conn& c) -> std::optional<Item> {
    Query q(c, std::string("SELECT ") + kItemColumns + " FROM items WHERE ns = ? AND key = ?");
    q.bind(Blob{ns}).bind(key);
    if (!q.step()) return std::nullopt;
    return read_item(q);
  });
}

bool SqliteStorage::delete_item(const std::vector<std::string>& namespace_path, const std::string& key) {
  const std::string ns = encode_path(namespace_path);
  return impl_->write([&](Conn& c) {
    Query(c, "DELETE FROM items WHERE ns = ? AND key = ?").bind(Blob{ns}).bind(key).run();
    return sqlite3_changes(c.db) > 0;
  });
}

std::vector<Item> SqliteStorage::search_items(const ItemQuery& q) {
  if (q.limit <= 0) return {};
  Conditions where;
  add_namespace_prefix(where, q.namespace_prefix);
  add_contains(where, "value", q.value_filter);
  if (!q.auth_filter.empty())
    where.add("lgs_item_filter(?, value, ns, key)", Param::of_text(to_text(q.auth_filter)));
  add_paging(where.params, q.limit, q.offset);
  return impl_->read([&](Conn& c) {
    Query rows(c, std::string("SELECT ") + kItemColumns + " FROM items" + where.where() +
                      " ORDER BY updated_at DESC, ns ASC, key ASC LIMIT ? OFFSET ?");
    bind_all(rows, where.params);
    std::vector<Item> out;
    while (rows.step()) out.push_back(read_item(rows));
    return out;
  });
}

std::vector<std::vector<std::string>> SqliteStorage::list_namespaces(const NamespaceQuery& q) {
  if (q.limit <= 0) return {};
  Conditions where;
  where.params.push_back(Param::of_integer(q.max_depth ? *q.max_depth : -1));  // lgs_ns_head's depth
  add_namespace_prefix(where, q.prefix);
  if (!q.suffix.empty()) where.add("lgs_ns_ends(ns, ?)", Param::of_blob(encode_path(q.suffix)));
  if (!q.auth_filter.empty())
    where.add("lgs_item_filter(?, value, ns, key)", Param::of_text(to_text(q.auth_filter)));
  add_paging(where.params, q.limit, q.offset);
  return impl_->read([&](Conn& c) {
    Query rows(c, "SELECT DISTINCT lgs_ns_head(ns, ?) AS head FROM items" + where.where() +
                      " ORDER BY head LIMIT ? OFFSET ?");
    bind_all(rows, where.params);
    std::vector<std::vector<std::string>> out;
    while (rows.step()) out.push_back(decode_path(rows.blob(0)));
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Crons

namespace {

constexpr const char* kCronColumns =
    "cron_id, assistant_id, thread_id, on_run_completed, end_time, schedule, timezone, created_at, updated_at, "
    "payload, user_id, next_run_date, metadata, enabled, auth_user";

Cron read_cron(Query& q) {
  Cron c;
  c.cron_id = q.string(0);
  c.assistant_id = q.string(1);
  c.thread_id = q.string(2);
  c.on_run_completed = q.string(3);
  c.end_time = q.string(4);
  c.schedule = q.string(5);
  c.timezone = q.string(6);
  c.created_at = q.string(7);
  c.updated_at = q.string(8);
  c.payload = q.json_or(9, json::object());
  c.user_id = q.string(10);
  c.next_run_date = q.string(11);
  c.metadata = q.json_or(12, json::object());
  c.enabled = q.integer(13) != 0;
  c.auth_user = q.json_or(14, json());
  return c;
}

// Binds every column of kCronColumns but cron_id, in order.
Query& bind_cron_fields(Query& q, const Cron& c) {
  return q.bind(c.assistant_id)
      .bind(c.thread_id)
      .bind(c.on_run_completed)
      .bind(c.end_time)
      .bind(c.schedule)
      .bind(c.timezone)
      .bind(c.created_at)
      .bind(c.updated_at)
      .bind(to_text(c.payload))
      .bind(c.user_id)
      .bind(c.next_run_date)
      .bind(to_text(c.metadata))
      .bind(c.enabled ? 1 : 0)
      .bind(to_text(c.auth_user));
}

// Enabled, not past its end_time at `now` (the first parameter, twice).
constexpr const char* kCronLive = "enabled = 1 AND (end_time = '' OR end_time > ?)";

}  // namespace

bool SqliteStorage::create_cron(const Cron& cron) {
  return impl_->write([&](Conn& c) {
    Query q(c, std::string("INSERT INTO crons (") + kCronColumns +
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cron_id) DO NOTHING");
    q.bind(cron.cron_id);
    bind_cron_fields(q, cron).run();
    return sqlite3_changes(c.db) > 0;
  });
}

std::optional<Cron> SqliteStorage::get_cron(const std::string& cron_id) {
  return impl_->read([&](Conn& c) {
    return row_by_key(c, std::string("SELECT ") + kCronColumns + " FROM crons WHERE cron_id = ?", cron_id, read_cron);
  });
}

bool SqliteStorage::update_cron(const std::string& cron_id, const std::function<void(Cron&)>& change) {
  return impl_->write([&](Conn& c) {
    return change_row(c, std::string("SELECT ") + kCronColumns + " FROM crons WHERE cron_id = ?", cron_id, read_cron,
                      bind_cron_fields,
                      "UPDATE crons SET assistant_id = ?, thread_id = ?, on_run_completed = ?, end_time = ?, "
                      "schedule = ?, timezone = ?, created_at = ?, updated_at = ?, payload = ?, user_id = ?, "
                      "next_run_date = ?, metadata = ?, enabled = ?, auth_user = ? WHERE cron_id = ?",
                      change);
  });
}

bool SqliteStorage::delete_cron(const std::string& cron_id, const std::function<bool(const Cron&)>& allowed) {
  return impl_->write([&](Conn& c) {
    if (allowed) {
      Query q(c, std::string("SELECT ") + kCronColumns + " FROM crons WHERE cron_id = ?");
      q.bind(cron_id);
      if (!q.step() || !allowed(read_cron(q))) return false;
    }
    Query(c, "DELETE FROM crons WHERE cron_id = ?").bind(cron_id).run();
    return sqlite3_changes(c.db) > 0;
  });
}

Page<Cron> SqliteStorage::search_crons(const CronQuery& q) {
  Conditions where;
  if (q.assistant_id) where.add("assistant_id = ?", Param::of_text(*q.assistant_id));
  if (q.thread_id) where.add("thread_id = ?", Param::of_text(*q.thread_id));
  if (q.enabled) where.add("enabled = ?", Param::of_integer(*q.enabled ? 1 : 0));
  add_contains(where, "metadata", q.metadata);
  add_filter(where, "metadata", q.auth_filter);
  std::string key = "created_at";
  for (const char* column : {"cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "updated_at"})
    if (q.sort_by == column) key = column;
  const std::string order = list_order(key, "cron_id", q.descending);
  return impl_->read_snapshot([&](Conn& c) {
    return counted_page<Cron>(c, kCronColumns, "crons", where, order, q.limit, q.offset, read_cron);
  });
}

std::vector<Cron> SqliteStorage::due_crons(const std::string& now, int limit) {
  return impl_->read([&](Conn& c) {
    Query q(c, std::string("SELECT ") + kCronColumns + " FROM crons WHERE " + kCronLive +
                   " AND next_run_date <= ? ORDER BY next_run_date, cron_id LIMIT ?");
    q.bind(now).bind(now).bind(std::max(limit, 0));
    std::vector<Cron> out;
    while (q.step()) out.push_back(read_cron(q));
    return out;
  });
}

std::optional<std::string> SqliteStorage::next_cron_due(const std::string& now) {
  return impl_->read([&](Conn& c) -> std::optional<std::string> {
    Query q(c, std::string("SELECT min(next_run_date) FROM crons WHERE ") + kCronLive);
    q.bind(now);
    if (!q.step() || q.text(0).data() == nullptr) return std::nullopt;
    return q.string(0);
  });
}

std::optional<Cron> SqliteStorage::advance_cron(const std::string& cron_id, const std::string& from,
                                                const std::string& to, const std::string& now) {
  return impl_->write([&](Conn& c) -> std::optional<Cron> {
    Query q(c, std::string("UPDATE crons SET next_run_date = ? WHERE cron_id = ? AND next_run_date = ? AND ") +
                   kCronLive + " RETURNING " + kCronColumns);
    q.bind(to).bind(cron_id).bind(from).bind(now);
    if (!q.step()) return std::nullopt;
    Cron claimed = read_cron(q);
    q.run();  // done before the commit
    return claimed;
  });
}

}  // namespace lgs
