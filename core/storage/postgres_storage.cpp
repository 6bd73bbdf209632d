#include "storage/postgres_storage.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <type_traits>
#include <utility>

#include "config/startup_error.hpp"

namespace lgs {

namespace {

// ---------------------------------------------------------------------------------------------
// libpq, wrapped

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;

// The connection broke under a statement. `commit_unknown`: the statement was a COMMIT, so
// whether the transaction committed cannot be known.
struct ConnectionLost : std::runtime_error {
  using std::runtime_error::runtime_error;
  bool commit_unknown = false;
};

// No connection could be opened.
struct ConnectFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Param = std::optional<std::string>;  // nullopt: SQL NULL

class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}
  PGresult* get() const { return result_.get(); }
  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(result_.get(), row, col), PQgetlength(result_.get(), row, col));
  }
  json jsonb(int row, int col) const {
    if (is_null(row, col)) return json();
    return parse_stored_json(
        std::string_view(PQgetvalue(result_.get(), row, col), static_cast<size_t>(PQgetlength(result_.get(), row, col))));
  }
  int64_t integer(int row, int col) const { return std::stoll(text(row, col)); }
  bool boolean(int row, int col) const { return PQgetvalue(result_.get(), row, col)[0] == 't'; }
  // Rows an INSERT, UPDATE or DELETE touched.
  long affected() const {
    const char* count = PQcmdTuples(result_.get());
    return *count ? std::atol(count) : 0;
  }

 private:
  std::unique_ptr<PGresult, ResultDeleter> result_;
};

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class Connection {
 public:
  explicit Connection(ConnPtr conn) : conn_(std::move(conn)) {}
  PGconn* get() const { return conn_.get(); }

  // Runs one statement with its values as separate parameters.
  Result exec(const std::string& sql, const std::vector<Param>& params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    PGresult* raw = PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                 nullptr, nullptr, 0);
    Result result(raw);
    const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : "";
    const std::string message = trim(raw && *PQresultErrorMessage(raw) ? PQresultErrorMessage(raw) : PQerrorMessage(conn_.get()));
    // 08: connection exceptions; 57P01-57P03: the server shut down or is starting.
    if (PQstatus(conn_.get()) == CONNECTION_BAD || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" ||
        sqlstate == "57P02" || sqlstate == "57P03")
      throw ConnectionLost(message);
    throw std::runtime_error("PostgreSQL: " + message + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")"));
  }

  // True when the connection still looks usable: idle, and the server has not closed it (a
  // restarted or terminated backend leaves an error and end-of-file to read; reading them here
  // costs no round trip).
  bool healthy() {
    if (PQstatus(conn_.get()) != CONNECTION_OK || PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) return false;
    for (int i = 0; i < 2; ++i)
      if (!PQconsumeInput(conn_.get()) || PQstatus(conn_.get()) != CONNECTION_OK) return false;
    while (PGnotify* notify = PQnotifies(conn_.get())) PQfreemem(notify);
    return PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
  }

 private:
  ConnPtr conn_;
};

// ---------------------------------------------------------------------------------------------
// Connection settings and error messages

struct Target {
  std::string description;  // "host H port P database D", for messages
  std::string password;     // to keep out of messages
};

Target describe(const std::string& conninfo) {
  Target target;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (!options) {
    if (error) PQfreemem(error);
    target.description = "(connection string not understood)";
    return target;
  }
  std::string host, port, dbname, user;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    const std::string keyword = o->keyword;
    if (keyword == "host") host = o->val;
    else if (keyword == "hostaddr" && host.empty()) host = o->val;
    else if (keyword == "port") port = o->val;
    else if (keyword == "dbname") dbname = o->val;
    else if (keyword == "user") user = o->val;
    else if (keyword == "password") target.password = o->val;
  }
  PQconninfoFree(options);
  target.description = "host " + (host.empty() ? std::string("(default socket)") : host);
  if (!port.empty()) target.description += " port " + port;
  target.description += " database " + (dbname.empty() ? (user.empty() ? std::string("(default)") : user) : dbname);
  return target;
}

std::string scrub(std::string message, const std::string& secret) {
  if (secret.empty()) return message;
  for (size_t at = message.find(secret); at != std::string::npos; at = message.find(secret, at + 3))
    message.replace(at, secret.size(), "***");
  return message;
}

// ---------------------------------------------------------------------------------------------
// The pool: up to kMaxConnections, opened when needed, each used by one call at a time.

constexpr int kMaxConnections = 16;
constexpr auto kWaitForConnection = std::chrono::seconds(30);

class Pool {
 public:
  explicit Pool(std::string conninfo) : conninfo_(std::move(conninfo)), target_(describe(conninfo_)) {}

