#include "runtime/executor.hpp"

#include <algorithm>

#include "runtime/reducers.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

void apply_update(const GraphSpec& spec, json& state, const json& update, const std::string& writer) {
  if (!update.is_object()) throw GraphError("InvalidUpdateError", "an update must be an object of channel values");
  for (const auto& [channel, value] : update.items()) {
    auto reducer = spec.channels.find(channel);
    if (reducer == spec.channels.end()) {
      if (writer == kStart) continue;  // input keys outside the state schema are ignored
      throw GraphError("InvalidUpdateError", "node \"" + writer + "\" wrote to unknown channel \"" + channel + "\"");
    }
    try {
      const json current = state.contains(channel) ? state[channel] : json();
      state[channel] = apply_reducer(reducer->second, current, value);
    } catch (const std::invalid_argument& e) {
      throw GraphError("InvalidUpdateError", "channel \"" + channel + "\": " + e.what());
    }
  }
}

// Gives messages written to add_messages channels their final shape and ids once, so the
// checkpoint's writes, the stream events and the state all show the same messages.
json normalize_update(const GraphSpec& spec, json update) {
  if (!update.is_object()) return update;
  for (auto& [channel, value] : update.items()) {
    auto reducer = spec.channels.find(channel);
    if (reducer == spec.channels.end() || reducer->second != "add_messages") continue;
    try {
      json messages = json::array();
      for (const auto& m : value.is_array() ? value : json::array({value})) messages.push_back(coerce_message(m));
      value = std::move(messages);
    } catch (const std::invalid_argument& e) {
      throw GraphError("InvalidUpdateError", "channel \"" + channel + "\": " + e.what());
    }
  }
  return update;
}

json checkpoint_event(const Checkpoint& c) {
  auto config = [&](const std::string& id) -> json {
    if (id.empty()) return nullptr;
    return {{"configurable", {{"thread_id", c.thread_id}, {"checkpoint_ns", ""}, {"checkpoint_id", id}}}};
  };
  return {{"config", config(c.checkpoint_id)}, {"parent_config", config(c.parent_checkpoint_id)},
          {"values", c.values}, {"metadata", c.metadata}, {"next", c.next}, {"tasks", c.tasks}};
}

namespace {

bool contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

void add_unique(std::vector<std::string>& into, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (n != kEnd && !contains(into, n)) into.push_back(n);
}

// One execution's state, with the helpers that write checkpoints and events.
class Loop {
 public:
  Loop(const RunContext& run, const std::optional<Checkpoint>& latest)
      : run_(run), spec_(run.graph.spec()) {
    if (latest) {
      cp_ = *latest;
      step_ = latest->metadata.value("step", -1);
    } else {
      cp_.thread_id = run.thread_id;
      step_ = -2;
    }
    values_ = cp_.values.is_object() ? cp_.values : json::object();
    for (const auto& n : spec_.interrupt_before) add_unique(before_, {n});
    for (const auto& n : run.interrupt_before) add_unique(before_, {n});
    for (const auto& n : spec_.interrupt_after) add_unique(after_, {n});
    for (const auto& n : run.interrupt_after) add_unique(after_, {n});
  }

