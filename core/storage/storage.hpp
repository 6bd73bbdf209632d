// The one storage interface the API and the runtime use. The in-memory implementation serves
// until an embedded database takes its place behind the same calls.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/records.hpp"

namespace lgs {

struct ThreadQuery {
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

template <typename T>
struct Page {
  std::vector<T> items;
  size_t total = 0;  // matches before limit/offset
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Assistants
  virtual void put_assistant(const Assistant& assistant) = 0;
  virtual std::optional<Assistant> get_assistant(const std::string& assistant_id) = 0;
  virtual Page<Assistant> search_assistants(const AssistantQuery& query) = 0;

  // Threads. create returns false when the id is taken.
  virtual bool create_thread(const Thread& thread) = 0;
  virtual std::optional<Thread> get_thread(const std::string& thread_id) = 0;
  // Applies `change` to the stored thread atomically; false when it does not exist.
  virtual bool update_thread(const std::string& thread_id, const std::function<void(Thread&)>& change) = 0;
  // Deletes the thread and its runs; false when it does not exist.
  virtual bool delete_thread(const std::string& thread_id) = 0;
  virtual Page<Thread> search_threads(const ThreadQuery& query) = 0;

  // Runs
  virtual void put_run(const Run& run) = 0;
  virtual std::optional<Run> get_run(const std::string& run_id) = 0;
  virtual bool update_run(const std::string& run_id, const std::function<void(Run&)>& change) = 0;
  virtual Page<Run> list_runs(const RunQuery& query) = 0;
};

// True when `document` contains `pattern`: equal scalars, every key of an object pattern
// contained in the object, every element of a list pattern found in the list (PostgreSQL @>).
bool json_contains(const json& document, const json& pattern);

}  // namespace lgs