  const Target& target() const { return target_; }

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_) pool_->release(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    void discard() { conn_.reset(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // A healthy idle connection, or a new one. Throws ConnectFailed.
  Lease acquire() {
    std::unique_lock lock(mutex_);
    for (;;) {
      while (!idle_.empty()) {
        std::unique_ptr<Connection> conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn->healthy()) return Lease(this, std::move(conn));
        --open_;  // closed when `conn` goes
      }
      if (open_ < kMaxConnections) break;
      if (!available_.wait_for(lock, kWaitForConnection, [&] { return !idle_.empty() || open_ < kMaxConnections; }))
        throw ConnectFailed("every database connection is busy");
    }
    ++open_;
    lock.unlock();
    try {
      return Lease(this, std::make_unique<Connection>(connect()));
    } catch (...) {
      lock.lock();
      --open_;
      available_.notify_one();
      throw;
    }
  }

  // Closes every idle connection: after one broke, the others most likely broke with it.
  void discard_idle() {
    std::vector<std::unique_ptr<Connection>> closing;
    {
      std::lock_guard lock(mutex_);
      closing.swap(idle_);
      open_ -= static_cast<int>(closing.size());
      available_.notify_all();
    }
  }

 private:
  void release(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mutex_);
    if (conn && PQstatus(conn->get()) == CONNECTION_OK && PQtransactionStatus(conn->get()) == PQTRANS_IDLE)
      idle_.push_back(std::move(conn));
    else
      --open_;
    available_.notify_one();
  }

  ConnPtr connect() {
    // Defaults first: the connection string's own settings override them.
    const char* keywords[] = {"connect_timeout", "application_name", "keepalives", "keepalives_idle",
                              "keepalives_interval", "keepalives_count", "dbname", nullptr};
    const char* values[] = {"10", "langgraph-server", "1", "30", "10", "3", conninfo_.c_str(), nullptr};
    ConnPtr conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (!conn) throw ConnectFailed("out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK)
      throw ConnectFailed(scrub(trim(PQerrorMessage(conn.get())), target_.password));
    // Notices ("already exists, skipping") and the server's farewell on a dropped connection are
    // not for the server's output: failures reach the caller as exceptions.
    PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
    // Records carry UTF-8; timestamps are text, so the session time zone does not matter.
    if (PQsetClientEncoding(conn.get(), "UTF8") != 0)
      throw ConnectFailed(scrub(trim(PQerrorMessage(conn.get())), target_.password));
    // Short statements only: compiling one costs more than it saves (a count over a million
    // threads took 70 ms longer with JIT). A server without JIT refuses the setting: no matter.
    PQclear(PQexec(conn.get(), "SET jit = off"));
    if (PQstatus(conn.get()) != CONNECTION_OK)
      throw ConnectFailed(scrub(trim(PQerrorMessage(conn.get())), target_.password));
    return conn;
  }

  const std::string conninfo_;
  const Target target_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle + leased
};

// ---------------------------------------------------------------------------------------------
// Values

std::string to_text(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// A PostgreSQL array literal ({"a","b"}) of text values: a parameter, never SQL.
std::string array_literal(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::vector<std::string> string_list(const json& value) {
  std::vector<std::string> out;
  if (value.is_array())
    for (const auto& element : value) out.push_back(element.is_string() ? element.get<std::string>() : to_text(element));
  return out;
}

// Builds the parameter list of one statement; add() returns the placeholder ("$3::jsonb").
class Params {
 public:
  std::string add(Param value, const char* type) {
    values_.push_back(std::move(value));
    return "$" + std::to_string(values_.size()) + "::" + type;
  }
  std::string text(const std::string& value) { return add(value, "text"); }
  std::string jsonb(const json& value) { return add(to_text(value), "jsonb"); }
  std::string integer(int64_t value) { return add(std::to_string(value), "bigint"); }
  std::string text_array(const std::vector<std::string>& values) { return add(array_literal(values), "text[]"); }
  const std::vector<Param>& values() const { return values_; }

 private:
  std::vector<Param> values_;
};

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

bool is_scalar(const json& value) { return !value.is_object() && !value.is_array(); }

// json_contains(column, pattern) in SQL. jsonb @> is the same relation except that it lets a
// top-level array contain a bare scalar; a scalar pattern is therefore compared by equality.
std::string contains_sql(const std::string& column, const json& pattern, Params& params) {
  if (is_scalar(pattern)) return "(" + column + " = " + params.jsonb(pattern) + ")";
  return "(" + column + " @> " + params.jsonb(pattern) + ")";
}

// ---------------------------------------------------------------------------------------------
// Authorization filters (authz/filter.hpp) in SQL, with filter_matches' semantics. A field is
// present when the document is an object holding the key; `doc -> key` is NULL otherwise.
// Equality on a field becomes `doc @> {"key": value}` wherever it can, so that the GIN index
// (jsonb_path_ops) of the column serves it. The SQL never negates a sub-expression, so a NULL
// (absent field) always counts as "no match", as in filter_matches.

struct FilterDocument {
  std::string column;      // the jsonb column holding the document
  bool item_view = false;  // a store item's filter view: the value's fields, plus namespace and key

  bool in_column(const std::string& key) const { return !(item_view && (key == "namespace" || key == "key")); }
  std::string field(const std::string& key, Params& params) const {
    if (item_view && key == "namespace") return "to_jsonb(namespace)";
    if (item_view && key == "key") return "to_jsonb(key)";
    return "(" + column + " -> " + params.text(key) + ")";
  }
};

bool is_operator_object(const json& condition) {
  return condition.is_object() && !condition.empty() &&
         std::all_of(condition.items().begin(), condition.items().end(),
                     [](const auto& item) { return !item.key().empty() && item.key()[0] == '$'; });
}

std::string equal_sql(const FilterDocument& doc, const std::string& key, const json& value, Params& params) {
  if (!doc.in_column(key)) return "(" + doc.field(key, params) + " = " + params.jsonb(value) + ")";
  std::string sql = "(" + doc.column + " @> " + params.jsonb(json{{key, value}});
  // Containment of an object or list is not equality: check that too (the index still applies).
  if (!is_scalar(value)) sql += " AND " + doc.field(key, params) + " = " + params.jsonb(value);
  return sql + ")";
}

std::string in_sql(const FilterDocument& doc, const std::string& key, const json& operand, Params& params) {
  std::vector<json> options;
  for (const auto& option : operand) options.push_back(option);  // iterates as filter_matches does
  if (options.empty()) return "FALSE";
  std::vector<std::string> texts;
  if (doc.in_column(key) && std::all_of(options.begin(), options.end(), is_scalar)) {
    for (const auto& option : options) texts.push_back(to_text(json{{key, option}}));
    return "(" + doc.column + " @> ANY(" + params.add(array_literal(texts), "jsonb[]") + "))";
  }
  for (const auto& option : options) texts.push_back(to_text(option));
  return "(" + doc.field(key, params) + " = ANY(" + params.add(array_literal(texts), "jsonb[]") + "))";
}

std::string list_contains_sql(const FilterDocument& doc, const std::string& key, const json& wanted, Params& params) {
  json scalars = json::array();
  std::vector<json> others;
  for (const auto& element : wanted.is_array() ? wanted : json::array({wanted})) {
    if (is_scalar(element))
      scalars.push_back(element);
    else
      others.push_back(element);
  }
  std::vector<std::string> parts;
  // A list pattern matches scalars by equality, and only a list: this also requires the field
  // to be a list.
  if (doc.in_column(key)) {
    parts.push_back("(" + doc.column + " @> " + params.jsonb(json{{key, scalars}}) + ")");
  } else {
    const std::string field = doc.field(key, params);
    parts.push_back("(jsonb_typeof(" + field + ") = 'array' AND " + field + " @> " + params.jsonb(scalars) + ")");
  }
  for (const auto& other : others) {
    const std::string field = doc.field(key, params);
    parts.push_back("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(" + field + ") = 'array' THEN " +
                    field + " END) AS element WHERE element = " + params.jsonb(other) + ")");
  }
  return "(" + join(parts, " AND ") + ")";
}

std::string condition_sql(const FilterDocument& doc, const std::string& key, const json& condition, Params& params) {
  if (!is_operator_object(condition)) return equal_sql(doc, key, condition, params);
  std::vector<std::string> parts;
  for (const auto& [op, operand] : condition.items()) {
    if (op == "$eq") parts.push_back(equal_sql(doc, key, operand, params));
    else if (op == "$ne") parts.push_back("(" + doc.field(key, params) + " IS DISTINCT FROM " + params.jsonb(operand) + ")");
    else if (op == "$in") parts.push_back(in_sql(doc, key, operand, params));
    else if (op == "$contains") parts.push_back(list_contains_sql(doc, key, operand, params));
    else parts.push_back("FALSE");  // validate_filter refuses unknown operators: never a match
  }
  return "(" + join(parts, " AND ") + ")";
}

std::string filter_sql(const json& filter, const FilterDocument& doc, Params& params) {
  std::vector<std::string> parts;
  for (const auto& [key, condition] : filter.items()) {
    if (key == "$or") {
      std::vector<std::string> options;
      for (const auto& part : condition) options.push_back(filter_sql(part, doc, params));
      parts.push_back(options.empty() ? "FALSE" : "(" + join(options, " OR ") + ")");
    } else if (key == "$and") {
      for (const auto& part : condition) parts.push_back(filter_sql(part, doc, params));
    } else {
      parts.push_back(condition_sql(doc, key, condition, params));
    }
  }
  return parts.empty() ? "TRUE" : "(" + join(parts, " AND ") + ")";
}

// ---------------------------------------------------------------------------------------------
// Schema. Each migration runs once, in order, in the transaction that records it.

struct Migration {
  int version;
  std::vector<const char*> statements;
};

// Text columns use the "C" collation: ids and ISO 8601 timestamps sort bytewise, as std::string.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1,
       {R"(CREATE TABLE assistants (
             assistant_id text COLLATE "C" PRIMARY KEY,
             graph_id text COLLATE "C" NOT NULL,
             config jsonb NOT NULL,
             context jsonb NOT NULL,
             metadata jsonb NOT NULL,
             version integer NOT NULL,
             name text COLLATE "C" NOT NULL,
             description jsonb NOT NULL,
             created_at text COLLATE "C" NOT NULL,
             updated_at text COLLATE "C" NOT NULL))",
        "CREATE INDEX assistants_metadata_idx ON assistants USING gin (metadata jsonb_path_ops)",
        R"(CREATE TABLE assistant_versions (
             assistant_id text COLLATE "C" NOT NULL,
             graph_id text COLLATE "C" NOT NULL,
             config jsonb NOT NULL,
             context jsonb NOT NULL,
             metadata jsonb NOT NULL,
             version integer NOT NULL,
             name text COLLATE "C" NOT NULL,
             description jsonb NOT NULL,
             created_at text COLLATE "C" NOT NULL,
             updated_at text COLLATE "C" NOT NULL,
             PRIMARY KEY (assistant_id, version)))",
        R"(CREATE TABLE threads (
             thread_id text COLLATE "C" PRIMARY KEY,
             created_at text COLLATE "C" NOT NULL,
             updated_at text COLLATE "C" NOT NULL,
             metadata jsonb NOT NULL,
             status text COLLATE "C" NOT NULL,
             config jsonb NOT NULL,
             state_values jsonb NOT NULL,
             interrupts jsonb NOT NULL,
             error jsonb NOT NULL))",
        // fastupdate off: searches never scan a pending list that grows with every insert.
        "CREATE INDEX threads_metadata_idx ON threads USING gin (metadata jsonb_path_ops) WITH (fastupdate = off)",
        "CREATE INDEX threads_created_at_idx ON threads (created_at)",
        "CREATE INDEX threads_updated_at_idx ON threads (updated_at)",
        R"(CREATE TABLE runs (
             run_id text COLLATE "C" PRIMARY KEY,
             thread_id text COLLATE "C" NOT NULL,
             assistant_id text COLLATE "C" NOT NULL,
             metadata jsonb NOT NULL,
             status text COLLATE "C" NOT NULL,
             kwargs jsonb NOT NULL,
             multitask_strategy text COLLATE "C" NOT NULL,
             created_at text COLLATE "C" NOT NULL,
             updated_at text COLLATE "C" NOT NULL,
             output jsonb NOT NULL,
             error jsonb NOT NULL,
             ready_at text COLLATE "C" NOT NULL,
             cancel text COLLATE "C" NOT NULL,
             lease_owner text COLLATE "C",
             lease_until text COLLATE "C"))",
        "CREATE INDEX runs_thread_idx ON runs (thread_id, created_at)",
        "CREATE INDEX runs_queue_idx ON runs (ready_at, created_at, run_id) WHERE status = 'pending'",
        "CREATE INDEX runs_running_idx ON runs (thread_id) WHERE status = 'running'",
        "CREATE INDEX runs_lease_idx ON runs (lease_owner) WHERE status = 'running'",
        R"(CREATE TABLE checkpoints (
             thread_id text COLLATE "C" NOT NULL,
             checkpoint_id text COLLATE "C" NOT NULL,
             parent_checkpoint_id text COLLATE "C" NOT NULL,
             state_values jsonb NOT NULL,
             next jsonb NOT NULL,
             tasks jsonb NOT NULL,
             metadata jsonb NOT NULL,
             pending_writes jsonb NOT NULL,
             resumes jsonb NOT NULL,
             created_at text COLLATE "C" NOT NULL,
             PRIMARY KEY (thread_id, checkpoint_id)))",
        R"(CREATE TABLE store_items (
             namespace text[] COLLATE "C" NOT NULL,
             key text COLLATE "C" NOT NULL,
             value jsonb NOT NULL,
             created_at text COLLATE "C" NOT NULL,
             updated_at text COLLATE "C" NOT NULL,
             PRIMARY KEY (namespace, key)))",
        "CREATE INDEX store_items_value_idx ON store_items USING gin (value jsonb_path_ops)",
        "CREATE INDEX store_items_updated_at_idx ON store_items (updated_at)",
        R"(CREATE TABLE run_events (
             run_id text COLLATE "C" NOT NULL,
             id bigint NOT NULL,
             mode text NOT NULL,
             event text NOT NULL,
             data text NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (run_id, id)))",
        "CREATE INDEX run_events_created_at_idx ON run_events (created_at)"}},
      // Crons. Optional text fields hold '' when unset; crons_due_idx serves the scheduler.
      {2,
       {R"(CREATE TABLE crons (
             cron_id text COLLATE "C" PRIMARY KEY,
             assistant_id text COLLATE "C" NOT NULL,
             thread_id text COLLATE "C" NOT NULL,
             on_run_completed text COLLATE "C" NOT NULL,
             end_time text COLLATE "C" NOT NULL,
             schedule text NOT NULL,
             timezone text NOT NULL,
             created_at text COLLATE "C" NOT NULL,
             updated_at text COLLATE "C" NOT NULL,
             payload jsonb NOT NULL,
             user_id text NOT NULL,
             next_run_date text COLLATE "C" NOT NULL,
             metadata jsonb NOT NULL,
             enabled boolean NOT NULL,
             auth_user jsonb NOT NULL))",
        "CREATE INDEX crons_due_idx ON crons (next_run_date) WHERE enabled",
        "CREATE INDEX crons_thread_idx ON crons (thread_id)",
        "CREATE INDEX crons_assistant_idx ON crons (assistant_id)",
        "CREATE INDEX crons_created_at_idx ON crons (created_at)",
        "CREATE INDEX crons_metadata_idx ON crons USING gin (metadata jsonb_path_ops)"}},
  };
  return all;
}

