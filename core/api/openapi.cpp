// GET /openapi.json and GET /docs (api/openapi.hpp).
#include "api/openapi.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "api/docs/docs_assets.hpp"
#include "http/responses.hpp"
#include "util/log.hpp"

namespace lgs {

namespace {

// Components shared by the operations below: request bodies and the records the API answers with.
constexpr const char* kSchemas = R"json({
  "Error": {
    "type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "What went wrong."}}
  },
  "Config": {
    "type": "object", "additionalProperties": true,
    "properties": {
      "tags": {"type": "array", "items": {"type": "string"}},
      "recursion_limit": {"type": "integer", "default": 25},
      "configurable": {"type": "object", "additionalProperties": true}
    }
  },
  "Assistant": {
    "type": "object",
    "required": ["assistant_id", "graph_id", "config", "metadata", "version", "created_at", "updated_at"],
    "properties": {
      "assistant_id": {"type": "string", "format": "uuid"},
      "graph_id": {"type": "string"},
      "config": {"$ref": "#/components/schemas/Config"},
      "context": {"type": "object", "additionalProperties": true},
      "metadata": {"type": "object", "additionalProperties": true},
      "version": {"type": "integer"},
      "name": {"type": "string"},
      "description": {"type": ["string", "null"]},
      "created_at": {"type": "string", "format": "date-time"},
      "updated_at": {"type": "string", "format": "date-time"}
    }
  },
  "AssistantCreate": {
    "type": "object", "required": ["graph_id"],
    "properties": {
      "graph_id": {"type": "string", "description": "A graph named in langgraph.json."},
      "assistant_id": {"type": "string", "format": "uuid"},
      "config": {"$ref": "#/components/schemas/Config"},
      "context": {"type": "object"},
      "metadata": {"type": "object"},
      "name": {"type": "string"},
      "description": {"type": ["string", "null"]},
      "if_exists": {"type": "string", "enum": ["raise", "do_nothing"], "default": "raise"}
    }
  },
  "AssistantPatch": {
    "type": "object",
    "properties": {
      "graph_id": {"type": "string"},
      "config": {"$ref": "#/components/schemas/Config"},
      "context": {"type": "object"},
      "metadata": {"type": "object", "description": "Merged into the current metadata."},
      "name": {"type": "string"},
      "description": {"type": ["string", "null"]}
    }
  },
  "AssistantSearch": {
    "type": "object",
    "properties": {
      "metadata": {"type": "object"},
      "graph_id": {"type": "string"},
      "name": {"type": "string"},
      "limit": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 10},
      "offset": {"type": "integer", "minimum": 0, "default": 0},
      "sort_by": {"type": "string", "enum": ["assistant_id", "graph_id", "name", "created_at", "updated_at"]},
      "sort_order": {"type": "string", "enum": ["asc", "desc"]},
      "select": {"type": "array", "description": "The fields each assistant keeps; every field when absent.",
                 "items": {"type": "string", "enum": ["assistant_id", "graph_id", "name", "description", "config",
                                                      "context", "created_at", "updated_at", "metadata", "version"]}}
    }
  },
  "AssistantVersionsRequest": {
    "type": "object",
    "properties": {
      "metadata": {"type": "object"},
      "limit": {"type": "integer", "default": 10},
      "offset": {"type": "integer", "default": 0}
    }
  },
  "AssistantSetLatest": {
    "type": "object", "required": ["version"],
    "properties": {"version": {"type": "integer"}}
  },
  "Graph": {
    "type": "object",
    "properties": {
      "nodes": {"type": "array", "items": {"type": "object"}},
      "edges": {"type": "array", "items": {"type": "object"}}
    }
  },
  "GraphSchemas": {
    "type": "object",
    "properties": {
      "graph_id": {"type": "string"},
      "input_schema": {"type": ["object", "null"]},
      "output_schema": {"type": ["object", "null"]},
      "state_schema": {"type": ["object", "null"]},
      "config_schema": {"type": ["object", "null"]},
      "context_schema": {"type": ["object", "null"]}
    }
  },
  "Thread": {
    "type": "object",
    "required": ["thread_id", "created_at", "updated_at", "metadata", "status"],
    "properties": {
      "thread_id": {"type": "string", "format": "uuid"},
      "created_at": {"type": "string", "format": "date-time"},
      "updated_at": {"type": "string", "format": "date-time"},
      "metadata": {"type": "object", "additionalProperties": true},
      "status": {"type": "string", "enum": ["idle", "busy", "interrupted", "error"]},
      "config": {"type": "object"},
      "values": {"type": ["object", "null"], "description": "The state after the last successful run."},
      "interrupts": {"type": "object", "description": "Pending interrupts by task id."},
      "error": {}
    }
  },
  "ThreadCreate": {
    "type": "object",
    "properties": {
      "thread_id": {"type": "string", "format": "uuid"},
      "metadata": {"type": "object"},
      "if_exists": {"type": "string", "enum": ["raise", "do_nothing"], "default": "raise"},
      "graph_id": {"type": "string", "description": "Stored as metadata.graph_id."}
    }
  },
  "ThreadPatch": {
    "type": "object",
    "properties": {"metadata": {"type": "object", "description": "Merged into the current metadata."}}
  },
  "ThreadSearch": {
    "type": "object",
    "properties": {
      "metadata": {"type": "object", "description": "Threads whose metadata contains this."},
      "values": {"type": "object", "description": "Threads whose values contain this."},
      "status": {"type": "string", "enum": ["idle", "busy", "interrupted", "error"]},
      "ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
      "limit": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 10},
      "offset": {"type": "integer", "minimum": 0, "default": 0},
      "sort_by": {"type": "string", "enum": ["thread_id", "status", "created_at", "updated_at"]},
      "sort_order": {"type": "string", "enum": ["asc", "desc"]},
      "select": {"type": "array", "description": "The fields each thread keeps; every field when absent.",
                 "items": {"type": "string", "enum": ["thread_id", "created_at", "updated_at", "state_updated_at",
                                                      "metadata", "config", "context", "status", "values",
                                                      "interrupts"]}}
    }
  },
  "Command": {
    "type": "object",
    "description": "Continues an interrupted thread.",
    "properties": {
      "resume": {"description": "The value interrupt() returns."},
      "update": {"description": "Channel values to write first."},
      "goto": {"description": "Node(s) to run next.", "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    }
  },
  "RunCreate": {
    "type": "object", "required": ["assistant_id"],
    "properties": {
      "assistant_id": {"type": "string", "description": "An assistant UUID, or a graph id meaning its system assistant."},
      "input": {"type": ["object", "null"]},
      "command": {"$ref": "#/components/schemas/Command"},
      "config": {"$ref": "#/components/schemas/Config"},
      "context": {"type": "object"},
      "metadata": {"type": "object"},
      "stream_mode": {
        "oneOf": [{"$ref": "#/components/schemas/StreamMode"}, {"type": "array", "items": {"$ref": "#/components/schemas/StreamMode"}}],
        "default": "values"
      },
      "interrupt_before": {"oneOf": [{"const": "*"}, {"type": "array", "items": {"type": "string"}}]},
      "interrupt_after": {"oneOf": [{"const": "*"}, {"type": "array", "items": {"type": "string"}}]},
      "multitask_strategy": {"type": "string", "enum": ["reject", "enqueue", "interrupt", "rollback"], "default": "reject"},
      "if_not_exists": {"type": "string", "enum": ["reject", "create"], "default": "reject"},
      "after_seconds": {"type": "number", "minimum": 0},
      "on_disconnect": {"type": "string", "enum": ["cancel", "continue"]},
      "durability": {"type": "string", "enum": ["sync", "async", "exit"], "default": "async",
                     "description": "sync: each step's checkpoint is on disk before the next step starts; async and exit: it reaches the disk while the next steps run."},
      "on_completion": {"type": "string", "enum": ["delete", "keep"], "description": "Stateless runs only: keep or delete their thread."}
    }
  },
  "StreamMode": {
    "type": "string",
    "enum": ["values", "updates", "messages", "messages-tuple", "custom", "tasks", "checkpoints", "debug"]
  },
  "Run": {
    "type": "object",
    "required": ["run_id", "thread_id", "assistant_id", "status", "created_at", "updated_at"],
    "properties": {
      "run_id": {"type": "string", "format": "uuid"},
      "thread_id": {"type": "string", "format": "uuid"},
      "assistant_id": {"type": "string", "format": "uuid"},
      "metadata": {"type": "object"},
      "status": {"type": "string", "enum": ["pending", "running", "success", "error", "interrupted", "timeout"]},
      "kwargs": {"type": "object", "description": "input, command, config, context, stream_mode, ..."},
      "multitask_strategy": {"type": "string"},
      "created_at": {"type": "string", "format": "date-time"},
      "updated_at": {"type": "string", "format": "date-time"}
    }
  },
  "RunResult": {
    "type": "object", "additionalProperties": true,
    "description": "The thread's values after the run; with __interrupt__ when it paused, or {\"__error__\": {error, message}} when it failed.",
    "properties": {
      "__error__": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
      "__interrupt__": {"type": "array", "items": {"$ref": "#/components/schemas/Interrupt"}}
    }
  },
  "Interrupt": {
    "type": "object",
    "properties": {"value": {}, "id": {"type": "string"}}
  },
  "CheckpointRef": {
    "type": "object",
    "properties": {
      "thread_id": {"type": "string", "format": "uuid"},
      "checkpoint_ns": {"type": "string"},
      "checkpoint_id": {"type": "string"},
      "checkpoint_map": {"type": ["object", "null"]}
    }
  },
  "ThreadState": {
    "type": "object",
    "required": ["values", "next", "tasks", "metadata", "created_at", "checkpoint"],
    "properties": {
      "values": {"type": "object", "additionalProperties": true},
      "next": {"type": "array", "items": {"type": "string"}},
      "tasks": {"type": "array", "items": {"type": "object"}},
      "metadata": {"type": "object", "description": "source, step, parents, writes, run and thread ids..."},
      "created_at": {"type": ["string", "null"], "format": "date-time"},
      "checkpoint": {"$ref": "#/components/schemas/CheckpointRef"},
      "parent_checkpoint": {"oneOf": [{"$ref": "#/components/schemas/CheckpointRef"}, {"type": "null"}]},
      "checkpoint_id": {"type": "string"},
      "parent_checkpoint_id": {"type": ["string", "null"]},
      "interrupts": {"type": "array", "items": {"$ref": "#/components/schemas/Interrupt"}}
    }
  },
  "ThreadStateUpdate": {
    "type": "object",
    "properties": {
      "values": {"type": ["object", "null"]},
      "as_node": {"type": "string"},
      "checkpoint_id": {"type": "string"},
      "checkpoint": {"$ref": "#/components/schemas/CheckpointRef"}
    }
  },
  "ThreadStateUpdateResponse": {
    "type": "object",
    "properties": {"checkpoint": {"$ref": "#/components/schemas/CheckpointRef"}}
  },
  "ThreadStateCheckpointRequest": {
    "type": "object", "required": ["checkpoint"],
    "properties": {"checkpoint": {"$ref": "#/components/schemas/CheckpointRef"}, "subgraphs": {"type": "boolean"}}
  },
  "HistoryRequest": {
    "type": "object",
    "properties": {
      "limit": {"type": "integer", "default": 10},
      "before": {"description": "A checkpoint id or CheckpointRef: only older checkpoints."},
      "metadata": {"type": "object"},
      "checkpoint": {"$ref": "#/components/schemas/CheckpointRef"}
    }
  },
  "Cron": {
    "type": "object",
    "required": ["cron_id", "assistant_id", "schedule", "payload", "next_run_date", "metadata", "enabled", "created_at", "updated_at"],
    "properties": {
      "cron_id": {"type": "string", "format": "uuid"},
      "assistant_id": {"type": "string", "format": "uuid"},
      "thread_id": {"type": ["string", "null"], "format": "uuid", "description": "null for a stateless cron."},
      "on_run_completed": {"type": ["string", "null"], "enum": ["delete", "keep", null], "description": "Stateless crons: what happens to each run's thread."},
      "end_time": {"type": ["string", "null"], "format": "date-time"},
      "schedule": {"type": "string"},
      "timezone": {"type": ["string", "null"], "description": "IANA time zone of the schedule; null is UTC."},
      "created_at": {"type": "string", "format": "date-time"},
      "updated_at": {"type": "string", "format": "date-time"},
      "payload": {"type": "object", "description": "The body of the runs it creates."},
      "user_id": {"type": ["string", "null"], "description": "The creator's identity."},
      "next_run_date": {"type": ["string", "null"], "format": "date-time"},
      "metadata": {"type": "object"},
      "enabled": {"type": "boolean"}
    }
  },
  "CronCreate": {
    "description": "A run request (RunCreate) plus the cron's own fields.",
    "allOf": [
      {"$ref": "#/components/schemas/RunCreate"},
      {
        "type": "object", "required": ["schedule"],
        "properties": {
          "schedule": {"type": "string", "description": "minute hour day-of-month month day-of-week, and optionally seconds last."},
          "timezone": {"type": "string", "description": "An IANA time zone; UTC when absent."},
          "end_time": {"type": "string", "format": "date-time"},
          "enabled": {"type": "boolean", "default": true},
          "on_run_completed": {"type": "string", "enum": ["delete", "keep"], "default": "delete"}
        }
      }
    ]
  },
  "CronPatch": {
    "type": "object", "additionalProperties": true,
    "description": "Cron fields replace the stored ones, metadata is merged; other run fields (input, config, ...) are merged into the payload.",
    "properties": {
      "schedule": {"type": "string"},
      "timezone": {"type": "string"},
      "end_time": {"type": "string", "format": "date-time"},
      "enabled": {"type": "boolean"},
      "on_run_completed": {"type": "string", "enum": ["delete", "keep"]},
      "metadata": {"type": "object"}
    }
  },
  "CronSearch": {
    "type": "object",
    "properties": {
      "assistant_id": {"type": "string"},
      "thread_id": {"type": "string", "format": "uuid"},
      "enabled": {"type": "boolean"},
      "metadata": {"type": "object"},
      "limit": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 10},
      "offset": {"type": "integer", "minimum": 0, "default": 0},
      "sort_by": {"type": "string", "enum": ["cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"], "default": "created_at"},
      "sort_order": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
      "select": {"type": "array", "items": {"type": "string"}}
    }
  },
  "Item": {
    "type": "object",
    "required": ["namespace", "key", "value", "created_at", "updated_at"],
    "properties": {
      "namespace": {"type": "array", "items": {"type": "string"}},
      "key": {"type": "string"},
      "value": {"type": "object", "additionalProperties": true},
      "created_at": {"type": "string", "format": "date-time"},
      "updated_at": {"type": "string", "format": "date-time"}
    }
  },
  "StorePut": {
    "type": "object", "required": ["namespace", "key", "value"],
    "properties": {
      "namespace": {"type": "array", "items": {"type": "string"}, "description": "Non-empty labels without '.'."},
      "key": {"type": "string"},
      "value": {"type": "object"},
      "index": {}
    }
  },
  "StoreDelete": {
    "type": "object", "required": ["namespace", "key"],
    "properties": {"namespace": {"type": "array", "items": {"type": "string"}}, "key": {"type": "string"}}
  },
  "StoreSearch": {
    "type": "object",
    "properties": {
      "namespace_prefix": {"type": "array", "items": {"type": "string"}},
      "filter": {"type": "object", "description": "Equality on value fields."},
      "limit": {"type": "integer", "default": 10},
      "offset": {"type": "integer", "default": 0},
      "query": {"type": "string"}
    }
  },
  "StoreSearchResponse": {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}
  },
  "StoreListNamespaces": {
    "type": "object",
    "properties": {
      "prefix": {"type": "array", "items": {"type": "string"}},
      "suffix": {"type": "array", "items": {"type": "string"}},
      "max_depth": {"type": "integer"},
      "limit": {"type": "integer", "default": 100},
      "offset": {"type": "integer", "default": 0}
    }
  },
  "StoreNamespaces": {
    "type": "object",
    "properties": {"namespaces": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}}
  },
  "Ok": {"type": "object", "properties": {"ok": {"type": "boolean", "const": true}}},
  "Info": {
    "type": "object",
    "properties": {"version": {"type": "string"}, "server": {"type": "string"}, "flags": {"type": "object"}}
  }
})json";

