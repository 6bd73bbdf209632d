// Storage in a PostgreSQL database, shared by every server replica that opens it.
//
// Documents are JSONB (GIN indexes on thread, assistant and store metadata/values); timestamps are
// kept as the ISO 8601 text the records carry, in the "C" collation, so they sort and compare
// exactly as MemoryStorage compares them. The schema is migrated at start under an advisory lock.
// Calls take a connection from a small pool; a connection the database dropped (restart, network)
// is replaced and the call retried once when that cannot apply a write twice, else the call
// throws StorageUnavailable.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.hpp"

namespace lgs {

class PostgresStorage final : public Storage {
 public:
  // `conninfo`: a postgres:// or postgresql:// URI, or a libpq keyword=value string. Connects and
  // migrates the schema; throws StartupError when either fails or the schema is newer than this
  // server knows.
  explicit PostgresStorage(const std::string& conninfo);
  ~PostgresStorage() override;
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  void put_assistant(const Assistant& assistant) override;
  std::optional<Assistant> get_assistant(const std::string& assistant_id) override;
  std::vector<Assistant> assistant_versions(const std::string& assistant_id) override;
  bool delete_assistant(const std::string& assistant_id) override;
  Page<Assistant> search_assistants(const AssistantQuery& query) override;

  bool create_thread(const Thread& thread, WriteWait wait = WriteWait::synced) override;
  std::optional<Thread> get_thread(const std::string& thread_id) override;
  bool update_thread(const std::string& thread_id, const std::function<void(Thread&)>& change,
                     WriteWait wait = WriteWait::synced) override;
  bool delete_thread(const std::string& thread_id, WriteWait wait = WriteWait::synced) override;
  ThreadPage search_threads(const ThreadQuery& query) override;
  size_t count_threads(const ThreadQuery& query) override;

  void put_run(const Run& run) override;
  std::optional<Run> get_run(const std::string& run_id) override;
  bool update_run(const std::string& run_id, const std::function<void(Run&)>& change) override;
  bool end_run(const std::string& thread_id, const std::string& run_id, const std::function<bool(Run&)>& change_run,
               const std::function<void(Thread&)>& change_thread) override;
  Page<Run> list_runs(const RunQuery& query) override;

  bool create_cron(const Cron& cron) override;
  std::optional<Cron> get_cron(const std::string& cron_id) override;
  bool update_cron(const std::string& cron_id, const std::function<void(Cron&)>& change) override;
  bool delete_cron(const std::string& cron_id, const std::function<bool(const Cron&)>& allowed = {}) override;
  Page<Cron> search_crons(const CronQuery& query) override;
  std::vector<Cron> due_crons(const std::string& now, int limit) override;
  std::optional<std::string> next_cron_due(const std::string& now) override;
  std::optional<Cron> advance_cron(const std::string& cron_id, const std::string& from, const std::string& to,
                                   const std::string& now) override;

  void put_checkpoint(const Checkpoint& checkpoint, WriteWait wait = WriteWait::synced) override;
  std::optional<Checkpoint> latest_checkpoint(const std::string& thread_id) override;
  std::optional<Checkpoint> get_checkpoint(const std::string& thread_id, const std::string& checkpoint_id) override;
  std::vector<Checkpoint> list_checkpoints(const std::string& thread_id, int limit, const std::string& before,
                                           const json& metadata) override;
  void delete_checkpoints_of_run(const std::string& thread_id, const std::string& run_id) override;
  bool delete_run(const std::string& run_id) override;

  void put_item(const Item& item) override;
  std::optional<Item> get_item(const std::vector<std::string>& namespace_path, const std::string& key) override;
  bool delete_item(const std::vector<std::string>& namespace_path, const std::string& key) override;
  std::vector<Item> search_items(const ItemQuery& query) override;
  std::vector<std::vector<std::string>> list_namespaces(const NamespaceQuery& query) override;

  std::optional<Run> claim_run(const std::string& worker, const std::string& now, const std::string& lease_until) override;
  void renew_leases(const std::string& worker, const std::string& lease_until) override;
  std::vector<Run> expired_runs(const std::string& now) override;

  bool shared() const override { return true; }
  void check() override;
  Guard lock_thread(const std::string& thread_id) override;
  void append_events(const std::string& run_id, const std::vector<StreamEvent>& events) override;
  std::vector<StreamEvent> read_events(const std::string& run_id, int64_t after_id, int limit) override;
  std::optional<StreamEvent> last_event(const std::string& run_id) override;
  void delete_events_before(const std::string& before) override;

  // The schema version this server creates and understands.
  static int schema_version();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lgs