// Serializes migrations of every server starting on the database (a transaction-scoped lock).
constexpr const char* kMigrationLockKey = "7305617312519028481";
// Advisory locks on thread ids (two-int form: this class, hashtext(thread_id)) while claiming.
constexpr const char* kThreadLockClass = "1279742804";
// Another class of advisory locks on a thread: lock_thread's, for writes checked against the
// thread's runs (independent of claims).
constexpr const char* kThreadWriteLockClass = "1279742805";

// ---------------------------------------------------------------------------------------------
// Records <-> rows

const char* const kAssistantColumns =
    "assistant_id, graph_id, config, context, metadata, version, name, description, created_at, updated_at";
const char* const kThreadColumns =
    "thread_id, created_at, updated_at, metadata, status, config, state_values, interrupts, error";
const char* const kRunColumns =
    "run_id, thread_id, assistant_id, metadata, status, kwargs, multitask_strategy, created_at, updated_at, output, "
    "error, ready_at, cancel";
const char* const kCheckpointColumns =
    "thread_id, checkpoint_id, parent_checkpoint_id, state_values, next, tasks, metadata, pending_writes, resumes, "
    "created_at";
const char* const kItemColumns = "to_jsonb(namespace), key, value, created_at, updated_at";

Assistant assistant_at(const Result& r, int row) {
  Assistant a;
  a.assistant_id = r.text(row, 0);
  a.graph_id = r.text(row, 1);
  a.config = r.jsonb(row, 2);
  a.context = r.jsonb(row, 3);
  a.metadata = r.jsonb(row, 4);
  a.version = static_cast<int>(r.integer(row, 5));
  a.name = r.text(row, 6);
  a.description = r.jsonb(row, 7);
  a.created_at = r.text(row, 8);
  a.updated_at = r.text(row, 9);
  return a;
}

std::vector<Param> assistant_params(const Assistant& a) {
  return {a.assistant_id, a.graph_id,    to_text(a.config),       to_text(a.context),
          to_text(a.metadata), std::to_string(a.version), a.name, to_text(a.description),
          a.created_at,   a.updated_at};
}

Thread thread_at(const Result& r, int row) {
  Thread t;
  t.thread_id = r.text(row, 0);
  t.created_at = r.text(row, 1);
  t.updated_at = r.text(row, 2);
  t.metadata = r.jsonb(row, 3);
  t.status = r.text(row, 4);
  t.config = r.jsonb(row, 5);
  t.values = r.jsonb(row, 6);
  t.interrupts = r.jsonb(row, 7);
  t.error = r.jsonb(row, 8);
  return t;
}

std::vector<Param> thread_params(const Thread& t) {
  return {t.thread_id,      t.created_at,       t.updated_at,         to_text(t.metadata), t.status,
          to_text(t.config), to_text(t.values), to_text(t.interrupts), to_text(t.error)};
}

Run run_at(const Result& r, int row) {
  Run run;
  run.run_id = r.text(row, 0);
  run.thread_id = r.text(row, 1);
  run.assistant_id = r.text(row, 2);
  run.metadata = r.jsonb(row, 3);
  run.status = r.text(row, 4);
  run.kwargs = r.jsonb(row, 5);
  run.multitask_strategy = r.text(row, 6);
  run.created_at = r.text(row, 7);
  run.updated_at = r.text(row, 8);
  run.output = r.jsonb(row, 9);
  run.error = r.jsonb(row, 10);
  run.ready_at = r.text(row, 11);
  run.cancel = r.text(row, 12);
  return run;
}

std::vector<Param> run_params(const Run& run) {
  return {run.run_id,         run.thread_id,        run.assistant_id,      to_text(run.metadata), run.status,
          to_text(run.kwargs), run.multitask_strategy, run.created_at,      run.updated_at,       to_text(run.output),
          to_text(run.error),  run.ready_at,         run.cancel};
}

Checkpoint checkpoint_at(const Result& r, int row) {
  Checkpoint c;
  c.thread_id = r.text(row, 0);
  c.checkpoint_id = r.text(row, 1);
  c.parent_checkpoint_id = r.text(row, 2);
  c.values = r.jsonb(row, 3);
  c.next = string_list(r.jsonb(row, 4));
  c.tasks = r.jsonb(row, 5);
  c.metadata = r.jsonb(row, 6);
  c.pending_writes = r.jsonb(row, 7);
  c.resumes = r.jsonb(row, 8);
  c.created_at = r.text(row, 9);
  return c;
}

Item item_at(const Result& r, int row) {
  Item item;
  item.namespace_path = string_list(r.jsonb(row, 0));
  item.key = r.text(row, 1);
  item.value = r.jsonb(row, 2);
  item.created_at = r.text(row, 3);
  item.updated_at = r.text(row, 4);
  return item;
}

template <typename T, typename Decode>
std::vector<T> all_rows(const Result& result, Decode decode) {
  std::vector<T> out;
  out.reserve(result.rows());
  for (int row = 0; row < result.rows(); ++row) out.push_back(decode(result, row));
  return out;
}