  Execution run(const json& input, const json& command) {
    std::vector<std::string> tasks;
    bool resuming = false;
    json resume = nullptr;
    if (!input.is_null()) {
      if (!input.is_object()) throw GraphError("InvalidUpdateError", "the run's input must be an object of channel values");
      const json normalized = normalize_update(spec_, input);
      ++step_;
      checkpoint("input", {{kStart, normalized}}, {kStart});
      apply_update(spec_, values_, normalized, kStart);
      ++step_;
      add_unique(tasks, successors(kStart));
      checkpoint("loop", nullptr, tasks);
      emit("values", "values", values_);
    } else {
      const json& cmd = command.is_object() ? command : json::object();
      if (cmd.contains("update") && !cmd["update"].is_null()) apply_update(spec_, values_, cmd["update"], kStart);
      if (cmd.contains("goto") && !cmd["goto"].is_null()) {
        for (const auto& g : cmd["goto"].is_array() ? cmd["goto"] : json::array({cmd["goto"]})) {
          const std::string name = g.is_object() ? g.value("node", "") : g.get<std::string>();
          if (!spec_.has_node(name)) throw GraphError("InvalidUpdateError", "Command goto names unknown node \"" + name + "\"");
          add_unique(tasks, {name});
        }
      } else {
        tasks = cp_.next;
        tasks.erase(std::remove(tasks.begin(), tasks.end(), std::string(kStart)), tasks.end());
      }
      resume = cmd.value("resume", json());
      resuming = true;
      if (cmd.contains("update") && !cmd["update"].is_null()) {
        ++step_;
        checkpoint("update", {{kStart, cmd["update"]}}, tasks);
      }
    }

    const int limit = run_.config.value("recursion_limit", 25);
    Execution result;
    while (!tasks.empty()) {
      if (run_.cancelled && run_.cancelled()) throw RunCancelled{};
      if (!resuming && std::any_of(tasks.begin(), tasks.end(), [&](const auto& t) { return contains(before_, t); }))
        return paused(result, tasks);
      if (result.steps >= limit)
        throw GraphError("GraphRecursionError", "Recursion limit of " + std::to_string(limit) +
                                                    " reached without hitting a stop condition. You can increase the "
                                                    "limit by setting the `recursion_limit` config key.");
      json writes = cp_.pending_writes.is_object() ? cp_.pending_writes : json::object();
      json interrupts = json::object();
      json pending_tasks = json::array();
      for (const auto& node : tasks) {
        if (writes.contains(node)) continue;  // finished before an interrupt in this step
        const std::string task_id = uuid4();
        json resumes = cp_.resumes.value(node, json::array());
        if (!resume.is_null()) resumes.push_back(resume_for(resume, node));
        emit_task_start(task_id, node);
        GraphPlugin::NodeResult outcome;
        try {
          outcome = run_.graph.run_node(node, values_, node_config(node, task_id), resumes,
                                        [&](std::string_view text) {
                                          emit("custom", "custom", json::parse(text, nullptr, false));
                                        },
                                        run_.store);
        } catch (const GraphError& e) {
          // The failed task keeps its error in the state, as LangGraph shows it.
          for (auto& task : cp_.tasks)
            if (task.value("name", "") == node) task["error"] = e.type + "('" + e.what() + "')";
          save(cp_);
          throw;
        }
        if (outcome.interrupted) {
          const json entry = {{"value", outcome.interrupt}, {"id", uuid4()}};
          interrupts[task_id] = json::array({entry});
          cp_.resumes[node] = resumes;
          pending_tasks.push_back({{"id", task_id}, {"name", node}, {"path", {"__pregel_pull", node}},
                                   {"error", nullptr}, {"interrupts", {entry}}, {"checkpoint", nullptr},
                                   {"state", nullptr}});
          emit_task_end(task_id, node, nullptr, {entry});
          continue;
        }
        outcome.update = normalize_update(spec_, std::move(outcome.update));
        emit_task_end(task_id, node, outcome.update, json::array());
        writes[node] = outcome.update;
      }
      // A cancel that arrived while the nodes ran discards their writes.
      if (run_.cancelled && run_.cancelled()) throw RunCancelled{};
      if (!interrupts.empty()) {
        // Record what finished, and which tasks wait for a resume, on the current checkpoint.
        cp_.pending_writes = writes;
        cp_.tasks = pending_tasks;
        cp_.next = tasks;
        save(cp_);
        json list = json::array();
        for (const auto& [task, entries] : interrupts.items()) list.insert(list.end(), entries.begin(), entries.end());
        emit("updates", "updates", {{"__interrupt__", list}});
        result.interrupted = true;
        result.interrupts = interrupts;
        return finish(result);
      }
      // Writes of one step apply in node-name order, as LangGraph's apply_writes sorts tasks.
      std::vector<std::string> ordered = tasks;
      std::sort(ordered.begin(), ordered.end());
      for (const auto& node : ordered) apply_update(spec_, values_, writes[node], node);
      std::vector<std::string> next;
      for (const auto& node : tasks) add_unique(next, successors(node));
      ++step_;
      ++result.steps;
      resuming = false;
      resume = nullptr;
      cp_.resumes = json::object();
      checkpoint("loop", writes, next);
      for (const auto& node : tasks) {
        emit("updates", "updates", {{node, writes[node]}});
        emit_messages(node, writes[node]);
      }
      emit("values", "values", values_);
      if (!next.empty() && std::any_of(tasks.begin(), tasks.end(), [&](const auto& t) { return contains(after_, t); }))
        return paused(result, next);
      tasks = std::move(next);
    }
    return finish(result);
  }