const json& schemas() {
  static const json parsed = json::parse(kSchemas);
  return parsed;
}

struct Param {
  const char* name;
  const char* type;  // JSON schema type
  const char* description;
  bool required = false;
  const char* in = "query";
};

// One documented operation. `request`/`response` name a component schema; a trailing "[]" makes
// it a list, a trailing "?" nullable; "integer" is a plain integer, "sse" an event stream, "" none.
struct Operation {
  const char* method;
  const char* path;
  const char* tag;
  const char* summary;
  const char* request;
  int status;
  const char* response;
  std::vector<Param> params = {};
  std::vector<std::pair<int, const char*>> errors = {};  // beyond 404/422, e.g. 409
  const char* description = "";
  std::vector<std::pair<const char*, const char*>> headers = {};  // of the success response: name, description
};

// The paging headers of searches: counted (assistants, crons) or not (threads, as LangGraph's server).
const std::vector<std::pair<const char*, const char*>> kCountedPage = {
    {"X-Pagination-Total", "How many items match, ignoring limit and offset."}};
const std::vector<std::pair<const char*, const char*>> kUncountedPage = {
    {"X-Pagination-Total", "offset + the items returned, plus one when more follow (matches are not counted)."},
    {"X-Pagination-Next", "The offset of the next page; absent on the last page."}};

