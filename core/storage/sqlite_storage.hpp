// Storage in one SQLite file: the embedded default. One server process owns the file (a lock
// file next to it says which). Writes go to a single writer thread that commits the writes of
// concurrent callers together (group commit: one transaction and one fsync for a batch); every
// call returns once its write is durable. Reads run in parallel on a pool of WAL readers.
//
// Thread searches filtered on a top-level metadata equality (an authorization filter such as
// {"owner": "alice"}, or the request's metadata) are index lookups: a side table holds every
// thread's top-level scalar metadata under (key, value, created_at).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/storage.hpp"

namespace lgs {

class SqliteStorage final : public Storage {
 public:
  // The schema version this build creates and migrates to (PRAGMA user_version).
  static constexpr int kSchemaVersion = 3;

  // Creates the file (and its folder) when missing, locks it to this object and migrates its
  // schema. Throws StartupError naming the file when that fails, when another live server holds
  // it, or when its schema is newer than this build knows.
  explicit SqliteStorage(const std::filesystem::path& file);
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  void check() override;

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

  // For diagnostics and tests: SQLite's plan for the page query of search_threads (EXPLAIN QUERY
  // PLAN, one step a line), and how writes were batched so far.
  std::string search_threads_plan(const ThreadQuery& query);
  struct WriteStats {
    uint64_t jobs = 0;     // write calls committed
    uint64_t batches = 0;  // transactions committed for them
    uint64_t syncs = 0;    // syncs of the log
    uint64_t synced = 0;   // write calls answered after a sync (the others waited only for their commit)
  };
  WriteStats write_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lgs