 private:
  // The value resuming `node`: the resume itself, or its entry in a {interrupt id: value} map.
  json resume_for(const json& resume, const std::string& node) const {
    if (resume.is_object())
      for (const auto& task : cp_.tasks)
        if (task.value("name", "") == node)
          for (const auto& i : task.value("interrupts", json::array()))
            if (resume.contains(i.value("id", ""))) return resume[i.value("id", "")];
    return resume;
  }

  json node_config(const std::string& node, const std::string& task_id) const {
    json config = run_.config;
    json& c = config["configurable"];
    c["checkpoint_ns"] = "";
    c["checkpoint_id"] = cp_.checkpoint_id;
    c["langgraph_node"] = node;
    c["langgraph_step"] = step_ + 1;
    c["langgraph_task_id"] = task_id;
    return config;
  }

  std::vector<std::string> successors(const std::string& node) {
    std::vector<std::string> next;
    for (const auto& [from, to] : spec_.edges)
      if (from == node) next.push_back(to);
    for (const auto& branch : spec_.branches)
      if (branch.source == node)
        for (auto& to : run_.graph.route(branch, values_, run_.config)) next.push_back(std::move(to));
    return next;
  }

  void checkpoint(const char* source, const json& writes, const std::vector<std::string>& next) {
    Checkpoint c;
    c.thread_id = run_.thread_id;
    c.checkpoint_id = uuid6();
    c.parent_checkpoint_id = cp_.checkpoint_id;
    c.values = values_;
    c.next = next;
    c.created_at = now_iso8601();
    const json& configurable = run_.config.value("configurable", json::object());
    c.metadata = {{"source", source}, {"step", step_}, {"writes", writes}, {"parents", json::object()},
                  {"run_id", run_.run_id}, {"thread_id", run_.thread_id}};
    for (const char* key : {"graph_id", "assistant_id", "user_id"})
      if (configurable.contains(key)) c.metadata[key] = configurable[key];
    for (const auto& n : next)
      c.tasks.push_back({{"id", uuid4()}, {"name", n}, {"path", {"__pregel_pull", n}}, {"error", nullptr},
                         {"interrupts", json::array()}, {"checkpoint", nullptr}, {"state", nullptr}});
    cp_ = std::move(c);
    save(cp_);
    emit("checkpoints", "checkpoints", checkpoint_event(cp_));
    emit("debug", "debug", {{"type", "checkpoint"}, {"timestamp", cp_.created_at}, {"step", step_},
                            {"payload", checkpoint_event(cp_)}});
  }

  void save(const Checkpoint& c) const {
    if (run_.save) run_.save(c);
  }

  void emit(const std::string& mode, const std::string& event, const json& data) const {
    if (run_.emit) run_.emit(mode, event, data);
  }

  void emit_task_start(const std::string& id, const std::string& node) const {
    if (!run_.emit) return;
    const json task = {{"id", id}, {"name", node}, {"input", values_}, {"triggers", {"branch:to:" + node}}};
    emit("tasks", "tasks", task);
    emit("debug", "debug", {{"type", "task"}, {"timestamp", now_iso8601()}, {"step", step_ + 1}, {"payload", task}});
  }

  void emit_task_end(const std::string& id, const std::string& node, const json& update, const json& interrupts) const {
    if (!run_.emit) return;
    json result = json::array();
    if (update.is_object())
      for (const auto& [channel, value] : update.items()) result.push_back({channel, value});
    const json task = {{"id", id}, {"name", node}, {"error", nullptr}, {"result", result}, {"interrupts", interrupts}};
    emit("tasks", "tasks", task);
    emit("debug", "debug", {{"type", "task_result"}, {"timestamp", now_iso8601()}, {"step", step_ + 1}, {"payload", task}});
  }

