// What the server stores, in the shapes the LangGraph API returns them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lgs {

using json = nlohmann::json;

// An optional text field as the API shows it: null when unset (stored as "").
json optional_text(const std::string& text);

struct Assistant {
  std::string assistant_id;
  std::string graph_id;
  json config = json::object();
  json context = json::object();
  json metadata = json::object();
  int version = 1;
  std::string name;
  json description;  // string or null
  std::string created_at;
  std::string updated_at;

  json to_json() const;
};

struct Thread {
  std::string thread_id;
  std::string created_at;
  std::string updated_at;
  json metadata = json::object();
  std::string status = "idle";  // idle | busy | interrupted | error
  json config = json::object();
  json values;                   // null until a run wrote state
  json interrupts = json::object();
  json error;                    // the last failed run's error, or null

  json to_json() const&;
  json to_json() &&;  // moves the JSON fields out instead of copying them (lists of threads)
};

struct Run {
  std::string run_id;
  std::string thread_id;
  std::string assistant_id;
  json metadata = json::object();
  std::string status = "pending";  // pending | running | success | error | timeout | interrupted
  json kwargs = json::object();
  std::string multitask_strategy = "reject";
  std::string created_at;
  std::string updated_at;
  // Not part of the API shape: what the run produced, for /wait and /join.
  json output;  // final state values
  json error;   // {"error": type, "message": text} when status is error
  // Not part of the API shape either: the run queue.
  std::string ready_at;  // when it may start: created_at + after_seconds (same ISO 8601 format)
  std::string cancel;    // "interrupt" or "rollback" once a cancel was asked while it runs, else ""

  bool finished() const { return status != "pending" && status != "running"; }
  json to_json() const;
};

// A cron: a run payload created again on a schedule, on its thread or, without one, on a new
// thread each time (stateless). Optional text fields are "" when unset (null in the API shape).
struct Cron {
  std::string cron_id;
  std::string assistant_id;
  std::string thread_id;         // "" for a stateless cron
  std::string on_run_completed;  // stateless crons: "delete" or "keep" their run's thread
  std::string end_time;          // no run after it
  std::string schedule;
  std::string timezone;          // IANA name; "" is UTC
  std::string created_at;
  std::string updated_at;
  json payload = json::object();  // the run request body, assistant_id resolved
  std::string user_id;            // who the runs act as: whoever last set what the cron runs
  std::string next_run_date;
  json metadata = json::object();
  bool enabled = true;
  // Not part of the API shape: that user as the auth plugin authenticated them
  // ({identity, permissions, ...}), null without auth. Runs the cron creates act as them.
  json auth_user;

  json to_json() const;
};

// The state of a thread after one superstep (or before the first: the input, step -1).
struct Checkpoint {
  std::string thread_id;
  std::string checkpoint_id;  // time-ordered: a later checkpoint sorts after an earlier one
  std::string parent_checkpoint_id;
  json values = json::object();
  std::vector<std::string> next;  // nodes the next step runs
  json tasks = json::array();     // pending tasks: {id, name, path, error, interrupts, ...}
  json metadata = json::object(); // source, step, writes, parents, run_id...
  json pending_writes = json::object();  // node -> update of tasks that finished in an interrupted step
  json resumes = json::object();         // node -> resume values given to its interrupt() calls so far
  std::string created_at;

  // The ThreadState shape of /state and /history.
  json to_state_json() const;
};

// A store item: a JSON document under (namespace, key). Both identify it in a database index,
// whose entries have a size limit (PostgreSQL's B-tree: about 2.7 KB), so they stay well under
// it together; a NUL character would be cut off by PostgreSQL, so neither holds one.
struct Item {
  static constexpr size_t kMaxNamespaceBytes = 1024;  // its labels, together
  static constexpr size_t kMaxKeyBytes = 1024;
  // A label is not empty and holds no '.' (GET /store/items joins labels with dots) nor NUL.
  static bool valid_label(std::string_view label);
  // A key is not empty, at most kMaxKeyBytes, and holds no NUL.
  static bool valid_key(std::string_view key);
  // Every label valid, and within kMaxNamespaceBytes together; empty only when `allow_empty`.
  static bool valid_namespace(const std::vector<std::string>& path, bool allow_empty);

  std::vector<std::string> namespace_path;
  std::string key;
  json value = json::object();
  std::string created_at;
  std::string updated_at;

  json to_json() const;
  // What store authorization filters are matched against: {...value, namespace, key}.
  json filter_view() const;
};

// One event of a run's live stream (runtime/stream_hub.hpp). A shared database keeps them so
// that a replica can stream a run that executes on another.
struct StreamEvent {
  int64_t id = 0;     // 0, 1, 2... per run
  std::string mode;   // the stream mode that asked for it: "values", "updates", "messages-tuple",
                      // "custom", "debug", "tasks", "checkpoints"; "" for events every stream gets
                      // ("metadata", "error")
  std::string event;  // the SSE event name: "values", "messages", "error", ...
  std::string data;   // one line of JSON
};

}  // namespace lgs
