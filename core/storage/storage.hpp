// The one storage interface the API and the runtime use, with three implementations: SQLite (the
// embedded default), PostgreSQL (several server replicas on one database) and memory (tests).
// Every call is atomic and durable when it returns: a write acknowledged to a client survives a
// crash of the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"

namespace lgs {

// The database cannot be reached (PostgreSQL restarting, network gone). Requests get 503; the
// storage reconnects on a later call.
struct StorageUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ThreadQuery {
  json auth_filter = json::object();  // an authorization filter on metadata (authz/filter.hpp)
  json metadata = json::object();  // every key must equal (JSON containment for objects/lists)
  json values = json::object();
  std::optional<std::string> status;
  std::vector<std::string> ids;
  int limit = 10;
  int offset = 0;
  std::string sort_by = "created_at";  // thread_id | status | created_at | updated_at
  bool descending = true;
};

struct AssistantQuery {
  json auth_filter = json::object();
  json metadata = json::object();
  std::optional<std::string> graph_id;
  std::optional<std::string> name;
  int limit = 10;
  int offset = 0;
  std::string sort_by = "created_at";  // assistant_id | graph_id | name | created_at | updated_at
  bool descending = true;
};

struct RunQuery {
  std::string thread_id;
  std::optional<std::string> status;
  int limit = 10;
  int offset = 0;
};

struct CronQuery {
  json auth_filter = json::object();  // an authorization filter on metadata
  json metadata = json::object();     // every key must equal (JSON containment)
  std::optional<std::string> assistant_id;
  std::optional<std::string> thread_id;
  std::optional<bool> enabled;
  int limit = 10;
  int offset = 0;
  // cron_id | assistant_id | thread_id | next_run_date | end_time | created_at | updated_at
  std::string sort_by = "created_at";
  bool descending = true;
};

struct ItemQuery {
  std::vector<std::string> namespace_prefix;
  json value_filter = json::object();  // the request's filter: equality on value fields
  json auth_filter = json::object();   // on Item::filter_view()
  int limit = 10;
  int offset = 0;
};

struct NamespaceQuery {
  std::vector<std::string> prefix;
  std::vector<std::string> suffix;
  std::optional<int> max_depth;
  json auth_filter = json::object();  // only namespaces holding an item that passes
  int limit = 100;
  int offset = 0;
};

template <typename T>
struct Page {
  std::vector<T> items;
  size_t total = 0;  // matches before limit/offset
};

// One page of a thread search, not counted (as LangGraph's server does not count them: a count
// reads every match, and a user may have millions). `more` says whether a match follows it.
struct ThreadPage {
  std::vector<Thread> items;
  bool more = false;
};

// When a write returns. `synced` (every write but where asked otherwise): once it is on disk, so
// that it survives a crash. `committed`: once it is committed, visible to every reader, and on its
// way to disk: a later synced write brings it along (the log keeps writes in order), and it is
// synced within kCommittedSyncDelay anyway. A crash before then loses it with what came after it,
// never a write that returned as synced. PostgreSQL and the in-memory store treat both alike.
enum class WriteWait { synced, committed };
inline constexpr std::chrono::milliseconds kCommittedSyncDelay{20};

class Storage {
 public:
  virtual ~Storage() = default;

  // Assistants. put stores the assistant as its current version and keeps every version.
  virtual void put_assistant(const Assistant& assistant) = 0;
  virtual std::optional<Assistant> get_assistant(const std::string& assistant_id) = 0;
  virtual std::vector<Assistant> assistant_versions(const std::string& assistant_id) = 0;  // newest first
  virtual bool delete_assistant(const std::string& assistant_id) = 0;
  virtual Page<Assistant> search_assistants(const AssistantQuery& query) = 0;