template <typename T, typename Decode>
std::optional<T> first_row(const Result& result, Decode decode) {
  if (result.rows() == 0) return std::nullopt;
  return decode(result, 0);
}

// Changes one record in place: reads its row FOR UPDATE (`select_sql`, the id as $1), lets
// `change` edit it, and writes it back with `update_sql` ($1 the id, then the record's
// parameters as `params_of` lists them for an insert). False when there is no such row.
template <typename T, typename Decode, typename ParamsOf>
bool change_row(Connection& conn, const std::string& select_sql, const std::string& id, Decode decode,
                ParamsOf params_of, const char* update_sql, const std::function<void(T&)>& change) {
  auto record = first_row<T>(conn.exec(select_sql, {id}), decode);
  if (!record) return false;
  change(*record);
  auto params = params_of(*record);
  params[0] = id;  // the row keeps its id
  conn.exec(update_sql, params);
  return true;
}

constexpr const char* kUpdateThread =
    "UPDATE threads SET created_at = $2::text, updated_at = $3::text, metadata = $4::jsonb, status = $5::text, "
    "config = $6::jsonb, state_values = $7::jsonb, interrupts = $8::jsonb, error = $9::jsonb WHERE thread_id = $1::text";
constexpr const char* kUpdateRun =
    "UPDATE runs SET thread_id = $2::text, assistant_id = $3::text, metadata = $4::jsonb, status = $5::text, "
    "kwargs = $6::jsonb, multitask_strategy = $7::text, created_at = $8::text, updated_at = $9::text, "
    "output = $10::jsonb, error = $11::jsonb, ready_at = $12::text, cancel = $13::text WHERE run_id = $1::text";
// A thread's or a run's row, locked for a change.
const std::string kLockThread =
    std::string("SELECT ") + kThreadColumns + " FROM threads WHERE thread_id = $1::text FOR UPDATE";
const std::string kLockRun = std::string("SELECT ") + kRunColumns + " FROM runs WHERE run_id = $1::text FOR UPDATE";

// Below this many matches a filtered search sorts the matches themselves (found through the
// filter's indexes) instead of letting the planner walk the sort column's index, which can read
// most of the table when the matches are few or old and the planner overestimates them.
constexpr size_t kSortMatchesBelow = 5000;

}  // namespace

// ---------------------------------------------------------------------------------------------

struct PostgresStorage::Impl {
  explicit Impl(const std::string& conninfo) : pool(conninfo) {}

  Pool pool;

  enum class Retry { always, unless_committed };

  // What callers are told when no connection can be had, or one broke.
  StorageUnavailable unavailable(const ConnectFailed& e) const {
    return StorageUnavailable("the database is unavailable (" + pool.target().description + "): " + e.what());
  }
  static StorageUnavailable lost(const ConnectionLost& e) {
    return StorageUnavailable(std::string("the database connection was lost: ") + e.what());
  }

  // Runs `work` on a pooled connection. When the connection turns out broken it is dropped and
  // `work` runs again, once, on a new connection — unless a COMMIT was lost on the way and the
  // call is not idempotent, since it may have been applied.
  template <typename Work>
  auto with_connection(Retry retry, Work&& work) -> decltype(work(std::declval<Connection&>())) {
    for (int attempt = 0;; ++attempt) {
      std::optional<Pool::Lease> lease;
      try {
        lease.emplace(pool.acquire());
      } catch (const ConnectFailed& e) {
        throw unavailable(e);
      }
      try {
        return work(**lease);
      } catch (const ConnectionLost& lost) {
        lease->discard();
        pool.discard_idle();
        if (attempt > 0 || (lost.commit_unknown && retry == Retry::unless_committed)) throw Impl::lost(lost);
      }
    }
  }

  // Reads, and writes that may be applied twice without undoing anyone's later write (appending
  // events, renewing leases, writing a checkpoint): statements outside a transaction; retried.
  template <typename Work>
  auto autocommit(Work&& work) {
    return with_connection(Retry::always, std::forward<Work>(work));
  }

  // `work` inside BEGIN ... COMMIT, for writes that must not be applied twice. A statement that
  // fails before COMMIT leaves nothing behind, so the call is retried then; not after a lost
  // COMMIT.
  template <typename Work>
  auto transaction(Work&& work) {
    return with_connection(Retry::unless_committed, [&](Connection& conn) {
      conn.exec("BEGIN");
      using Value = decltype(work(conn));
      std::optional<Value> value;
      try {
        value.emplace(work(conn));
      } catch (const ConnectionLost&) {
        throw;
      } catch (...) {
        try {
          conn.exec("ROLLBACK");
        } catch (...) {
        }
        throw;
      }
      try {
        conn.exec("COMMIT");
      } catch (ConnectionLost& lost) {
        lost.commit_unknown = true;
        throw;
      }
      return std::move(*value);
    });
  }

  void migrate() {
    std::optional<Pool::Lease> lease;
    try {
      lease.emplace(pool.acquire());
    } catch (const ConnectFailed& e) {
      throw StartupError("cannot connect to PostgreSQL at " + pool.target().description + ": " + e.what());
    }
    Connection& conn = **lease;
    try {
      conn.exec("BEGIN");
      conn.exec("SELECT pg_advisory_xact_lock(" + std::string(kMigrationLockKey) + ")");
      conn.exec(
          "CREATE TABLE IF NOT EXISTS langgraph_schema_migrations ("
          "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      const int current = static_cast<int>(
          conn.exec("SELECT coalesce(max(version), 0) FROM langgraph_schema_migrations").integer(0, 0));
      if (current > schema_version()) {
        conn.exec("ROLLBACK");
        throw StartupError("the PostgreSQL database at " + pool.target().description + " has schema version " +
                           std::to_string(current) + ", newer than this server knows (" +
                           std::to_string(schema_version()) + "): upgrade the server");
      }
      for (const auto& migration : migrations()) {
        if (migration.version <= current) continue;
        for (const char* statement : migration.statements) conn.exec(statement);
        conn.exec("INSERT INTO langgraph_schema_migrations (version) VALUES ($1::integer)",
                  {std::to_string(migration.version)});
      }
      conn.exec("COMMIT");
    } catch (const StartupError&) {
      throw;
    } catch (const std::exception& e) {
      lease->discard();
      throw StartupError("cannot migrate the PostgreSQL database at " + pool.target().description + ": " + e.what());
    }
  }

  // One page of a search plus the number of matches, in one statement (one snapshot, one round
  // trip). The count comes first and picks how the page is read: with few matches (a selective
  // filter) they are sorted themselves, found through the filter's index (the sort expression is
  // one no index provides); with many, the planner may walk the sort column's index. Left to
  // itself the planner walks that index whenever it overestimates the matches (an owner that
  // happens to be in the column's histogram sample), which reads most of the table for an owner
  // with few or old threads. Only the branch the count chooses runs (a one-time filter).
  // Uncounted (`counted` false), the matches are counted only as far as that choice needs, the
  // total stays 0, and one row past the page is read: the caller learns whether more follow.
  template <typename T, typename Decode>
  Page<T> page(const std::string& table, const char* columns, const std::string& where, Params params,
               const std::string& sort, const std::string& tie, bool descending, int offset, int limit,
               bool selective_filter, bool counted, Decode decode) {
    const std::string direction = descending ? " DESC" : " ASC";
    const std::string ties = tie != sort ? ", " + tie + direction : "";
    const int64_t rows = std::max(limit, 0) + (counted ? int64_t{0} : int64_t{1});
    const std::string bounds = " LIMIT " + params.integer(rows) + " OFFSET " + params.integer(std::max(offset, 0));
    const std::string select = std::string("SELECT ") + columns + " FROM " + table + " WHERE " + where;
    const bool count_first = counted || selective_filter;
    std::string branches;
    if (selective_filter) {
      const std::string few = params.integer(static_cast<int64_t>(kSortMatchesBelow));
      branches = "(" + select + " AND matches.total < " + few + " ORDER BY (" + sort + " || '') COLLATE \"C\"" +
                 direction + ties + bounds + ") UNION ALL (" + select + " AND matches.total >= " + few +
                 " ORDER BY " + sort + direction + ties + bounds + ")";
    } else {
      branches = select + " ORDER BY " + sort + direction + ties + bounds;
    }
    std::string sql = branches;
    if (count_first) {
      const std::string matches =
          counted ? "SELECT count(*) AS total FROM " + table + " WHERE " + where
                  : "SELECT count(*) AS total FROM (SELECT 1 FROM " + table + " WHERE " + where + " LIMIT " +
                        params.integer(static_cast<int64_t>(kSortMatchesBelow)) + ") AS enough";
      sql = "WITH matches AS (" + matches + ") SELECT page.*, matches.total FROM matches LEFT JOIN LATERAL (" +
            branches + ") AS page ON true ORDER BY page." + sort + direction +
            (ties.empty() ? "" : ", page." + tie + direction);
    }
    return autocommit([&](Connection& conn) {
      Result result = conn.exec(sql, params.values());
      Page<T> page;
      if (result.rows() == 0) return page;
      if (counted) page.total = static_cast<size_t>(result.integer(0, PQnfields(result.get()) - 1));
      for (int row = 0; row < result.rows(); ++row)
        if (!result.is_null(row, 0)) page.items.push_back(decode(result, row));
      return page;
    });
  }