const Param kLimit{"limit", "integer", "Page size."};
const Param kOffset{"offset", "integer", "Items to skip."};
const Param kStreamMode{"stream_mode", "string", "Overrides the run's stream modes (repeat or comma-separate)."};
const Param kCancelOnDisconnect{"cancel_on_disconnect", "boolean", "Cancel the run when this client disconnects."};
const Param kLastEventId{"Last-Event-ID", "string", "Resume after this event id.", false, "header"};

const std::vector<Operation>& operations() {
  static const std::vector<Operation> ops = {
      // System
      {"GET", "/ok", "System", "Health check", "", 200, "Ok",
       {{"check_db", "integer", "1: also check that the database serves (0, the default: the server alone)."}},
       {{503, "The database is unavailable (check_db=1)"}}},
      {"GET", "/info", "System", "Server information", "", 200, "Info"},
      // Assistants
      {"POST", "/assistants", "Assistants", "Create an assistant", "AssistantCreate", 200, "Assistant", {},
       {{409, "An assistant with this id exists (if_exists: raise)"}}},
      {"POST", "/assistants/search", "Assistants", "Search assistants", "AssistantSearch", 200, "Assistant[]", {}, {},
       "The total count is in the X-Pagination-Total header.", kCountedPage},
      {"POST", "/assistants/count", "Assistants", "Count assistants", "AssistantSearch", 200, "integer"},
      {"GET", "/assistants/{assistant_id}", "Assistants", "Get an assistant", "", 200, "Assistant"},
      {"PATCH", "/assistants/{assistant_id}", "Assistants", "Update an assistant (creates a new version)",
       "AssistantPatch", 200, "Assistant"},
      {"DELETE", "/assistants/{assistant_id}", "Assistants", "Delete an assistant", "", 204, "",
       {{"delete_threads", "boolean", "Also delete the threads it ran on."}}},
      {"POST", "/assistants/{assistant_id}/versions", "Assistants", "List an assistant's versions",
       "AssistantVersionsRequest", 200, "Assistant[]"},
      {"POST", "/assistants/{assistant_id}/latest", "Assistants", "Set the current version", "AssistantSetLatest", 200,
       "Assistant"},
      {"GET", "/assistants/{assistant_id}/graph", "Assistants", "Get the assistant's graph", "", 200, "Graph",
       {{"xray", "boolean", "Include subgraphs."}}},
      {"GET", "/assistants/{assistant_id}/schemas", "Assistants", "Get the assistant's graph schemas", "", 200,
       "GraphSchemas"},
      // Threads
      {"POST", "/threads", "Threads", "Create a thread", "ThreadCreate", 200, "Thread", {},
       {{409, "A thread with this id exists (if_exists: raise)"}}},
      {"POST", "/threads/search", "Threads", "Search threads", "ThreadSearch", 200, "Thread[]", {}, {},
       "Matches are not counted: X-Pagination-Next names the next page's offset when more follow "
       "(POST /threads/count counts).",
       kUncountedPage},
      {"POST", "/threads/count", "Threads", "Count threads", "ThreadSearch", 200, "integer"},
      {"GET", "/threads/{thread_id}", "Threads", "Get a thread", "", 200, "Thread"},
      {"PATCH", "/threads/{thread_id}", "Threads", "Update a thread's metadata", "ThreadPatch", 200, "Thread"},
      {"DELETE", "/threads/{thread_id}", "Threads", "Delete a thread and its runs", "", 204, ""},
      {"GET", "/threads/{thread_id}/state", "Threads", "Get the thread's latest state", "", 200, "ThreadState",
       {{"subgraphs", "boolean", "Include subgraph states."}}},
      {"POST", "/threads/{thread_id}/state", "Threads", "Update the thread's state", "ThreadStateUpdate", 200,
       "ThreadStateUpdateResponse", {}, {{409, "A run of the thread is in flight"}},
       "Writes values as `as_node` would have: a new checkpoint with source \"update\"."},
      {"GET", "/threads/{thread_id}/state/{checkpoint_id}", "Threads", "Get the state at a checkpoint", "", 200,
       "ThreadState"},
      {"POST", "/threads/{thread_id}/state/checkpoint", "Threads", "Get the state at a checkpoint",
       "ThreadStateCheckpointRequest", 200, "ThreadState"},
      {"POST", "/threads/{thread_id}/history", "Threads", "Get the thread's history", "HistoryRequest", 200,
       "ThreadState[]", {}, {}, "Checkpoints, newest first."},
      {"GET", "/threads/{thread_id}/history", "Threads", "Get the thread's history", "", 200, "ThreadState[]",
       {kLimit, {"before", "string", "Only checkpoints older than this checkpoint id."}}},
      {"POST", "/threads/{thread_id}/copy", "Threads", "Copy a thread", "", 200, "Thread", {}, {},
       "A new thread with the same metadata, state and history."},
      // Thread runs
      {"POST", "/threads/{thread_id}/runs", "Thread Runs", "Create a background run", "RunCreate", 200, "Run", {},
       {{409, "Another run of the thread is in flight (multitask_strategy: reject)"}},
       "The Content-Location header holds the run's URL."},
      {"POST", "/threads/{thread_id}/runs/stream", "Thread Runs", "Create a run and stream its output", "RunCreate",
       200, "sse", {}, {{409, "Another run of the thread is in flight (multitask_strategy: reject)"}}},
      {"POST", "/threads/{thread_id}/runs/wait", "Thread Runs", "Create a run and wait for its result", "RunCreate",
       200, "RunResult", {}, {{409, "Another run of the thread is in flight (multitask_strategy: reject)"}}},
      {"GET", "/threads/{thread_id}/runs", "Thread Runs", "List the thread's runs", "", 200, "Run[]",
       {kLimit, kOffset, {"status", "string", "Only runs with this status."},
        {"select", "string", "A field each run keeps (repeat for several); every field when absent."}}},
      {"GET", "/threads/{thread_id}/runs/{run_id}", "Thread Runs", "Get a run", "", 200, "Run"},
      {"DELETE", "/threads/{thread_id}/runs/{run_id}", "Thread Runs", "Delete a finished run", "", 204, "", {},
       {{409, "The run is pending or running"}}},
      {"GET", "/threads/{thread_id}/runs/{run_id}/join", "Thread Runs", "Wait for a run's result", "", 200,
       "RunResult", {kCancelOnDisconnect}},
      {"GET", "/threads/{thread_id}/runs/{run_id}/stream", "Thread Runs", "Join a run's stream", "", 200, "sse",
       {kStreamMode, kCancelOnDisconnect, kLastEventId}},
      {"POST", "/threads/{thread_id}/runs/{run_id}/cancel", "Thread Runs", "Cancel a run", "", 202, "",
       {{"wait", "boolean", "Wait for the run to stop (answers 204)."},
        {"action", "string", "interrupt (default: keep finished steps) or rollback (delete the run)."}},
       {{204, "Cancelled (wait=true)"}}},
      // Stateless runs
      {"POST", "/runs", "Stateless Runs", "Create a background run on a new thread", "RunCreate", 200, "Run"},
      {"POST", "/runs/stream", "Stateless Runs", "Create a stateless run and stream its output", "RunCreate", 200,
       "sse"},
      {"POST", "/runs/wait", "Stateless Runs", "Create a stateless run and wait for its result", "RunCreate", 200,
       "RunResult"},
      {"POST", "/runs/batch", "Stateless Runs", "Create several stateless runs", "RunCreate[]", 200, "Run[]"},
      {"GET", "/runs/{run_id}/stream", "Stateless Runs", "Join a run's stream", "", 200, "sse",
       {kStreamMode, kCancelOnDisconnect, kLastEventId}},
      // Crons
      {"POST", "/threads/{thread_id}/runs/crons", "Crons", "Create a cron on a thread", "CronCreate", 200, "Cron", {}, {},
       "Every tick creates a run on the thread, as the cron's creator."},
      {"POST", "/runs/crons", "Crons", "Create a stateless cron", "CronCreate", 200, "Cron", {}, {},
       "Every tick creates a run on a new thread, deleted after the run unless on_run_completed is keep."},
      {"POST", "/runs/crons/search", "Crons", "Search crons", "CronSearch", 200, "Cron[]", {}, {},
       "The total count is in the X-Pagination-Total header.", kCountedPage},
      {"POST", "/runs/crons/count", "Crons", "Count crons", "CronSearch", 200, "integer"},
      {"GET", "/runs/crons/{cron_id}", "Crons", "Get a cron", "", 200, "Cron"},
      {"PATCH", "/runs/crons/{cron_id}", "Crons", "Update a cron", "CronPatch", 200, "Cron"},
      {"DELETE", "/runs/crons/{cron_id}", "Crons", "Delete a cron", "", 204, ""},
      // Store
      {"PUT", "/store/items", "Store", "Store an item", "StorePut", 204, ""},
      {"GET", "/store/items", "Store", "Get an item", "", 200, "Item?",
       {{"namespace", "string", "The namespace's labels joined with '.'.", true}, {"key", "string", "The item's key.", true}}},
      {"DELETE", "/store/items", "Store", "Delete an item", "StoreDelete", 204, ""},
      {"POST", "/store/items/search", "Store", "Search items", "StoreSearch", 200, "StoreSearchResponse"},
      {"POST", "/store/namespaces", "Store", "List namespaces", "StoreListNamespaces", 200, "StoreNamespaces"},
  };
  return ops;
}