  // Threads. create returns false when the id is taken.
  virtual bool create_thread(const Thread& thread, WriteWait wait = WriteWait::synced) = 0;
  virtual std::optional<Thread> get_thread(const std::string& thread_id) = 0;
  // Applies `change` to the stored thread atomically; false when it does not exist.
  virtual bool update_thread(const std::string& thread_id, const std::function<void(Thread&)>& change,
                             WriteWait wait = WriteWait::synced) = 0;
  // Deletes the thread with its runs, checkpoints and crons; false when it does not exist.
  virtual bool delete_thread(const std::string& thread_id, WriteWait wait = WriteWait::synced) = 0;
  virtual ThreadPage search_threads(const ThreadQuery& query) = 0;
  virtual size_t count_threads(const ThreadQuery& query) = 0;  // every match: limit and offset ignored

  // Runs
  virtual void put_run(const Run& run) = 0;
  virtual std::optional<Run> get_run(const std::string& run_id) = 0;
  virtual bool update_run(const std::string& run_id, const std::function<void(Run&)>& change) = 0;
  // Records a run's end on the run and on its thread in one transaction, so that no crash leaves
  // one changed without the other (a thread "busy" for good after its run ended): `change_run`
  // edits the run, or returns false before changing it to leave both as they are; `change_thread`
  // then edits the thread, if it is still there. False when the run is gone or was left as it is.
  virtual bool end_run(const std::string& thread_id, const std::string& run_id,
                       const std::function<bool(Run&)>& change_run, const std::function<void(Thread&)>& change_thread) = 0;
  virtual Page<Run> list_runs(const RunQuery& query) = 0;

  // Crons. The crons of a thread or an assistant are deleted with it. create returns false
  // when the id is taken.
  virtual bool create_cron(const Cron& cron) = 0;
  virtual std::optional<Cron> get_cron(const std::string& cron_id) = 0;
  // Applies `change` to the stored cron atomically; false when it does not exist.
  virtual bool update_cron(const std::string& cron_id, const std::function<void(Cron&)>& change) = 0;
  // Deletes the cron if `allowed` (when given) accepts it as stored, checked atomically with the
  // delete; false when it does not exist or is not allowed.
  virtual bool delete_cron(const std::string& cron_id, const std::function<bool(const Cron&)>& allowed = {}) = 0;
  virtual Page<Cron> search_crons(const CronQuery& query) = 0;
  // Enabled crons whose next_run_date is not after `now` and whose end_time (if any) is after
  // it, earliest next_run_date first, at most `limit`.
  virtual std::vector<Cron> due_crons(const std::string& now, int limit) = 0;
  // The earliest next_run_date of an enabled cron whose end_time (if any) is after `now`.
  virtual std::optional<std::string> next_cron_due(const std::string& now) = 0;
  // Sets next_run_date to `to` if it still is `from` and the cron is still live at `now`
  // (enabled, not past its end_time), and returns the cron as it then is; nullopt when it did not
  // (moved on, disabled, ended, deleted). Of every server on the database advancing the same cron
  // from the same date, at most one succeeds. The scheduler claims a tick this way and fires the
  // cron returned: what it is at the claim, not what it was when it was found due.
  virtual std::optional<Cron> advance_cron(const std::string& cron_id, const std::string& from, const std::string& to,
                                           const std::string& now) = 0;

  // Checkpoints of a thread, kept until the thread is deleted. put_checkpoint replaces one with
  // the same id; see WriteWait for `wait`.
  virtual void put_checkpoint(const Checkpoint& checkpoint, WriteWait wait = WriteWait::synced) = 0;
  virtual std::optional<Checkpoint> latest_checkpoint(const std::string& thread_id) = 0;
  virtual std::optional<Checkpoint> get_checkpoint(const std::string& thread_id, const std::string& checkpoint_id) = 0;
  // Newest first; only those older than `before` (a checkpoint id) when given, whose metadata
  // contains `metadata`.
  virtual std::vector<Checkpoint> list_checkpoints(const std::string& thread_id, int limit,
                                                   const std::string& before = {}, const json& metadata = json::object()) = 0;
  // Removes the checkpoints a run wrote (metadata.run_id), for a rollback.
  virtual void delete_checkpoints_of_run(const std::string& thread_id, const std::string& run_id) = 0;
  virtual bool delete_run(const std::string& run_id) = 0;

