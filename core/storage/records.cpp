#include "storage/records.hpp"

namespace lgs {

json Assistant::to_json() const {
  return {{"assistant_id", assistant_id}, {"graph_id", graph_id}, {"config", config},
          {"context", context},           {"metadata", metadata}, {"version", version},
          {"name", name},                 {"description", description}, {"created_at", created_at},
          {"updated_at", updated_at}};
}

json Thread::to_json() const {
  return {{"thread_id", thread_id}, {"created_at", created_at}, {"updated_at", updated_at},
          {"metadata", metadata},   {"status", status},         {"config", config},
          {"values", values},       {"interrupts", interrupts}, {"error", error}};
}

json Run::to_json() const {
  return {{"run_id", run_id},         {"thread_id", thread_id}, {"assistant_id", assistant_id},
          {"metadata", metadata},     {"status", status},       {"kwargs", kwargs},
          {"multitask_strategy", multitask_strategy}, {"created_at", created_at}, {"updated_at", updated_at}};
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
