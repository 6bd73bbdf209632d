// Runs: created on a thread or stateless, executed in the background by the run manager;
// /wait variants block until the run finished and answer with the final state.
#include "api/api.hpp"

#include <limits>

#include "api/body.hpp"
#include "authz/filter.hpp"
#include "http/responses.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

void check_run_config(const json& config) {
  if (!config.is_object()) return;
  body::integer(config, "recursion_limit", 25, 1, std::numeric_limits<int>::max());
  body::object(config, "configurable");
  body::strings(config, "tags");
}

namespace {

// Headers copied into config.configurable: x-* except those carrying credentials.
bool is_configurable_header(const std::string& name) {
  return name.size() > 2 && name.compare(0, 2, "x-") == 0 && name != "x-api-key" && name != "x-tenant-id" &&
         name != "x-service-key";
}

json merge_objects(json base, const json& overlay) {
  if (!base.is_object()) base = json::object();
  for (const auto& [key, value] : overlay.items()) {
    if (value.is_object() && base.contains(key) && base[key].is_object())
      base[key] = merge_objects(base[key], value);
    else
      base[key] = value;
  }
  return base;
}

// The config the run executes with (decisions.md, "Graph runs"): the assistant's config, the
// request's on top, then the ids, the x-* headers and the authenticated user, which callers
// cannot override.
json run_config(const ApiRequest& req, const json& request_config, const Assistant& assistant, const Thread& thread,
                const std::string& run_id) {
  json config = merge_objects(assistant.config, request_config);
  json& c = config["configurable"];
  if (!c.is_object()) c = json::object();
  for (const auto& [name, value] : req.http().headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (is_configurable_header(lower)) c[lower] = value;
  }
  c["thread_id"] = thread.thread_id;
  c["run_id"] = run_id;
  c["assistant_id"] = assistant.assistant_id;
  c["graph_id"] = assistant.graph_id;
  if (const User* user = req.user()) {
    c["langgraph_auth_user"] = user->object;
    c["langgraph_auth_user_id"] = user->identity;
    c["langgraph_auth_permissions"] = user->permissions;
  } else {
    c.erase("langgraph_auth_user");
    c.erase("langgraph_auth_user_id");
    c.erase("langgraph_auth_permissions");
  }
  // user_id: the request's, else the thread's, else the assistant's, else the identity.
  if (!c.contains("user_id") || c["user_id"].is_null()) {
    const json& from_thread = thread.config.value("configurable", json::object());
    const json& from_assistant = assistant.config.value("configurable", json::object());
    if (from_thread.contains("user_id")) c["user_id"] = from_thread["user_id"];
    else if (from_assistant.contains("user_id")) c["user_id"] = from_assistant["user_id"];
    else if (const User* user = req.user()) c["user_id"] = user->identity;
  }
  return config;
}

struct RunRequest {
  Assistant assistant;
  json input;
  json config;
  json context;
  json metadata;
  json stream_mode;
  std::string multitask_strategy;
  std::string if_not_exists;
  std::string on_completion;
  std::string on_disconnect;  // what a streaming client's disconnect does to the run
  std::string durability;     // when the run's checkpoints reach the disk (see RunManager::execute)
  json command;
  json interrupt_before;
  json interrupt_after;
  int after_seconds = 0;
};

// interrupt_before / interrupt_after: "*" (every node) or a list of node names.
json node_list(Services& services, const json& b, const char* key, const Assistant& assistant) {
  if (!b.contains(key) || b[key].is_null()) return nullptr;
  const auto& spec = services.graphs.at(assistant.graph_id)->spec();
  if (b[key] == "*") return spec.nodes;
  json out = json::array();
  for (const auto& name : body::strings(b, key)) {
    if (!spec.has_node(name)) throw ApiError{422, std::string("\"") + key + "\" names unknown node \"" + name + "\""};
    out.push_back(name);
  }
  return out;
}

RunRequest parse_run_request(Services& services, const ApiRequest& req) {
  const json& b = req.body();
  RunRequest r;
  auto assistant_id = body::string(b, "assistant_id");
  if (!assistant_id) throw ApiError{422, "\"assistant_id\" is required"};
  for (const char* unsupported : {"checkpoint", "checkpoint_id", "webhook"})
    if (b.contains(unsupported) && !b[unsupported].is_null())
      throw ApiError{422, std::string("\"") + unsupported + "\" is not supported by this server yet"};
  r.input = b.contains("input") ? b["input"] : json();
  if (!r.input.is_null() && !r.input.is_object()) throw ApiError{422, "\"input\" must be an object"};
  r.config = body::object(b, "config");
  r.context = body::object(b, "context");
  r.metadata = body::object(b, "metadata");
  check_run_config(r.config);
  r.stream_mode = b.contains("stream_mode") && !b["stream_mode"].is_null() ? b["stream_mode"] : json("values");
  parse_modes(r.stream_mode);
  r.multitask_strategy = body::choice(b, "multitask_strategy", {"reject", "enqueue", "interrupt", "rollback"}, "reject");
  r.if_not_exists = body::choice(b, "if_not_exists", {"create", "reject"}, "reject");
  r.on_completion = body::choice(b, "on_completion", {"delete", "keep"}, "delete");
  r.after_seconds = body::integer(b, "after_seconds", 0, 0, 7 * 24 * 3600);
  if (b.contains("command") && !b["command"].is_null()) {
    r.command = body::object(b, "command");
    for (const auto& [key, value] : r.command.items())
      if (key != "resume" && key != "update" && key != "goto")
        throw ApiError{422, "\"command\" takes resume, update and goto, not \"" + key + "\""};
    if (r.command.contains("update") && !r.command["update"].is_null() && !r.command["update"].is_object())
      throw ApiError{422, "\"command.update\" must be an object"};
    if (!r.input.is_null()) throw ApiError{422, "give either \"input\" or \"command\", not both"};
  }
  r.on_disconnect = body::choice(b, "on_disconnect", {"cancel", "continue"}, "continue");
  r.durability = body::choice(b, "durability", {"sync", "async", "exit"}, "async");
  r.assistant = resolve_assistant(services, *assistant_id);
  r.interrupt_before = node_list(services, b, "interrupt_before", r.assistant);
  r.interrupt_after = node_list(services, b, "interrupt_after", r.assistant);
  // Beyond LangGraph: running a user-created assistant requires being allowed to read it.
  // System assistants stay runnable by whoever may create the run.
  if (!is_system_assistant(r.assistant)) {
    json value = {{"assistant_id", r.assistant.assistant_id}};
    resolve_assistant(services, r.assistant.assistant_id, services.authorize(req, "assistants", "read", value));
  }
  return r;
}

// threads:create_run for `run`; the handler's metadata changes go to the run (and to a thread
// the run creates). Returns the filter the target thread must pass.
json authorize_run(Services& services, const ApiRequest& req, const RunRequest& r, Run& run, bool stateless) {
  json value = {{"thread_id", stateless ? json() : json(run.thread_id)},
                {"assistant_id", run.assistant_id},
                {"run_id", run.run_id},
                {"status", run.status},
                {"metadata", run.metadata},
                {"prevent_insert_if_inflight", true},
                {"multitask_strategy", run.multitask_strategy},
                {"if_not_exists", r.if_not_exists},
                {"after_seconds", r.after_seconds},
                {"kwargs", run.kwargs}};
  json filter = services.authorize(req, "threads", "create_run", value);
  if (value["metadata"].is_object()) run.metadata = value["metadata"];
  return filter;
}

Run make_run(const ApiRequest& req, const RunRequest& r, const Thread& thread, bool temporary) {
  Run run;
  run.run_id = uuid7();
  run.thread_id = thread.thread_id;
  run.assistant_id = r.assistant.assistant_id;
  run.metadata = r.metadata;
  run.multitask_strategy = r.multitask_strategy;
  run.created_at = run.updated_at = now_iso8601();
  run.ready_at = r.after_seconds > 0 ? iso8601_from_now(r.after_seconds) : run.created_at;
  run.kwargs = {{"input", r.input},
                {"command", r.command},
                {"config", run_config(req, r.config, r.assistant, thread, run.run_id)},
                {"context", r.context},
                {"stream_mode", r.stream_mode},
                {"interrupt_before", r.interrupt_before},
                {"interrupt_after", r.interrupt_after},
                {"after_seconds", r.after_seconds},
                {"on_disconnect", r.on_disconnect},
                {"durability", r.durability},
                {"webhook", nullptr},
                {"feedback_keys", nullptr},
                {"temporary", temporary},
                {"subgraphs", false},
                {"resumable", false}};
  return run;
}

}  // namespace