const std::vector<std::pair<const char*, const char*>> kTags = {
    {"Assistants", "Configured instances of a graph."},
    {"Threads", "Conversations: state, checkpoints and history."},
    {"Thread Runs", "Runs of a graph on a thread: background, streamed or awaited."},
    {"Stateless Runs", "Runs on a thread of their own, deleted when they finish unless kept."},
    {"Crons", "Runs created on a schedule, on a thread or stateless."},
    {"Store", "Long-term memory: items by namespace and key."},
    {"System", "Health and server information; never authenticated."},
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

json schema_ref(std::string_view name) {
  if (name == "integer") return {{"type", "integer"}};
  if (name.size() > 2 && name.substr(name.size() - 2) == "[]")
    return {{"type", "array"}, {"items", schema_ref(name.substr(0, name.size() - 2))}};
  if (!name.empty() && name.back() == '?')
    return {{"oneOf", json::array({schema_ref(name.substr(0, name.size() - 1)), {{"type", "null"}}})}};
  return {{"$ref", "#/components/schemas/" + std::string(name)}};
}

json error_response(const std::string& description) {
  return {{"description", description},
          {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
}

std::string operation_id(const std::string& method, const std::string& path) {
  std::string id = lower(method);
  bool separator = true;
  for (char c : path) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (separator) id += '_';
      id += c;
      separator = false;
    } else {
      separator = true;
    }
  }
  return id;
}

json path_parameter(const std::string& name) {
  json schema = {{"type", "string"}};
  std::string description;
  if (name == "thread_id" || name == "run_id" || name == "cron_id") {
    schema["format"] = "uuid";
  } else if (name == "assistant_id") {
    description = "An assistant UUID, or a graph id meaning that graph's system assistant.";
  }
  json p = {{"name", name}, {"in", "path"}, {"required", true}, {"schema", schema}};
  if (!description.empty()) p["description"] = description;
  return p;
}

json describe(const Operation* op, const Route& route, bool auth_enabled) {
  json o = json::object();
  const bool open = route.access == Access::open;
  std::string tag = op ? op->tag : "";
  if (tag.empty()) {  // a route this file does not know: tagged by its first segment
    tag = route.segments.empty() ? "System" : route.segments.front();
    if (!tag.empty()) tag[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(tag[0])));
  }
  o["tags"] = json::array({tag});
  o["summary"] = op ? op->summary : route.method + " " + route.pattern;
  if (op && *op->description) o["description"] = op->description;
  o["operationId"] = operation_id(route.method, route.pattern);

  json params = json::array();
  for (const auto& segment : route.segments)
    if (segment.size() > 2 && segment.front() == '{' && segment.back() == '}')
      params.push_back(path_parameter(segment.substr(1, segment.size() - 2)));
  if (op) {
    for (const auto& p : op->params) {
      json param = {{"name", p.name}, {"in", p.in}, {"schema", {{"type", p.type}}}, {"description", p.description}};
      if (p.required) param["required"] = true;
      params.push_back(std::move(param));
    }
  }
  if (!params.empty()) o["parameters"] = std::move(params);

  if (op && *op->request) {
    // Required when the schema has required fields (or is a list): an empty body cannot do.
    const std::string_view request = op->request;
    const bool list = request.size() > 2 && request.substr(request.size() - 2) == "[]";
    const json& schema = schemas().value(std::string(request), json::object());
    o["requestBody"] = {{"required", list || schema.contains("required")},
                        {"content", {{"application/json", {{"schema", schema_ref(request)}}}}}};
  }

  json responses = json::object();
  if (op) {
    json ok = {{"description", op->status == 204 ? "No content" : op->status == 202 ? "Accepted" : "Success"}};
    const std::string_view response = op->response;
    if (response == "sse") {
      ok["description"] =
          "Server-sent events: metadata first, then one event per stream mode output; error when the run fails.";
      ok["content"] = {{"text/event-stream", {{"schema", {{"type", "string"}}}}}};
    } else if (!response.empty()) {
      ok["content"] = {{"application/json", {{"schema", schema_ref(response)}}}};
    }
    for (const auto& [name, description] : op->headers)
      ok["headers"][name] = {{"description", description}, {"schema", {{"type", "integer"}}}};
    if (std::string_view(op->path).find("/runs") != std::string_view::npos && route.method == "POST" &&
        (response == "Run" || response == "sse"))
      ok["headers"] = {{"Content-Location", {{"description", "The run's URL."}, {"schema", {{"type", "string"}}}}}};
    responses[std::to_string(op->status)] = std::move(ok);
    for (const auto& [status, description] : op->errors) {
      if (status < 300)
        responses[std::to_string(status)] = {{"description", description}};
      else
        responses[std::to_string(status)] = error_response(description);
    }
  } else {
    responses["200"] = {{"description", "Success"}};
  }
  if (!open) {
    if (auth_enabled) {
      responses["401"] = error_response("Not authenticated");
      responses["403"] = error_response("Forbidden");
    }
    if (route.pattern.find('{') != std::string::npos) responses["404"] = error_response("Not found");
    responses["422"] = error_response("Invalid input");
  }
  o["responses"] = std::move(responses);
  return o;
}

}  // namespace