  // SQL testing a namespace prefix. The range lets the primary key's index find the items (text
  // arrays compare element by element, bytewise in the "C" collation, so the items under
  // [a, b] sort from [a, b] up to [a, b || U+0001]); the slice makes the test exact.
  static std::string prefix_sql(const std::vector<std::string>& prefix, Params& params) {
    if (prefix.empty()) return "TRUE";
    std::vector<std::string> bound = prefix;
    bound.back() += '\x01';
    const std::string value = params.text_array(prefix);
    return "(namespace >= " + value + " AND namespace < " + params.text_array(bound) +
           " AND namespace[1:cardinality(" + value + ")] = " + value + ")";
  }
};

int PostgresStorage::schema_version() { return migrations().back().version; }

PostgresStorage::PostgresStorage(const std::string& conninfo) : impl_(std::make_unique<Impl>(conninfo)) {
  impl_->migrate();
}

PostgresStorage::~PostgresStorage() = default;

// ---------------------------------------------------------------------------------------------
// Assistants

void PostgresStorage::put_assistant(const Assistant& assistant) {
  const std::string values = "($1::text, $2::text, $3::jsonb, $4::jsonb, $5::jsonb, $6::integer, $7::text, $8::jsonb, $9::text, $10::text)";
  const std::string update =
      "graph_id = EXCLUDED.graph_id, config = EXCLUDED.config, context = EXCLUDED.context, metadata = EXCLUDED.metadata, "
      "version = EXCLUDED.version, name = EXCLUDED.name, description = EXCLUDED.description, "
      "created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at";
  const std::string sql = std::string("WITH current AS (INSERT INTO assistants (") + kAssistantColumns + ") VALUES " +
                          values + " ON CONFLICT (assistant_id) DO UPDATE SET " + update +
                          ") INSERT INTO assistant_versions (" + kAssistantColumns + ") VALUES " + values +
                          " ON CONFLICT (assistant_id, version) DO UPDATE SET " + update;
  impl_->transaction([&](Connection& conn) { return conn.exec(sql, assistant_params(assistant)).affected(); });
}

void PostgresStorage::check() {
  impl_->autocommit([](Connection& conn) { conn.exec("SELECT 1", {}); });
}

std::optional<Assistant> PostgresStorage::get_assistant(const std::string& assistant_id) {
  return impl_->autocommit([&](Connection& conn) {
    return first_row<Assistant>(
        conn.exec(std::string("SELECT ") + kAssistantColumns + " FROM assistants WHERE assistant_id = $1::text",
                  {assistant_id}),
        assistant_at);
  });
}

std::vector<Assistant> PostgresStorage::assistant_versions(const std::string& assistant_id) {
  return impl_->autocommit([&](Connection& conn) {
    return all_rows<Assistant>(conn.exec(std::string("SELECT ") + kAssistantColumns +
                                             " FROM assistant_versions WHERE assistant_id = $1::text ORDER BY version DESC",
                                         {assistant_id}),
                               assistant_at);
  });
}

bool PostgresStorage::delete_assistant(const std::string& assistant_id) {
  return impl_->transaction([&](Connection& conn) {
    conn.exec("DELETE FROM assistant_versions WHERE assistant_id = $1::text", {assistant_id});
    conn.exec("DELETE FROM crons WHERE assistant_id = $1::text", {assistant_id});
    return conn.exec("DELETE FROM assistants WHERE assistant_id = $1::text", {assistant_id}).affected() > 0;
  });
}

Page<Assistant> PostgresStorage::search_assistants(const AssistantQuery& q) {
  Params params;
  std::vector<std::string> where;
  if (q.graph_id) where.push_back("graph_id = " + params.text(*q.graph_id));
  if (q.name) where.push_back("strpos(name, " + params.text(*q.name) + ") > 0");
  if (q.metadata != json::object()) where.push_back(contains_sql("metadata", q.metadata, params));
  if (!q.auth_filter.empty()) where.push_back(filter_sql(q.auth_filter, {"metadata"}, params));
  std::string sort = "created_at";
  if (q.sort_by == "assistant_id" || q.sort_by == "graph_id" || q.sort_by == "name" || q.sort_by == "updated_at")
    sort = q.sort_by;
  return impl_->page<Assistant>("assistants", kAssistantColumns, where.empty() ? "TRUE" : join(where, " AND "), params,
                                sort, "assistant_id", q.descending, q.offset, q.limit, !where.empty(), /*counted=*/true,
                                assistant_at);
}

// ---------------------------------------------------------------------------------------------
// Threads

bool PostgresStorage::create_thread(const Thread& thread, WriteWait) {
  return impl_->transaction([&](Connection& conn) {
    return conn
               .exec(std::string("INSERT INTO threads (") + kThreadColumns +
                         ") VALUES ($1::text, $2::text, $3::text, $4::jsonb, $5::text, $6::jsonb, $7::jsonb, $8::jsonb, "
                         "$9::jsonb) ON CONFLICT (thread_id) DO NOTHING",
                     thread_params(thread))
               .affected() == 1;
  });
}

std::optional<Thread> PostgresStorage::get_thread(const std::string& thread_id) {
  return impl_->autocommit([&](Connection& conn) {
    return first_row<Thread>(
        conn.exec(std::string("SELECT ") + kThreadColumns + " FROM threads WHERE thread_id = $1::text", {thread_id}),
        thread_at);
  });
}

bool PostgresStorage::update_thread(const std::string& thread_id, const std::function<void(Thread&)>& change,
                                    WriteWait) {
  return impl_->transaction([&](Connection& conn) {
    return change_row(conn, kLockThread, thread_id, thread_at, thread_params, kUpdateThread, change);
  });
}

bool PostgresStorage::delete_thread(const std::string& thread_id, WriteWait) {
  return impl_->transaction([&](Connection& conn) {
    if (conn.exec("DELETE FROM threads WHERE thread_id = $1::text", {thread_id}).affected() == 0) return false;
    conn.exec("DELETE FROM checkpoints WHERE thread_id = $1::text", {thread_id});
    conn.exec("DELETE FROM runs WHERE thread_id = $1::text", {thread_id});
    conn.exec("DELETE FROM crons WHERE thread_id = $1::text", {thread_id});
    return true;
  });
}

namespace {
// The WHERE of a thread search, with its parameters.
std::string thread_conditions(const ThreadQuery& q, Params& params) {
  std::vector<std::string> where;
  if (!q.ids.empty()) where.push_back("thread_id = ANY(" + params.text_array(q.ids) + ")");
  if (q.status) where.push_back("status = " + params.text(*q.status));
  if (q.metadata != json::object()) where.push_back(contains_sql("metadata", q.metadata, params));
  if (!q.auth_filter.empty()) where.push_back(filter_sql(q.auth_filter, {"metadata"}, params));
  if (!q.values.empty()) where.push_back(contains_sql("state_values", q.values, params));
  return where.empty() ? "" : join(where, " AND ");
}
}  // namespace

ThreadPage PostgresStorage::search_threads(const ThreadQuery& q) {
  ThreadPage out;
  Params params;
  const std::string where = thread_conditions(q, params);
  std::string sort = "created_at";
  if (q.sort_by == "thread_id" || q.sort_by == "status" || q.sort_by == "updated_at") sort = q.sort_by;
  auto page = impl_->page<Thread>("threads", kThreadColumns, where.empty() ? "TRUE" : where, params, sort, "thread_id",
                                  q.descending, q.offset, q.limit, !where.empty(), /*counted=*/false, thread_at);
  out.more = page.items.size() > static_cast<size_t>(std::max(q.limit, 0));
  if (out.more) page.items.pop_back();
  out.items = std::move(page.items);
  return out;
}