Assistant check_run_request(Services& services, const ApiRequest& req) {
  return parse_run_request(services, req).assistant;
}

// Stores a pending run for a thread: the thread must exist and pass the handler's filter (or be
// created: never for an existing thread the filter hides), and with multitask_strategy "reject"
// no other run may be pending or running on it. The thread's lock makes the check and the
// insert atomic, across every server of the database.
Run create_thread_run(Services& services, const ApiRequest& req) {
  RunRequest r = parse_run_request(services, req);
  const std::string thread_id = req.uuid_param("thread_id");
  Thread target;
  target.thread_id = thread_id;
  Run run = make_run(req, r, target, /*temporary=*/false);
  const json filter = authorize_run(services, req, r, run, /*stateless=*/false);

  const auto lock = services.storage.lock_thread(thread_id);
  auto thread = services.storage.get_thread(thread_id);
  if (thread && !filter_matches(filter, thread->metadata))  // hidden: as if absent, and never upserted
    throw ApiError{404, "Thread with ID " + thread_id + " not found"};
  if (!thread) {
    if (r.if_not_exists != "create") throw ApiError{404, "Thread with ID " + thread_id + " not found"};
    Thread t;
    t.thread_id = thread_id;
    t.metadata = run.metadata;
    t.created_at = t.updated_at = now_iso8601();
    services.storage.create_thread(t);
    thread = t;
  }
  // Another run pending or running on the thread: refused, cancelled first, or queued after it.
  for (const auto& other : services.storage.list_runs(RunQuery{thread_id, std::nullopt, 1000, 0}).items) {
    if (other.finished()) continue;
    if (r.multitask_strategy == "reject")
      throw ApiError{409, "Thread is already running a task. Wait for it to finish or choose a different "
                          "multitask strategy."};
    if (r.multitask_strategy == "interrupt" || r.multitask_strategy == "rollback")
      services.runs.cancel(other.run_id, r.multitask_strategy);
  }
  if (!r.command.is_null() && !services.storage.latest_checkpoint(thread_id))
    throw ApiError{422, "\"command\" needs a thread with state to resume; this thread has none"};
  services.storage.update_thread(thread_id, [&](Thread& t) {
    t.metadata["graph_id"] = r.assistant.graph_id;
    t.metadata["assistant_id"] = r.assistant.assistant_id;
    t.updated_at = now_iso8601();
  });
  // user_id may come from the stored thread's config: build the config against it.
  run.kwargs["config"] = run_config(req, r.config, r.assistant, *thread, run.run_id);
  services.storage.put_run(run);
  return run;
}

