#include "storage/records.hpp"

#include "util/text.hpp"

namespace lgs {

json Assistant::to_json() const {
  return {{"assistant_id", assistant_id}, {"graph_id", graph_id}, {"config", config},
          {"context", context},           {"metadata", metadata}, {"version", version},
          {"name", name},                 {"description", description}, {"created_at", created_at},
          {"updated_at", updated_at}};
}

namespace {

// A thread's JSON from its fields, copied or moved as `t` is passed. Built member by member:
// nlohmann's initializer lists copy every value once more.
template <typename T>
json thread_json(T&& t) {
  json out = json::object();
  out.emplace("thread_id", std::forward<T>(t).thread_id);
  out.emplace("created_at", std::forward<T>(t).created_at);
  out.emplace("updated_at", std::forward<T>(t).updated_at);
  out.emplace("metadata", std::forward<T>(t).metadata);
  out.emplace("status", std::forward<T>(t).status);
  out.emplace("config", std::forward<T>(t).config);
  out.emplace("values", std::forward<T>(t).values);
  out.emplace("interrupts", std::forward<T>(t).interrupts);
  out.emplace("error", std::forward<T>(t).error);
  return out;
}

}  // namespace

json Thread::to_json() const& { return thread_json(*this); }
json Thread::to_json() && { return thread_json(std::move(*this)); }

json Run::to_json() const {
  return {{"run_id", run_id},         {"thread_id", thread_id}, {"assistant_id", assistant_id},
          {"metadata", metadata},     {"status", status},       {"kwargs", kwargs},
          {"multitask_strategy", multitask_strategy}, {"created_at", created_at}, {"updated_at", updated_at}};
}

json optional_text(const std::string& text) { return text.empty() ? json() : json(text); }

json Cron::to_json() const {
  return {{"cron_id", cron_id},
          {"assistant_id", assistant_id},
          {"thread_id", optional_text(thread_id)},
          {"on_run_completed", optional_text(on_run_completed)},
          {"end_time", optional_text(end_time)},
          {"schedule", schedule},
          {"timezone", optional_text(timezone)},
          {"created_at", created_at},
          {"updated_at", updated_at},
          {"payload", payload},
          {"user_id", optional_text(user_id)},
          {"next_run_date", optional_text(next_run_date)},
          {"metadata", metadata},
          {"enabled", enabled}};
}

json Checkpoint::to_state_json() const {
  auto ref = [&](const std::string& id) -> json {
    if (id.empty()) return nullptr;
    return {{"thread_id", thread_id}, {"checkpoint_ns", ""}, {"checkpoint_id", id}, {"checkpoint_map", nullptr}};
  };
  return {{"values", values},
          {"next", next},
          {"tasks", tasks},
          {"metadata", metadata},
          {"created_at", created_at},
          {"checkpoint", ref(checkpoint_id)},
          {"parent_checkpoint", ref(parent_checkpoint_id)},
          {"checkpoint_id", checkpoint_id},
          {"parent_checkpoint_id", parent_checkpoint_id.empty() ? json() : json(parent_checkpoint_id)}};
}

bool Item::valid_label(std::string_view label) {
  return !label.empty() && label.find('.') == std::string_view::npos && !holds_nul(label);
}

bool Item::valid_key(std::string_view key) { return !key.empty() && key.size() <= kMaxKeyBytes && !holds_nul(key); }

bool Item::valid_namespace(const std::vector<std::string>& path, bool allow_empty) {
  size_t total = 0;
  for (const auto& label : path) {
    if (!valid_label(label)) return false;
    total += label.size();
  }
  return (allow_empty || !path.empty()) && total <= kMaxNamespaceBytes;
}

json Item::to_json() const {
  return {{"namespace", namespace_path}, {"key", key}, {"value", value}, {"created_at", created_at}, {"updated_at", updated_at}};
}

json Item::filter_view() const {
  json view = value.is_object() ? value : json::object();
  view["namespace"] = namespace_path;
  view["key"] = key;
  return view;
}

}  // namespace lgs
