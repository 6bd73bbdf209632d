// What the server stores, in the shapes the LangGraph API returns them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lgs {

using json = nlohmann::json;

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

  json to_json() const;
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

  bool finished() const { return status != "pending" && status != "running"; }
  json to_json() const;
};

// A store item: a JSON document under (namespace, key).
struct Item {
  std::vector<std::string> namespace_path;
  std::string key;
  json value = json::object();
  std::string created_at;
  std::string updated_at;

  json to_json() const;
  // What store authorization filters are matched against: {...value, namespace, key}.
  json filter_view() const;
};

}  // namespace lgs