  // Store items
  virtual void put_item(const Item& item) = 0;  // keeps created_at of an existing item
  virtual std::optional<Item> get_item(const std::vector<std::string>& namespace_path, const std::string& key) = 0;
  virtual bool delete_item(const std::vector<std::string>& namespace_path, const std::string& key) = 0;
  virtual std::vector<Item> search_items(const ItemQuery& query) = 0;
  virtual std::vector<std::vector<std::string>> list_namespaces(const NamespaceQuery& query) = 0;

  // The run queue. Pending runs wait in storage, so that every server on one database shares
  // them and none is lost when a server stops.
  //
  // Claims the pending run with the earliest ready_at that is not after `now` and whose thread
  // has no running run, and marks it running, leased to `worker` until `lease_until`; nullopt
  // when none is ready. Atomic across every server on the database: a run is claimed once.
  virtual std::optional<Run> claim_run(const std::string& worker, const std::string& now,
                                       const std::string& lease_until) = 0;
  // Extends the lease of every run `worker` is running.
  virtual void renew_leases(const std::string& worker, const std::string& lease_until) = 0;
  // Running runs whose lease ended before `now`: their server stopped without finishing them.
  virtual std::vector<Run> expired_runs(const std::string& now) = 0;

  // True when several server processes may use this database at once (PostgreSQL). A database
  // that is not shared is locked to one server, which may then treat every running run it
  // finds at start as orphaned, and keeps live run streams in its own memory.
  virtual bool shared() const { return false; }

  // Throws StorageUnavailable when the database cannot serve reads and writes now
  // (GET /ok?check_db=1).
  virtual void check() {}

  // Holds off anyone else locking the same thread, on every server of the database, until the
  // returned guard goes: for a check and a write that must not interleave with another's (a run
  // refused while another is in flight on its thread). Locks are taken one at a time per server.
  using Guard = std::shared_ptr<void>;
  virtual Guard lock_thread(const std::string& thread_id);

  // Live run events, kept only by shared databases so that any server can stream any run.
  // Appends in id order; reads the events with id > after_id, oldest first, at most `limit`.
  virtual void append_events(const std::string& run_id, const std::vector<StreamEvent>& events);
  virtual std::vector<StreamEvent> read_events(const std::string& run_id, int64_t after_id, int limit);
  // The run's last event, if it has any.
  virtual std::optional<StreamEvent> last_event(const std::string& run_id);
  // Forgets the events of runs that were last appended to before `before`, unless the run is
  // still pending or running (a quiet step keeps what it streamed before).
  virtual void delete_events_before(const std::string& before);

 private:
  std::mutex thread_lock_;
};

// Opens the storage a database URI names:
//   ""                       SQLite in `data_dir`/langgraph.sqlite (created with the folder)
//   "sqlite:PATH"            SQLite in PATH ("sqlite:///abs/path" also accepted)
//   "postgres://..."         PostgreSQL ("postgresql://" too, or any libpq keyword=value string)
//   ":memory:"               in memory, gone when the server stops (tests)
// Throws StartupError when the database cannot be opened or migrated.
std::unique_ptr<Storage> open_storage(const std::string& uri, const std::string& data_dir);
// What open_storage opens, for people to read: "SQLite /path/langgraph.sqlite", "PostgreSQL
// postgres://app:***@db/app" (never a password), "memory".
std::string describe_database(const std::string& uri, const std::string& data_dir);

// True when `document` contains `pattern`: equal scalars, every key of an object pattern
// contained in the object, every element of a list pattern found in the list (PostgreSQL @>).
bool json_contains(const json& document, const json& pattern);

// A JSON column's stored text, parsed; throws when it is not JSON. The texts most columns hold
// (an empty object, null, an empty list) are read without a parser's set-up.
json parse_stored_json(std::string_view text);

}  // namespace lgs