size_t PostgresStorage::count_threads(const ThreadQuery& q) {
  Params params;
  const std::string where = thread_conditions(q, params);
  return impl_->autocommit([&](Connection& conn) {
    return static_cast<size_t>(
        conn.exec("SELECT count(*) FROM threads" + (where.empty() ? "" : " WHERE " + where), params.values()).integer(0, 0));
  });
}

// ---------------------------------------------------------------------------------------------
// Runs

void PostgresStorage::put_run(const Run& run) {
  // Replaces the run; its lease (the run queue's) stays. Not repeated after a lost COMMIT: the
  // run may have been claimed since, and putting it again would make it pending twice.
  impl_->transaction([&](Connection& conn) {
    return conn
        .exec(std::string("INSERT INTO runs (") + kRunColumns +
                  ") VALUES ($1::text, $2::text, $3::text, $4::jsonb, $5::text, $6::jsonb, $7::text, $8::text, "
                  "$9::text, $10::jsonb, $11::jsonb, $12::text, $13::text) ON CONFLICT (run_id) DO UPDATE SET "
                  "thread_id = EXCLUDED.thread_id, assistant_id = EXCLUDED.assistant_id, metadata = EXCLUDED.metadata, "
                  "status = EXCLUDED.status, kwargs = EXCLUDED.kwargs, multitask_strategy = EXCLUDED.multitask_strategy, "
                  "created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, output = EXCLUDED.output, "
                  "error = EXCLUDED.error, ready_at = EXCLUDED.ready_at, cancel = EXCLUDED.cancel",
              run_params(run))
        .affected();
  });
}

std::optional<Run> PostgresStorage::get_run(const std::string& run_id) {
  return impl_->autocommit([&](Connection& conn) {
    return first_row<Run>(
        conn.exec(std::string("SELECT ") + kRunColumns + " FROM runs WHERE run_id = $1::text", {run_id}), run_at);
  });
}

bool PostgresStorage::update_run(const std::string& run_id, const std::function<void(Run&)>& change) {
  return impl_->transaction([&](Connection& conn) {
    return change_row(conn, kLockRun, run_id, run_at, run_params, kUpdateRun, change);
  });
}

bool PostgresStorage::end_run(const std::string& thread_id, const std::string& run_id,
                              const std::function<bool(Run&)>& change_run,
                              const std::function<void(Thread&)>& change_thread) {
  return impl_->transaction([&](Connection& conn) {
    // The thread's row first: deleting a thread locks it before its runs.
    auto thread = first_row<Thread>(conn.exec(kLockThread, {thread_id}), thread_at);
    auto run = first_row<Run>(conn.exec(kLockRun, {run_id}), run_at);
    if (!run || !change_run(*run)) return false;
    auto params = run_params(*run);
    params[0] = run_id;
    conn.exec(kUpdateRun, params);
    if (thread) {
      change_thread(*thread);
      auto thread_fields = thread_params(*thread);
      thread_fields[0] = thread_id;
      conn.exec(kUpdateThread, thread_fields);
    }
    return true;
  });
}

Page<Run> PostgresStorage::list_runs(const RunQuery& q) {
  Params params;
  std::string where = "thread_id = " + params.text(q.thread_id);
  if (q.status) where += " AND status = " + params.text(*q.status);
  // runs_thread_idx (thread_id, created_at) gives the order directly.
  return impl_->page<Run>("runs", kRunColumns, where, params, "created_at", "run_id", /*descending=*/true, q.offset,
                          q.limit, /*selective_filter=*/false, /*counted=*/true, run_at);
}