json build_openapi(const Router& router, const OpenApiOptions& options, std::vector<std::string>* warnings) {
  std::map<std::pair<std::string, std::string>, const Operation*> known;
  for (const auto& op : operations()) known[{op.method, op.path}] = &op;

  json paths = json::object();
  std::set<std::string> used_tags;
  for (const auto& route : router.routes()) {
    if (route.pattern == "/openapi.json" || route.pattern == "/docs" || route.pattern.rfind("/docs/", 0) == 0)
      continue;
    auto found = known.find({route.method, route.pattern});
    json operation = describe(found == known.end() ? nullptr : found->second, route, options.auth_enabled);
    used_tags.insert(operation["tags"][0].get<std::string>());
    if (options.auth_enabled && route.access == Access::open) operation["security"] = json::array();
    paths[route.pattern][lower(route.method)] = std::move(operation);
  }

  json doc = {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "LangGraph Agent Server API"},
        {"version", options.version},
        {"description",
         "The LangGraph Agent Server HTTP API as served by langgraph-server. Errors are JSON {\"detail\": "
         "string}."}}},
      {"paths", std::move(paths)},
      {"components", {{"schemas", schemas()}}},
  };
  json tags = json::array();
  for (const auto& [name, description] : kTags)
    if (used_tags.erase(name)) tags.push_back({{"name", name}, {"description", description}});
  for (const auto& name : used_tags) tags.push_back({{"name", name}});
  doc["tags"] = std::move(tags);

  // Security: auth.openapi when given (decisions.md, auth-reference.md §10.3), else a bearer
  // scheme for every protected operation when an auth plugin runs, else none.
  if (options.auth_enabled) {
    const json& custom = options.auth_openapi.is_object() ? options.auth_openapi : json::object();
    const json* schemes = custom.contains("securitySchemes")    ? &custom["securitySchemes"]
                          : custom.contains("security_schemes") ? &custom["security_schemes"]
                                                                 : nullptr;
    if (schemes) {
      doc["components"]["securitySchemes"] = *schemes;
      if (custom.contains("security")) doc["security"] = custom["security"];
    } else {
      doc["components"]["securitySchemes"] = {
          {"BearerAuth",
           {{"type", "http"},
            {"scheme", "bearer"},
            {"description", "The credentials the server's auth plugin reads (Authorization: Bearer <token>)."}}}};
      doc["security"] = custom.contains("security") ? custom["security"] : json::array({{{"BearerAuth", json::array()}}});
    }
    if (custom.contains("paths")) {
      for (const auto& [path, methods] : custom["paths"].items()) {
        for (const auto& [method, security] : methods.items()) {
          const std::string m = lower(method);
          if (doc["paths"].contains(path) && doc["paths"][path].contains(m)) {
            doc["paths"][path][m]["security"] = security;
          } else if (warnings) {
            warnings->push_back("auth.openapi.paths: no operation " + method + " " + path + " to apply security to");
          }
        }
      }
    }
  }
  return doc;
}