// A stateless run executes on a thread of its own, deleted afterwards unless
// on_completion is "keep".
Run create_stateless_run(Services& services, const ApiRequest& req) {
  RunRequest r = parse_run_request(services, req);
  Thread t;
  t.thread_id = uuid7();
  Run run = make_run(req, r, t, /*temporary=*/r.on_completion == "delete");
  authorize_run(services, req, r, run, /*stateless=*/true);
  t.metadata = run.metadata;
  t.metadata["graph_id"] = r.assistant.graph_id;
  t.metadata["assistant_id"] = r.assistant.assistant_id;
  t.created_at = t.updated_at = now_iso8601();
  services.storage.create_thread(t, WriteWait::committed);  // on disk with the run, stored next
  services.storage.put_run(run);
  return run;
}

std::string run_location(const Run& run, bool stateless) {
  return stateless ? "/runs/" + run.run_id : "/threads/" + run.thread_id + "/runs/" + run.run_id;
}

namespace {

// The body /wait answers with: the final state, or {"__error__": ...} for a failed run.
json wait_result(const std::optional<Run>& run) {
  if (!run) return {{"__error__", {{"error", "RunNotFound"}, {"message", "the run was deleted or the server is stopping"}}}};
  if (run->status == "error") return {{"__error__", run->error}};
  return run->output.is_null() ? json::object() : run->output;
}

Run require_run(Services& services, const std::string& thread_id, const std::string& run_id) {
  auto run = services.storage.get_run(run_id);
  if (!run || run->thread_id != thread_id) throw ApiError{404, "Run with ID " + run_id + " not found"};
  return *run;
}

}  // namespace