bool PostgresStorage::delete_run(const std::string& run_id) {
  return impl_->transaction(
      [&](Connection& conn) { return conn.exec("DELETE FROM runs WHERE run_id = $1::text", {run_id}).affected() > 0; });
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

void PostgresStorage::put_checkpoint(const Checkpoint& c, WriteWait) {
  impl_->autocommit([&](Connection& conn) {
    return conn
        .exec(std::string("INSERT INTO checkpoints (") + kCheckpointColumns +
                  ") VALUES ($1::text, $2::text, $3::text, $4::jsonb, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, "
                  "$9::jsonb, $10::text) ON CONFLICT (thread_id, checkpoint_id) DO UPDATE SET "
                  "parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, state_values = EXCLUDED.state_values, "
                  "next = EXCLUDED.next, tasks = EXCLUDED.tasks, metadata = EXCLUDED.metadata, "
                  "pending_writes = EXCLUDED.pending_writes, resumes = EXCLUDED.resumes, created_at = EXCLUDED.created_at",
              {c.thread_id, c.checkpoint_id, c.parent_checkpoint_id, to_text(c.values), to_text(json(c.next)),
               to_text(c.tasks), to_text(c.metadata), to_text(c.pending_writes), to_text(c.resumes), c.created_at})
        .affected();
  });
}

std::optional<Checkpoint> PostgresStorage::latest_checkpoint(const std::string& thread_id) {
  return impl_->autocommit([&](Connection& conn) {
    return first_row<Checkpoint>(conn.exec(std::string("SELECT ") + kCheckpointColumns +
                                               " FROM checkpoints WHERE thread_id = $1::text "
                                               "ORDER BY checkpoint_id DESC LIMIT 1",
                                           {thread_id}),
                                 checkpoint_at);
  });
}

std::optional<Checkpoint> PostgresStorage::get_checkpoint(const std::string& thread_id, const std::string& checkpoint_id) {
  return impl_->autocommit([&](Connection& conn) {
    return first_row<Checkpoint>(
        conn.exec(std::string("SELECT ") + kCheckpointColumns +
                      " FROM checkpoints WHERE thread_id = $1::text AND checkpoint_id = $2::text",
                  {thread_id, checkpoint_id}),
        checkpoint_at);
  });
}

std::vector<Checkpoint> PostgresStorage::list_checkpoints(const std::string& thread_id, int limit,
                                                          const std::string& before, const json& metadata) {
  if (limit <= 0) return {};
  Params params;
  std::string sql = std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints WHERE thread_id = " +
                    params.text(thread_id);
  if (!before.empty()) sql += " AND checkpoint_id < " + params.text(before);
  sql += " AND " + contains_sql("metadata", metadata, params);
  sql += " ORDER BY checkpoint_id DESC LIMIT " + params.integer(limit);
  return impl_->autocommit([&](Connection& conn) { return all_rows<Checkpoint>(conn.exec(sql, params.values()), checkpoint_at); });
}

void PostgresStorage::delete_checkpoints_of_run(const std::string& thread_id, const std::string& run_id) {
  // A checkpoint without metadata.run_id counts as run "".
  impl_->autocommit([&](Connection& conn) {
    return conn
        .exec("DELETE FROM checkpoints WHERE thread_id = $1::text "
              "AND coalesce(metadata -> 'run_id', '\"\"'::jsonb) = to_jsonb($2::text)",
              {thread_id, run_id})
        .affected();
  });
}

// ---------------------------------------------------------------------------------------------
// Store

void PostgresStorage::put_item(const Item& item) {
  // Not repeated after a lost COMMIT: it could undo a later write of the same item.
  impl_->transaction([&](Connection& conn) {
    return conn
        .exec(std::string("INSERT INTO store_items (namespace, key, value, created_at, updated_at) "
                          "VALUES ($1::text[], $2::text, $3::jsonb, $4::text, $5::text) "
                          "ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, "
                          "updated_at = EXCLUDED.updated_at"),
              {array_literal(item.namespace_path), item.key, to_text(item.value), item.created_at, item.updated_at})
        .affected();
  });
}

std::optional<Item> PostgresStorage::get_item(const std::vector<std::string>& namespace_path, const std::string& key) {
  return impl_->autocommit([&](Connection& conn) {
    return first_row<Item>(conn.exec(std::string("SELECT ") + kItemColumns +
                                         " FROM store_items WHERE namespace = $1::text[] AND key = $2::text",
                                     {array_literal(namespace_path), key}),
                           item_at);
  });
}

bool PostgresStorage::delete_item(const std::vector<std::string>& namespace_path, const std::string& key) {
  return impl_->transaction([&](Connection& conn) {
    return conn
               .exec("DELETE FROM store_items WHERE namespace = $1::text[] AND key = $2::text",
                     {array_literal(namespace_path), key})
               .affected() > 0;
  });
}

std::vector<Item> PostgresStorage::search_items(const ItemQuery& q) {
  if (q.limit <= 0) return {};
  Params params;
  std::vector<std::string> where = {Impl::prefix_sql(q.namespace_prefix, params),
                                    contains_sql("value", q.value_filter, params)};
  if (!q.auth_filter.empty()) where.push_back(filter_sql(q.auth_filter, {"value", true}, params));
  const std::string sql = std::string("SELECT ") + kItemColumns + " FROM store_items WHERE " + join(where, " AND ") +
                          " ORDER BY updated_at DESC, namespace, key LIMIT " + params.integer(q.limit) + " OFFSET " +
                          params.integer(std::max(q.offset, 0));
  return impl_->autocommit([&](Connection& conn) { return all_rows<Item>(conn.exec(sql, params.values()), item_at); });
}

std::vector<std::vector<std::string>> PostgresStorage::list_namespaces(const NamespaceQuery& q) {
  if (q.limit <= 0) return {};
  Params params;
  std::vector<std::string> where = {Impl::prefix_sql(q.prefix, params)};
  if (!q.suffix.empty()) {
    const std::string suffix = params.text_array(q.suffix);
    where.push_back("(cardinality(namespace) >= cardinality(" + suffix + ") AND namespace[cardinality(namespace) - cardinality(" +
                    suffix + ") + 1 : cardinality(namespace)] = " + suffix + ")");
  }
  if (!q.auth_filter.empty()) where.push_back(filter_sql(q.auth_filter, {"value", true}, params));
  // A negative depth truncates nothing, as in MemoryStorage.
  const std::string path = q.max_depth && *q.max_depth >= 0
                               ? "namespace[1:" + params.add(std::to_string(*q.max_depth), "integer") + "]"
                               : std::string("namespace");
  const std::string sql = "SELECT to_jsonb(path) FROM (SELECT DISTINCT " + path + " AS path FROM store_items WHERE " +
                          join(where, " AND ") + ") AS found ORDER BY path LIMIT " + params.integer(q.limit) +
                          " OFFSET " + params.integer(std::max(q.offset, 0));
  return impl_->autocommit([&](Connection& conn) {
    Result result = conn.exec(sql, params.values());
    std::vector<std::vector<std::string>> out;
    for (int row = 0; row < result.rows(); ++row) out.push_back(string_list(result.jsonb(row, 0)));
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// The run queue

std::optional<Run> PostgresStorage::claim_run(const std::string& worker, const std::string& now,
                                              const std::string& lease_until) {
  return impl_->transaction([&](Connection& conn) -> std::optional<Run> {
    std::vector<std::string> skipped;  // threads another server is claiming for, or now running
    // A thread given up is rolled back to the attempt's savepoint, which releases the row lock
    // taken on its candidate run: the claim that holds the thread's lock may be waiting for it.
    const auto give_up = [&](const std::string& thread_id) {
      conn.exec("ROLLBACK TO SAVEPOINT attempt");
      skipped.push_back(thread_id);
    };
    for (int attempt = 0; attempt < 64; ++attempt) {
      conn.exec("SAVEPOINT attempt");
      // The earliest ready run of a thread that runs nothing; rows other claims hold are skipped.
      Result candidate = conn.exec(
          "SELECT run_id, thread_id FROM runs AS r WHERE status = 'pending' AND ready_at <= $1::text "
          "AND thread_id <> ALL($2::text[]) "
          "AND NOT EXISTS (SELECT 1 FROM runs AS b WHERE b.thread_id = r.thread_id AND b.status = 'running') "
          "ORDER BY ready_at, created_at, run_id LIMIT 1 FOR UPDATE SKIP LOCKED",
          {now, array_literal(skipped)});
      if (candidate.rows() == 0) return std::nullopt;
      std::string run_id = candidate.text(0, 0);
      const std::string thread_id = candidate.text(0, 1);
      // One claim per thread at a time across every server: the lock is held until COMMIT, which
      // makes the run visible as running before another claim of this thread can take it.
      const bool locked = conn.exec(std::string("SELECT pg_try_advisory_xact_lock(") + kThreadLockClass +
                                        ", hashtext($1::text))",
                                    {thread_id})
                              .boolean(0, 0);
      // Checked again under the lock, in a new snapshot: a claim that committed meanwhile shows.
      if (!locked || conn.exec("SELECT EXISTS (SELECT 1 FROM runs WHERE thread_id = $1::text AND status = 'running')",
                               {thread_id})
                         .boolean(0, 0)) {
        give_up(thread_id);
        continue;
      }
      // SKIP LOCKED may have passed over an earlier run of the same thread that another claim
      // holds for a moment: the thread's earliest ready run goes first, or none of its runs.
      Result first = conn.exec(
          "SELECT run_id FROM runs WHERE thread_id = $1::text AND status = 'pending' AND ready_at <= $2::text "
          "ORDER BY ready_at, created_at, run_id LIMIT 1",
          {thread_id, now});
      if (first.rows() == 0) {
        give_up(thread_id);
        continue;
      }
      if (first.text(0, 0) != run_id) {
        run_id = first.text(0, 0);
        // Waited for: whoever holds it is a claim without this thread's lock, which gives the
        // thread up at once, or a change of the run (a cancel), which does not wait for claims.
        if (conn.exec("SELECT 1 FROM runs WHERE run_id = $1::text AND status = 'pending' FOR UPDATE", {run_id})
                .rows() == 0) {
          give_up(thread_id);
          continue;
        }
      }
      return first_row<Run>(conn.exec(std::string("UPDATE runs SET status = 'running', updated_at = $2::text, "
                                                  "lease_owner = $3::text, lease_until = $4::text WHERE run_id = $1::text "
                                                  "RETURNING ") +
                                          kRunColumns,
                                      {run_id, now, worker, lease_until}),
                            run_at);
    }
    return std::nullopt;
  });
}

void PostgresStorage::renew_leases(const std::string& worker, const std::string& lease_until) {
  impl_->autocommit([&](Connection& conn) {
    return conn
        .exec("UPDATE runs SET lease_until = $2::text WHERE lease_owner = $1::text AND status = 'running'",
              {worker, lease_until})
        .affected();
  });
}

// A session advisory lock on a connection of its own, held while the guard lives. The server's
// own lock comes first, so that waiting for another server takes one connection, not the pool.
Storage::Guard PostgresStorage::lock_thread(const std::string& thread_id) {
  Guard local = Storage::lock_thread(thread_id);
  std::shared_ptr<Pool::Lease> lease;
  try {
    lease = std::make_shared<Pool::Lease>(impl_->pool.acquire());
    (**lease).exec(std::string("SELECT pg_advisory_lock(") + kThreadWriteLockClass + ", hashtext($1::text))", {thread_id});
  } catch (const ConnectFailed& e) {
    throw impl_->unavailable(e);
  } catch (const ConnectionLost& lost) {
    if (lease) lease->discard();
    throw Impl::lost(lost);
  }
  return Guard(this, [local, lease, thread_id](void*) {
    try {
      (**lease).exec(std::string("SELECT pg_advisory_unlock(") + kThreadWriteLockClass + ", hashtext($1::text))",
                     {thread_id});
    } catch (const std::exception&) {
      lease->discard();  // closing the session releases its locks
    }
  });
}

std::vector<Run> PostgresStorage::expired_runs(const std::string& now) {
  return impl_->autocommit([&](Connection& conn) {
    return all_rows<Run>(conn.exec(std::string("SELECT ") + kRunColumns +
                                       " FROM runs WHERE status = 'running' "
                                       "AND (lease_until IS NULL OR lease_until < $1::text) ORDER BY run_id",
                                   {now}),
                         run_at);
  });
}

// ---------------------------------------------------------------------------------------------
// Run events

void PostgresStorage::append_events(const std::string& run_id, const std::vector<StreamEvent>& events) {
  if (events.empty()) return;
  json rows = json::array();
  for (const auto& e : events) rows.push_back({{"id", e.id}, {"mode", e.mode}, {"event", e.event}, {"data", e.data}});
  // Idempotent: an event already there (a retried append) is kept as it is.
  impl_->autocommit([&](Connection& conn) {
    return conn
        .exec("INSERT INTO run_events (run_id, id, mode, event, data) "
              "SELECT $1::text, e.id, e.mode, e.event, e.data "
              "FROM jsonb_to_recordset($2::jsonb) AS e(id bigint, mode text, event text, data text) "
              "ORDER BY e.id ON CONFLICT (run_id, id) DO NOTHING",
              {run_id, to_text(rows)})
        .affected();
  });
}

std::vector<StreamEvent> PostgresStorage::read_events(const std::string& run_id, int64_t after_id, int limit) {
  if (limit <= 0) return {};
  return impl_->autocommit([&](Connection& conn) {
    Result result = conn.exec(
        "SELECT id, mode, event, data FROM run_events WHERE run_id = $1::text AND id > $2::bigint "
        "ORDER BY id LIMIT $3::bigint",
        {run_id, std::to_string(after_id), std::to_string(limit)});
    std::vector<StreamEvent> out;
    for (int row = 0; row < result.rows(); ++row)
      out.push_back({result.integer(row, 0), result.text(row, 1), result.text(row, 2), result.text(row, 3)});
    return out;
  });
}

std::optional<StreamEvent> PostgresStorage::last_event(const std::string& run_id) {
  return impl_->autocommit([&](Connection& conn) -> std::optional<StreamEvent> {
    Result result = conn.exec(
        "SELECT id, mode, event, data FROM run_events WHERE run_id = $1::text ORDER BY id DESC LIMIT 1", {run_id});
    if (result.rows() == 0) return std::nullopt;
    return StreamEvent{result.integer(0, 0), result.text(0, 1), result.text(0, 2), result.text(0, 3)};
  });
}

void PostgresStorage::delete_events_before(const std::string& before) {
  impl_->autocommit([&](Connection& conn) {
    return conn
        .exec("DELETE FROM run_events AS e WHERE e.created_at < $1::timestamptz AND NOT EXISTS "
              "(SELECT 1 FROM run_events AS n WHERE n.run_id = e.run_id AND n.created_at >= $1::timestamptz) "
              "AND NOT EXISTS (SELECT 1 FROM runs AS r WHERE r.run_id = e.run_id AND r.status IN ('pending', 'running'))",
              {before})
        .affected();
  });
}

// ---------------------------------------------------------------------------------------------
// Crons

namespace {

const char* const kCronColumns =
    "cron_id, assistant_id, thread_id, on_run_completed, end_time, schedule, timezone, created_at, updated_at, "
    "payload, user_id, next_run_date, metadata, enabled, auth_user";

Cron cron_at(const Result& r, int row) {
  Cron c;
  c.cron_id = r.text(row, 0);
  c.assistant_id = r.text(row, 1);
  c.thread_id = r.text(row, 2);
  c.on_run_completed = r.text(row, 3);
  c.end_time = r.text(row, 4);
  c.schedule = r.text(row, 5);
  c.timezone = r.text(row, 6);
  c.created_at = r.text(row, 7);
  c.updated_at = r.text(row, 8);
  c.payload = r.jsonb(row, 9);
  c.user_id = r.text(row, 10);
  c.next_run_date = r.text(row, 11);
  c.metadata = r.jsonb(row, 12);
  c.enabled = r.boolean(row, 13);
  c.auth_user = r.jsonb(row, 14);
  return c;
}

std::vector<Param> cron_params(const Cron& c) {
  return {c.cron_id,      c.assistant_id,       c.thread_id,  c.on_run_completed,  c.end_time,
          c.schedule,     c.timezone,           c.created_at, c.updated_at,        to_text(c.payload),
          c.user_id,      c.next_run_date,      to_text(c.metadata), c.enabled ? "true" : "false",
          to_text(c.auth_user)};
}

constexpr const char* kCronValues =
    "$1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::jsonb, $11::text, "
    "$12::text, $13::jsonb, $14::boolean, $15::jsonb";

}  // namespace

bool PostgresStorage::create_cron(const Cron& cron) {
  return impl_->transaction([&](Connection& conn) {
    return conn
               .exec(std::string("INSERT INTO crons (") + kCronColumns + ") VALUES (" + kCronValues +
                         ") ON CONFLICT (cron_id) DO NOTHING",
                     cron_params(cron))
               .affected() == 1;
  });
}

std::optional<Cron> PostgresStorage::get_cron(const std::string& cron_id) {
  return impl_->autocommit([&](Connection& conn) {
    return first_row<Cron>(
        conn.exec(std::string("SELECT ") + kCronColumns + " FROM crons WHERE cron_id = $1::text", {cron_id}), cron_at);
  });
}

bool PostgresStorage::update_cron(const std::string& cron_id, const std::function<void(Cron&)>& change) {
  return impl_->transaction([&](Connection& conn) {
    return change_row(conn, std::string("SELECT ") + kCronColumns + " FROM crons WHERE cron_id = $1::text FOR UPDATE",
                      cron_id, cron_at, cron_params,
                      "UPDATE crons SET assistant_id = $2::text, thread_id = $3::text, on_run_completed = $4::text, "
                      "end_time = $5::text, schedule = $6::text, timezone = $7::text, created_at = $8::text, "
                      "updated_at = $9::text, payload = $10::jsonb, user_id = $11::text, next_run_date = $12::text, "
                      "metadata = $13::jsonb, enabled = $14::boolean, auth_user = $15::jsonb WHERE cron_id = $1::text",
                      change);
  });
}

bool PostgresStorage::delete_cron(const std::string& cron_id, const std::function<bool(const Cron&)>& allowed) {
  return impl_->transaction([&](Connection& conn) {
    if (allowed) {
      auto cron = first_row<Cron>(
          conn.exec(std::string("SELECT ") + kCronColumns + " FROM crons WHERE cron_id = $1::text FOR UPDATE", {cron_id}),
          cron_at);
      if (!cron || !allowed(*cron)) return false;
    }
    return conn.exec("DELETE FROM crons WHERE cron_id = $1::text", {cron_id}).affected() > 0;
  });
}

Page<Cron> PostgresStorage::search_crons(const CronQuery& q) {
  Params params;
  std::vector<std::string> where;
  if (q.assistant_id) where.push_back("assistant_id = " + params.text(*q.assistant_id));
  if (q.thread_id) where.push_back("thread_id = " + params.text(*q.thread_id));
  if (q.enabled) where.push_back(std::string("enabled = ") + (*q.enabled ? "TRUE" : "FALSE"));
  if (q.metadata != json::object()) where.push_back(contains_sql("metadata", q.metadata, params));
  if (!q.auth_filter.empty()) where.push_back(filter_sql(q.auth_filter, {"metadata"}, params));
  std::string sort = "created_at";
  for (const char* column : {"cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "updated_at"})
    if (q.sort_by == column) sort = column;
  return impl_->page<Cron>("crons", kCronColumns, where.empty() ? "TRUE" : join(where, " AND "), params, sort, "cron_id",
                           q.descending, q.offset, q.limit, !where.empty(), /*counted=*/true, cron_at);
}

std::vector<Cron> PostgresStorage::due_crons(const std::string& now, int limit) {
  return impl_->autocommit([&](Connection& conn) {
    return all_rows<Cron>(conn.exec(std::string("SELECT ") + kCronColumns +
                                        " FROM crons WHERE enabled AND (end_time = '' OR end_time > $1::text) "
                                        "AND next_run_date <= $1::text ORDER BY next_run_date, cron_id LIMIT $2::bigint",
                                    {now, std::to_string(std::max(limit, 0))}),
                          cron_at);
  });
}

std::optional<std::string> PostgresStorage::next_cron_due(const std::string& now) {
  return impl_->autocommit([&](Connection& conn) -> std::optional<std::string> {
    Result result = conn.exec(
        "SELECT min(next_run_date) FROM crons WHERE enabled AND (end_time = '' OR end_time > $1::text)", {now});
    if (result.rows() == 0 || result.is_null(0, 0)) return std::nullopt;
    return result.text(0, 0);
  });
}

std::optional<Cron> PostgresStorage::advance_cron(const std::string& cron_id, const std::string& from,
                                                  const std::string& to, const std::string& now) {
  // One UPDATE with the old date and the cron's state as its condition: of concurrent claims, the
  // row lock lets one through and the others find the date changed; a cron disabled or ended
  // meanwhile is not claimed. RETURNING gives the row the claim saw.
  return impl_->transaction([&](Connection& conn) {
    return first_row<Cron>(
        conn.exec(std::string("UPDATE crons SET next_run_date = $3::text WHERE cron_id = $1::text AND "
                              "next_run_date = $2::text AND enabled AND (end_time = '' OR end_time > $4::text) "
                              "RETURNING ") +
                      kCronColumns,
                  {cron_id, from, to, now}),
        cron_at);
  });
}

}  // namespace lgs
