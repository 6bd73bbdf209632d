// Crons: a run payload created again on a schedule (runtime/cron_schedule.hpp), on a thread or
// on a new thread each time (stateless). Each operation is authorized as crons:<action>; the
// scheduler (runtime/cron_scheduler.hpp) creates the runs through the run routes' own code, as
// the cron's user (its creator, or whoever last changed what it runs).
#include <algorithm>
#include <chrono>

#include "api/api.hpp"
#include "api/body.hpp"
#include "authz/filter.hpp"
#include "http/responses.hpp"
#include "runtime/cron_schedule.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace lgs {

namespace {

// Fields of a create request that belong to the cron; the rest is the payload of its runs.
constexpr const char* kCronFields[] = {"schedule", "timezone", "end_time", "enabled", "on_run_completed"};

CronSchedule parse_schedule(const std::string& text) {
  try {
    return CronSchedule::parse(text);
  } catch (const InvalidSchedule& e) {
    throw ApiError{422, "Invalid cron schedule '" + text + "': " + e.what()};
  }
}

// `timezone` of the body: an IANA name, "" when absent or null (UTC).
std::string time_zone(const json& b) {
  const auto zone = body::string(b, "timezone");
  if (!zone) return "";
  try {
    check_time_zone(*zone);
  } catch (const InvalidTimeZone& e) {
    throw ApiError{422, std::string("Invalid timezone: ") + e.what()};
  }
  return *zone;
}

// `end_time` of the body in the stored format, "" when absent or null.
std::string end_time(const json& b) {
  const auto text = body::string(b, "end_time");
  if (!text) return "";
  const auto at = parse_iso8601(*text);
  if (!at) throw ApiError{422, "\"end_time\" must be an ISO 8601 date and time, got \"" + *text + "\""};
  // Stored times compare as text: only four-digit years keep that order.
  if (!sortable_iso8601(*at))
    throw ApiError{422, "\"end_time\" must be in the years 1970 to 9999 (UTC), got \"" + *text + "\""};
  return format_iso8601(*at);
}

// The first run after now; 422 for a schedule that never fires.
std::string first_run(const CronSchedule& schedule, const std::string& zone) {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto at = schedule.next_after(now, zone);
  if (!at) throw ApiError{422, "Invalid cron schedule: it never fires"};
  return format_iso8601(*at);
}

// Checks `payload` as the run routes check a run request, with the caller's identity; resolves
// its assistant_id (a graph id becomes the graph's system assistant) and marks it with the cron
// id in config.configurable, as LangGraph does.
Assistant check_payload(Services& services, const ApiRequest& req, json& payload, const std::string& cron_id) {
  const std::string text = payload.dump();
  const Assistant assistant = check_run_request(services, ApiRequest(req.http(), text, req.params(), req.user()));
  payload["assistant_id"] = assistant.assistant_id;
  json& config = payload["config"];
  if (!config.is_object()) config = json::object();
  if (!config["configurable"].is_object()) config["configurable"] = json::object();
  config["configurable"]["cron_id"] = cron_id;
  return assistant;
}

[[noreturn]] void cron_not_found(const std::string& cron_id) { throw ApiError{404, "Cron with ID " + cron_id + " not found"}; }

void wake_scheduler(Services& services) {
  if (services.crons) services.crons->wake();
}

// POST /threads/{thread_id}/runs/crons (thread_id set) and POST /runs/crons.
Cron create_cron(Services& services, const ApiRequest& req, const std::string& thread_id) {
  const json& b = req.body();
  const auto schedule_text = body::string(b, "schedule");
  if (!schedule_text) throw ApiError{422, "\"schedule\" is required"};
  const CronSchedule schedule = parse_schedule(*schedule_text);
  Cron cron;
  cron.cron_id = uuid7();
  cron.thread_id = thread_id;
  cron.schedule = *schedule_text;
  cron.timezone = time_zone(b);
  cron.end_time = end_time(b);
  cron.enabled = body::boolean(b, "enabled", true);
  const std::string on_run_completed = body::choice(b, "on_run_completed", {"delete", "keep"}, "delete");
  if (thread_id.empty()) cron.on_run_completed = on_run_completed;  // a thread cron's runs keep their thread
  cron.next_run_date = first_run(schedule, cron.timezone);
  json payload = b;
  for (const char* field : kCronFields) payload.erase(field);
  Assistant assistant = check_payload(services, req, payload, cron.cron_id);

  const User* user = req.user();
  json value = {{"payload", payload},
                {"schedule", cron.schedule},
                {"cron_id", cron.cron_id},
                {"thread_id", optional_text(thread_id)},
                {"user_id", user ? json(user->identity) : json()},
                {"end_time", optional_text(cron.end_time)},
                {"metadata", body::object(b, "metadata")},
                {"on_run_completed", optional_text(cron.on_run_completed)}};
  const json filter = services.authorize(req, "crons", "create", value);
  cron.metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
  if (value["payload"].is_object() && value["payload"] != payload) {  // the handler rewrote it
    payload = value["payload"];
    assistant = check_payload(services, req, payload, cron.cron_id);
  }
  // The handler's filter applies to the cron itself (a cron its creator could not see is not
  // created), and to what it runs on: its thread, and its assistant unless that is a graph's
  // system assistant (which carries no owner).
  if (!filter_matches(filter, cron.metadata)) cron_not_found(cron.cron_id);
  if (!thread_id.empty()) require_thread(services, thread_id, filter);
  if (!is_system_assistant(assistant) && !filter_matches(filter, assistant.metadata))
    throw ApiError{404, "Assistant " + assistant.assistant_id + " not found"};

  cron.assistant_id = assistant.assistant_id;
  cron.payload = std::move(payload);
  if (user) {
    cron.user_id = user->identity;
    cron.auth_user = user->object;
  }
  cron.created_at = cron.updated_at = now_iso8601();
  if (!services.storage.create_cron(cron)) throw ApiError{409, "Cron with ID " + cron.cron_id + " already exists"};
  wake_scheduler(services);
  return cron;
}

// crons:search for a search or a count.
CronQuery cron_query(Services& services, const ApiRequest& req, int default_limit) {
  const json& b = req.body();
  CronQuery q;
  if (auto id = body::string(b, "assistant_id")) {
    q.assistant_id = assistant_id_of(services, *id);
    if (!q.assistant_id) throw ApiError{422, "\"assistant_id\" must be a UUID or a graph id, got \"" + *id + "\""};
  }
  if (auto id = body::string(b, "thread_id")) {
    auto canonical = canonical_uuid(*id);
    if (!canonical) throw ApiError{422, "\"thread_id\" must be a UUID, got \"" + *id + "\""};
    q.thread_id = *canonical;
  }
  if (b.contains("enabled") && !b["enabled"].is_null()) q.enabled = body::boolean(b, "enabled", true);
  q.limit = body::integer(b, "limit", default_limit, 0, 1000);
  q.offset = body::integer(b, "offset", 0, 0, INT32_MAX);
  json value = {{"assistant_id", q.assistant_id ? json(*q.assistant_id) : json()},
                {"thread_id", q.thread_id ? json(*q.thread_id) : json()},
                {"metadata", body::object(b, "metadata")},
                {"limit", q.limit},
                {"offset", q.offset}};
  q.auth_filter = services.authorize(req, "crons", "search", value);
  q.metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
  return q;
}

// Crons of a thread the caller's filter hides are hidden too, whoever created them.
bool thread_hidden(Services& services, const CronQuery& q) {
  if (!q.thread_id || q.auth_filter.empty()) return false;
  auto thread = services.storage.get_thread(*q.thread_id);
  return !thread || !filter_matches(q.auth_filter, thread->metadata);
}

// The fields of `cron` that `select` names (every field when empty); "now" is the server's time.
json select_fields(const Cron& cron, const std::vector<std::string>& select) {
  json full = cron.to_json();
  if (std::find(select.begin(), select.end(), "now") != select.end()) full["now"] = now_iso8601();
  return body::selected(std::move(full), select);
}

std::vector<std::string> selected(const json& b) {
  return body::select(body::strings(b, "select"),
                      {"cron_id", "assistant_id", "thread_id", "end_time", "schedule", "created_at", "updated_at",
                       "user_id", "payload", "next_run_date", "metadata", "now", "timezone", "enabled",
                       "on_run_completed"});
}

// PATCH /runs/crons/{cron_id}: the cron fields given replace the stored ones (`end_time: null`
// removes the end), `metadata` is merged into the cron's, any other field is merged into the run
// payload. Whoever changes the payload becomes the user the cron's runs act as.
Cron update_cron(Services& services, const ApiRequest& req) {
  const std::string cron_id = req.uuid_param("cron_id");
  const json& b = req.body();
  const auto schedule_text = body::string(b, "schedule");
  std::optional<CronSchedule> schedule;
  if (schedule_text) schedule = parse_schedule(*schedule_text);
  const bool zone_given = b.contains("timezone") && !b["timezone"].is_null();
  const std::string zone = time_zone(b);
  const bool end_given = b.contains("end_time");  // null too: no end any more
  const std::string end = end_time(b);
  const bool enabled_given = b.contains("enabled") && !b["enabled"].is_null();
  const bool enabled = body::boolean(b, "enabled", true);
  const auto on_run_completed = b.contains("on_run_completed") && !b["on_run_completed"].is_null()
                                    ? std::optional(body::choice(b, "on_run_completed", {"delete", "keep"}, "delete"))
                                    : std::nullopt;
  json patch = json::object();  // payload fields
  for (const auto& [key, v] : b.items()) {
    if (v.is_null() || key == "metadata" || key == "assistant_id") continue;
    if (std::find(std::begin(kCronFields), std::end(kCronFields), key) != std::end(kCronFields)) continue;
    patch[key] = v;
  }

  json value = {{"cron_id", cron_id},
                {"schedule", schedule_text ? json(*schedule_text) : json()},
                {"end_time", optional_text(end)},
                {"enabled", enabled_given ? json(enabled) : json()},
                {"on_run_completed", on_run_completed ? json(*on_run_completed) : json()},
                {"payload", patch},
                {"metadata", body::object(b, "metadata")}};
  const json filter = services.authorize(req, "crons", "update", value);
  const json metadata = value["metadata"].is_object() ? value["metadata"] : json::object();
  if (value["payload"].is_object()) patch = value["payload"];

  const User* user = req.user();
  // The payload and the next run are worked out from the cron as read, then written in one
  // update. Should another update change the cron in between, that work is redone on the cron
  // it left, so that neither update is lost.
  for (int attempt = 1;; ++attempt) {
    auto existing = services.storage.get_cron(cron_id);
    if (!existing || !filter_matches(filter, existing->metadata)) cron_not_found(cron_id);
    json payload = existing->payload;
    if (!patch.empty()) {
      for (const auto& [key, v] : patch.items()) payload[key] = v;
      payload["assistant_id"] = existing->assistant_id;
      check_payload(services, req, payload, cron_id);
    }
    const std::string new_zone = zone_given ? zone : existing->timezone;
    const CronSchedule effective = schedule ? *schedule : parse_schedule(existing->schedule);
    // A change to when the cron fires, or a cron whose next_run_date has passed (it ended, was
    // disabled, or its tick is late), counts from now: it never fires at once off its schedule,
    // nor in a burst of missed runs.
    const bool reschedule = schedule || zone_given || end_given || enabled_given;
    const std::string now = now_iso8601();
    const std::string next = reschedule || existing->next_run_date < now ? first_run(effective, new_zone) : "";

    Cron updated;
    bool hidden = false;
    bool changed = false;
    const bool found = services.storage.update_cron(cron_id, [&](Cron& c) {
      if (!filter_matches(filter, c.metadata)) {  // changed since it was read
        hidden = true;
        return;
      }
      if (c.payload != existing->payload || c.schedule != existing->schedule || c.timezone != existing->timezone) {
        changed = true;
        return;
      }
      if (schedule_text) c.schedule = *schedule_text;
      c.timezone = new_zone;
      if (end_given) c.end_time = end;
      if (enabled_given) c.enabled = enabled;
      if (on_run_completed && c.thread_id.empty()) c.on_run_completed = *on_run_completed;
      for (const auto& [key, v] : metadata.items()) c.metadata[key] = v;
      if (!patch.empty()) {
        // What runs is now what this user set: the runs act as them, not as the creator.
        c.payload = payload;
        c.user_id = user ? user->identity : "";
        c.auth_user = user ? user->object : json();
      }
      if (!next.empty() && (reschedule || c.next_run_date < now)) c.next_run_date = next;
      c.updated_at = now_iso8601();
      updated = c;
    });
    if (!found || hidden) cron_not_found(cron_id);
    if (changed) {
      if (attempt < 10) continue;
      throw ApiError{409, "Cron with ID " + cron_id + " keeps changing; retry the update"};
    }
    wake_scheduler(services);
    return updated;
  }
}

}  // namespace