void add_run_routes(Router& router, Services& services) {
  using Create = Run (*)(Services&, const ApiRequest&);
  auto background = [&services](Create create, bool stateless) {
    return [&services, create, stateless](const ApiRequest& req, HttpResponse& res) {
      Run run = create(services, req);
      services.runs.enqueue(run.run_id);
      res.set_header("Content-Location", run_location(run, stateless));
      send_json(res, 200, run.to_json());
    };
  };
  auto wait = [&services](Create create, bool stateless) {
    return [&services, create, stateless](const ApiRequest& req, HttpResponse& res) {
      Run run = create(services, req);
      res.set_header("Content-Location", run_location(run, stateless));
      send_json(res, 200, wait_result(services.runs.enqueue_and_wait(run.run_id)));
    };
  };
  router.add("POST", "/threads/{thread_id}/runs", background(&create_thread_run, false));
  router.add("POST", "/threads/{thread_id}/runs/wait", wait(&create_thread_run, false));
  router.add("POST", "/runs", background(&create_stateless_run, true));
  router.add("POST", "/runs/wait", wait(&create_stateless_run, true));

  router.add("POST", "/runs/batch", [&services](const ApiRequest& req, HttpResponse& res) {
    const json items = parse_request_json(req.body_text());
    if (!items.is_array() || items.empty()) throw ApiError{422, "The body must be a non-empty list of run payloads"};
    if (items.size() > 100) throw ApiError{422, "A batch holds at most 100 runs"};
    std::vector<std::string> texts;
    for (const auto& item : items) texts.push_back(item.dump());
    std::vector<Run> created;
    for (const auto& text : texts) created.push_back(create_stateless_run(services, ApiRequest(req.http(), text, req.params(), req.user())));
    json out = json::array();
    for (const auto& run : created) {
      services.runs.enqueue(run.run_id);
      out.push_back(run.to_json());
    }
    send_json(res, 200, out);
  });

  // threads:update for a cancel, with LangGraph's synthetic metadata.
  router.add("POST", "/threads/{thread_id}/runs/{run_id}/cancel", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string thread_id = req.uuid_param("thread_id");
    const std::string run_id = req.uuid_param("run_id");
    const std::string action = req.query("action").value_or("interrupt");
    if (action != "interrupt" && action != "rollback") throw ApiError{422, "\"action\" must be interrupt or rollback"};
    const std::string wait = req.query("wait").value_or("false");
    json value = {{"thread_id", thread_id}, {"action", action}, {"metadata", {{"run_ids", {run_id}}, {"status", "pending"}}}};
    require_thread(services, thread_id, services.authorize(req, "threads", "update", value));
    require_run(services, thread_id, run_id);
    if (!services.runs.cancel(run_id, action)) throw ApiError{409, "Run " + run_id + " is not pending or running"};
    if (wait == "1" || wait == "true") {
      services.runs.wait(run_id);
      res.status = 204;
    } else {
      res.status = 202;
    }
  });

  router.add("GET", "/threads/{thread_id}/runs/{run_id}/join", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string thread_id = req.uuid_param("thread_id");
    const std::string run_id = req.uuid_param("run_id");
    json value = {{"thread_id", thread_id}, {"run_id", run_id}};
    require_thread(services, thread_id, services.authorize(req, "threads", "read", value));
    require_run(services, thread_id, run_id);
    send_json(res, 200, wait_result(services.runs.wait(run_id)));
  });

  router.add("DELETE", "/threads/{thread_id}/runs/{run_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string thread_id = req.uuid_param("thread_id");
    const std::string run_id = req.uuid_param("run_id");
    json value = {{"thread_id", thread_id}, {"run_id", run_id}};
    require_thread(services, thread_id, services.authorize(req, "threads", "delete", value));
    const Run run = require_run(services, thread_id, run_id);
    if (!run.finished()) throw ApiError{409, "Run " + run_id + " is " + run.status + "; cancel it before deleting it"};
    services.storage.delete_run(run_id);
    res.status = 204;
  });

  router.add("GET", "/threads/{thread_id}/runs", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string thread_id = req.uuid_param("thread_id");
    json value = {{"thread_id", thread_id}};
    require_thread(services, thread_id, services.authorize(req, "threads", "read", value));
    RunQuery q{thread_id, std::nullopt, 10, 0};
    q.limit = req.query_int("limit", 10, 1, 1000);
    q.offset = req.query_int("offset", 0, 0, INT32_MAX);
    q.status = req.query_choice("status", {"pending", "running", "error", "success", "timeout", "interrupted"});
    const auto select = body::select(req.query_all("select"), {"run_id", "thread_id", "assistant_id", "created_at",
                                                                "updated_at", "status", "metadata", "kwargs",
                                                                "multitask_strategy", "cancel_reason"});
    json out = json::array();
    for (const auto& run : services.storage.list_runs(q).items) out.push_back(body::selected(run.to_json(), select));
    send_json(res, 200, out);
  });

  router.add("GET", "/threads/{thread_id}/runs/{run_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string thread_id = req.uuid_param("thread_id");
    const std::string run_id = req.uuid_param("run_id");
    json value = {{"thread_id", thread_id}, {"run_id", run_id}};
    require_thread(services, thread_id, services.authorize(req, "threads", "read", value));
    send_json(res, 200, require_run(services, thread_id, run_id).to_json());
  });
}

}  // namespace lgs