  // messages-tuple: each message a node wrote to an add_messages channel, as stored.
  void emit_messages(const std::string& node, const json& update) const {
    if (!run_.emit) return;
    const json& configurable = run_.config.value("configurable", json::object());
    for (const auto& [channel, value] : update.items()) {
      auto reducer = spec_.channels.find(channel);
      if (reducer == spec_.channels.end() || reducer->second != "add_messages") continue;
      for (const auto& stored : value.is_array() ? value : json::array({value})) {
        json metadata = {{"langgraph_step", step_}, {"langgraph_node", node},
                         {"langgraph_triggers", {"branch:to:" + node}}, {"langgraph_path", {"__pregel_pull", node}},
                         {"langgraph_checkpoint_ns", node}, {"thread_id", run_.thread_id}, {"run_id", run_.run_id}};
        for (const char* key : {"graph_id", "assistant_id", "user_id"})
          if (configurable.contains(key)) metadata[key] = configurable[key];
        emit("messages-tuple", "messages", json::array({stored, metadata}));
      }
    }
  }

  Execution paused(Execution& result, const std::vector<std::string>& next) {
    cp_.next = next;
    save(cp_);
    result.interrupted = true;
    return finish(result);
  }

  Execution finish(Execution& result) {
    result.values = values_;
    if (!cp_.checkpoint_id.empty()) result.last = cp_;
    return std::move(result);
  }

  const RunContext& run_;
  const GraphSpec& spec_;
  Checkpoint cp_;
  int step_ = -2;
  json values_;
  std::vector<std::string> before_, after_;
};

}  // namespace

Checkpoint update_state(const GraphPlugin& graph, const std::optional<Checkpoint>& latest, const json& values,
                        std::string as_node, const std::string& thread_id, const json& config) {
  const GraphSpec& spec = graph.spec();
  if (as_node.empty()) {
    const json writes = latest ? latest->metadata.value("writes", json()) : json();
    as_node = writes.is_object() && writes.size() == 1 ? writes.begin().key() : std::string(kStart);
  }
  if (as_node != kStart && !spec.has_node(as_node))
    throw GraphError("InvalidUpdateError", "as_node names unknown node \"" + as_node + "\"");
  Checkpoint c;
  c.thread_id = thread_id;
  c.values = latest && latest->values.is_object() ? latest->values : json::object();
  apply_update(spec, c.values, values.is_null() ? json::object() : values, as_node);
  std::vector<std::string> next;
  for (const auto& [from, to] : spec.edges)
    if (from == as_node) add_unique(next, {to});
  for (const auto& branch : spec.branches)
    if (branch.source == as_node) add_unique(next, graph.route(branch, c.values, config));
  c.checkpoint_id = uuid6();
  c.parent_checkpoint_id = latest ? latest->checkpoint_id : std::string();
  c.next = next;
  for (const auto& n : next)
    c.tasks.push_back({{"id", uuid4()}, {"name", n}, {"path", {"__pregel_pull", n}}, {"error", nullptr},
                       {"interrupts", json::array()}, {"checkpoint", nullptr}, {"state", nullptr}});
  c.created_at = now_iso8601();
  c.metadata = {{"source", "update"}, {"step", latest ? latest->metadata.value("step", -1) + 1 : -1},
                {"writes", {{as_node, values}}}, {"parents", json::object()}, {"thread_id", thread_id}};
  return c;
}

Execution run_graph(const RunContext& run, const std::optional<Checkpoint>& latest, const json& input,
                    const json& command) {
  return Loop(run, latest).run(input, command);
}

Execution run_graph(const GraphPlugin& graph, json state, const json& input, const json& config, int recursion_limit) {
  json c = config.is_object() ? config : json::object();
  c["recursion_limit"] = recursion_limit;
  if (!c.contains("configurable")) c["configurable"] = json::object();
  RunContext run{graph, c, "", "", {}, {}, {}, {}, {}};
  std::optional<Checkpoint> latest;
  if (state.is_object()) {
    latest.emplace();
    latest->values = std::move(state);
    latest->metadata = {{"step", -1}};
  }
  return run_graph(run, latest, input);
}

}  // namespace lgs