void fire_cron(Services& services, const Cron& cron) {
  json body = cron.payload;
  const bool stateless = cron.thread_id.empty();
  if (stateless) body["on_completion"] = cron.on_run_completed.empty() ? "delete" : cron.on_run_completed;
  // The run is created as its user (the one who last set the payload) would create it: their
  // identity, no request headers.
  std::optional<User> user;
  if (!cron.auth_user.is_null()) {
    std::string why;
    user = normalize_user(cron.auth_user, why);
    if (!user) throw std::runtime_error("its user's stored identity is not valid: " + why);
  } else if (services.authz.enabled()) {
    throw std::runtime_error("it was created without authentication, which this server now requires");
  }
  const HttpRequest http;
  const std::string text = body.dump();
  Pairs params;
  if (!stateless) params.emplace_back("thread_id", cron.thread_id);
  const ApiRequest req(http, text, params, user ? &*user : nullptr);
  try {
    const Run run = stateless ? create_stateless_run(services, req) : create_thread_run(services, req);
    services.runs.enqueue(run.run_id);
  } catch (const ApiError& e) {
    throw std::runtime_error(std::to_string(e.status) + " " + e.detail);
  }
}

void add_cron_routes(Router& router, Services& services) {
  router.add("POST", "/threads/{thread_id}/runs/crons", [&services](const ApiRequest& req, HttpResponse& res) {
    send_json(res, 200, create_cron(services, req, req.uuid_param("thread_id")).to_json());
  });

  router.add("POST", "/runs/crons", [&services](const ApiRequest& req, HttpResponse& res) {
    send_json(res, 200, create_cron(services, req, "").to_json());
  });

  router.add("POST", "/runs/crons/search", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    const auto select = selected(b);
    CronQuery q = cron_query(services, req, 10);
    q.sort_by = body::choice(b, "sort_by",
                             {"cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at",
                              "updated_at"},
                             "created_at");
    q.descending = body::choice(b, "sort_order", {"asc", "desc"}, "desc") == "desc";
    const Page<Cron> page = thread_hidden(services, q) ? Page<Cron>{} : services.storage.search_crons(q);
    json out = json::array();
    for (const auto& cron : page.items) out.push_back(select_fields(cron, select));
    res.set_header("X-Pagination-Total", std::to_string(page.total));
    send_json(res, 200, out);
  });

  router.add("POST", "/runs/crons/count", [&services](const ApiRequest& req, HttpResponse& res) {
    CronQuery q = cron_query(services, req, 0);
    q.limit = 0;
    q.offset = 0;
    send_json(res, 200, thread_hidden(services, q) ? 0 : services.storage.search_crons(q).total);
  });

  router.add("GET", "/runs/crons/{cron_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string cron_id = req.uuid_param("cron_id");
    json value = {{"cron_id", cron_id}};
    const json filter = services.authorize(req, "crons", "read", value);
    auto cron = services.storage.get_cron(cron_id);
    if (!cron || !filter_matches(filter, cron->metadata)) cron_not_found(cron_id);
    send_json(res, 200, cron->to_json());
  });

  router.add("PATCH", "/runs/crons/{cron_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    send_json(res, 200, update_cron(services, req).to_json());
  });

  router.add("DELETE", "/runs/crons/{cron_id}", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string cron_id = req.uuid_param("cron_id");
    json value = {{"cron_id", cron_id}};
    const json filter = services.authorize(req, "crons", "delete", value);
    // The filter is checked on the cron as it is deleted, not as an earlier read saw it.
    const bool deleted =
        services.storage.delete_cron(cron_id, [&](const Cron& cron) { return filter_matches(filter, cron.metadata); });
    if (!deleted) cron_not_found(cron_id);
    wake_scheduler(services);
    res.status = 204;
  });
}

}  // namespace lgs