namespace {

void send_text(HttpResponse& res, const std::string& body, const char* content_type) {
  res.status = 200;
  res.set_content(body, content_type);
}

// Page headers: nothing but this server's own resources may load, and the page may not be framed.
void set_page_headers(HttpResponse& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-cache");
}

const char* content_type_of(std::string_view path) {
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

std::string asset_text(std::string_view name) {
  for (size_t i = 0; i < docs_assets::kCount; ++i)
    if (name == docs_assets::kAssets[i].name)
      return std::string(reinterpret_cast<const char*>(docs_assets::kAssets[i].data), docs_assets::kAssets[i].size);
  return {};
}

// The document inlined in the page as JSON data (never executed), so the page renders without a
// second request; "</" is escaped so the text cannot close the script element.
std::string inline_json(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 64);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

void add_openapi_routes(Router& router, const OpenApiOptions& options) {
  auto document = std::make_shared<std::string>();
  auto page = std::make_shared<std::string>();

  router.add(
      "GET", "/openapi.json",
      [document](const ApiRequest&, HttpResponse& res) {
        send_text(res, *document, "application/json");
        res.set_header("Cache-Control", "no-cache");
      },
      Access::open);
  router.add(
      "GET", "/docs",
      [page](const ApiRequest&, HttpResponse& res) {
        set_page_headers(res);
        send_text(res, *page, "text/html; charset=utf-8");
      },
      Access::open);
  for (size_t i = 0; i < docs_assets::kCount; ++i) {
    const auto& asset = docs_assets::kAssets[i];
    if (std::string_view(asset.name) == "index.html") continue;
    const std::string body(reinterpret_cast<const char*>(asset.data), asset.size);
    const char* type = content_type_of(asset.name);
    router.add(
        "GET", std::string("/docs/") + asset.name,
        [body, type](const ApiRequest&, HttpResponse& res) {
          set_page_headers(res);
          send_text(res, body, type);
        },
        Access::open);
  }

  std::vector<std::string> warnings;
  const json doc = build_openapi(router, options, &warnings);
  for (const auto& warning : warnings) log::warn("{}", warning);
  *document = doc.dump();

  std::string html = asset_text("index.html");
  const std::string marker = "<!--OPENAPI-->";
  const std::string data = "<script id=\"openapi-document\" type=\"application/json\">" + inline_json(*document) +
                           "</script>";
  if (auto at = html.find(marker); at != std::string::npos) html.replace(at, marker.size(), data);
  *page = std::move(html);
}

}  // namespace lgs
