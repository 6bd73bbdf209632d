// Streaming runs over SSE: create-and-stream (POST .../runs/stream) and join (GET .../stream).
// Events come from the StreamHub, filtered by the requested stream modes; "metadata" and "error"
// go to every stream. Thread streams and joins carry ids (the hub's per-run ids), so a client can
// resume with Last-Event-ID; the stateless POST /runs/stream does not, like LangGraph's server.
#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <thread>

#include "api/api.hpp"
#include "api/body.hpp"
#include "http/responses.hpp"
#include "http/sse.hpp"
#include "util/log.hpp"

namespace lgs {

constexpr const char* kModes[] = {"values", "updates", "messages", "messages-tuple", "custom",
                                  "debug",  "tasks",   "checkpoints", "events"};

std::set<std::string> parse_modes(const json& value) {
  std::vector<std::string> names;
  if (value.is_null()) names = {"values"};
  else if (value.is_string()) names = {value.get<std::string>()};
  else if (value.is_array()) {
    for (const auto& item : value) {
      if (!item.is_string()) throw ApiError{422, "\"stream_mode\" must be a string or a list of strings"};
      names.push_back(item.get<std::string>());
    }
  } else {
    throw ApiError{422, "\"stream_mode\" must be a string or a list of strings"};
  }
  std::set<std::string> modes;
  for (const auto& name : names) {
    if (std::find(std::begin(kModes), std::end(kModes), name) == std::end(kModes))
      throw ApiError{422, "\"stream_mode\" \"" + name + "\" is not one of values, updates, messages, messages-tuple, "
                          "custom, debug, tasks, checkpoints, events"};
    modes.insert(name);
  }
  if (modes.empty()) modes.insert("values");
  return modes;
}

namespace {

// The single call site for cancelling a run whose client went away (on_disconnect: "cancel",
// cancel_on_disconnect=true). Runs on an HTTP worker thread from a response's destructor: it must
// not block, and must not throw (the caller catches, but logs it as a failure).
void cancel_on_disconnect(Services& services, const std::string& run_id) {
  if (services.runs.cancel(run_id, "interrupt")) log::info("run {}: client disconnected, run cancelled", run_id);
}

// One client's reading position in a run's stream.
struct Reader {
  Services* services;
  std::string run_id;
  std::set<std::string> modes;
  bool ids;
  int64_t last_id = -1;
  std::set<std::string> described;  // message ids whose messages/metadata went out

  bool wants(const std::string& mode) const { return modes.count(mode) > 0; }

  // The frames for one hub event; with ids, only the last frame of the event carries its id, so
  // a client resuming after it has seen all of them.
  void render(const StreamEvent& e, std::string& out) {
    std::vector<std::pair<std::string, std::string>> frames;
    if (e.mode.empty() || wants(e.mode)) frames.emplace_back(e.event, e.data);
    // "messages" is served from the message tuples: each message as complete, after its metadata.
    if (e.mode == "messages-tuple" && wants("messages")) {
      json tuple = json::parse(e.data, nullptr, false);
      if (tuple.is_array() && tuple.size() == 2 && tuple[0].is_object()) {
        const json& message = tuple[0];
        const std::string id = message.contains("id") && message["id"].is_string() ? message["id"].get<std::string>() : "";
        if (!id.empty() && described.insert(id).second)
          frames.emplace_back("messages/metadata", json{{id, {{"metadata", tuple[1]}}}}.dump(-1, ' ', false, json::error_handler_t::replace));
        frames.emplace_back("messages/complete", json::array({message}).dump(-1, ' ', false, json::error_handler_t::replace));
      }
    }
    for (size_t i = 0; i < frames.size(); ++i)
      out += sse::frame(frames[i].first, frames[i].second,
                        ids && i + 1 == frames.size() ? std::optional<int64_t>(e.id) : std::nullopt);
  }

  // Renders `events` (the next ones after last_id) into `out`.
  void take(const std::vector<StreamEvent>& events, std::string& out) {
    for (const auto& e : events) {
      render(e, out);
      last_id = e.id;
    }
  }

  sse::Chunk pull(std::chrono::milliseconds wait) {
    sse::Chunk chunk;
    // The server is stopping and does not execute this run: what is there goes out, then the
    // response ends, so that the server does not wait for a run it will not execute (the client
    // joins again, with Last-Event-ID, on another replica or after the restart).
    if (services->runs.draining_away(run_id)) {
      take(services->streams.next(run_id, last_id, std::chrono::milliseconds(0)).events, chunk.text);
      chunk.ended = true;
      return chunk;
    }
    StreamHub::Batch batch = services->streams.next(run_id, last_id, wait);
    if (batch.unknown) {
      // No stream (yet): a run still pending gets one when it is queued; a finished run whose
      // stream expired, or a run that is gone, ends the response with nothing more.
      auto run = services->storage.get_run(run_id);
      if (!run || run->finished()) {
        chunk.ended = true;
      } else {
        std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(200)));
      }
      return chunk;
    }
    take(batch.events, chunk.text);
    chunk.ended = batch.ended;
    // A run on another server that stopped without ending its stream (it was killed): once the
    // run is marked finished, nothing more will come.
    if (!chunk.ended && batch.events.empty() && services->streams.shared()) {
      auto run = services->storage.get_run(run_id);
      if (!run || run->finished()) {
        take(services->streams.next(run_id, last_id, {}).events, chunk.text);  // stored before it finished
        chunk.ended = true;
      }
    }
    return chunk;
  }
};

void stream_run(Services& services, HttpResponse& res, const std::string& run_id, std::set<std::string> modes,
                bool ids, int64_t after_id, bool cancel, std::string location) {
  auto reader = std::make_shared<Reader>(Reader{&services, run_id, std::move(modes), ids, after_id, {}});
  sse::Options options;
  options.content_location = std::move(location);
  if (cancel) options.on_disconnect = [&services, run_id] { cancel_on_disconnect(services, run_id); };
  sse::serve(res, [reader](std::chrono::milliseconds wait) { return reader->pull(wait); }, std::move(options));
}

// Last-Event-ID: the id of the last event the client has; absent or unreadable: from the start.
int64_t last_event_id(const ApiRequest& req) {
  const std::string text = req.http().get_header_value("Last-Event-ID");
  try {
    size_t used = 0;
    const long long id = std::stoll(text, &used);
    if (used == text.size() && id >= 0) return id;
  } catch (const std::exception&) {
  }
  return -1;
}

bool cancel_flag(const ApiRequest& req) {
  auto text = req.query("cancel_on_disconnect");
  if (!text) return false;
  std::string v = *text;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0" || v.empty()) return false;
  throw ApiError{422, "\"cancel_on_disconnect\" must be true or false, got \"" + *text + "\""};
}

// ?stream_mode=a&stream_mode=b, else the run's own modes.
std::set<std::string> join_modes(const ApiRequest& req, const std::optional<Run>& run) {
  const auto names = req.query_all("stream_mode");
  if (names.empty()) return parse_modes(run ? run->kwargs.value("stream_mode", json()) : json());
  return parse_modes(names);
}

}  // namespace

void add_stream_routes(Router& router, Services& services) {
  using Create = Run (*)(Services&, const ApiRequest&);
  auto create_and_stream = [&services](Create create, bool stateless) {
    return [&services, create, stateless](const ApiRequest& req, HttpResponse& res) {
      const json& b = req.body();
      auto modes = parse_modes(b.contains("stream_mode") ? b["stream_mode"] : json());
      const bool cancel = body::choice(b, "on_disconnect", {"cancel", "continue"}, "continue") == "cancel";
      Run run = create(services, req);
      services.runs.enqueue(run.run_id);
      stream_run(services, res, run.run_id, std::move(modes), /*ids=*/!stateless, -1, cancel,
                 run_location(run, stateless));
    };
  };
  router.add("POST", "/threads/{thread_id}/runs/stream", create_and_stream(&create_thread_run, false));
  router.add("POST", "/runs/stream", create_and_stream(&create_stateless_run, true));

  router.add("GET", "/threads/{thread_id}/runs/{run_id}/stream", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string thread_id = req.uuid_param("thread_id");
    const std::string run_id = req.uuid_param("run_id");
    const bool cancel = cancel_flag(req);
    json value = {{"thread_id", thread_id}, {"run_id", run_id}};
    require_thread(services, thread_id, services.authorize(req, "threads", "read", value));
    auto run = services.storage.get_run(run_id);
    if (!run || run->thread_id != thread_id) throw ApiError{404, "Run with ID " + run_id + " not found"};
    stream_run(services, res, run_id, join_modes(req, run), /*ids=*/true, last_event_id(req), cancel,
               run_location(*run, false));
  });

  router.add("GET", "/runs/{run_id}/stream", [&services](const ApiRequest& req, HttpResponse& res) {
    const std::string run_id = req.uuid_param("run_id");
    const bool cancel = cancel_flag(req);
    auto run = services.storage.get_run(run_id);
    json value = {{"thread_id", run ? json(run->thread_id) : json()}, {"run_id", run_id}};
    const json filter = services.authorize(req, "threads", "read", value);
    if (run) {
      require_thread(services, run->thread_id, filter);
    } else {
      // A finished stateless run is deleted with its thread, but its stream is kept a while.
      // Without the thread's metadata a filter cannot be checked: only an unfiltered reader
      // may join it.
      const bool known = !services.streams.next(run_id, std::numeric_limits<int64_t>::max(), {}).unknown;
      if (!known || !filter.empty()) throw ApiError{404, "Run with ID " + run_id + " not found"};
    }
    stream_run(services, res, run_id, join_modes(req, run), /*ids=*/true, last_event_id(req), cancel,
               "/runs/" + run_id);
  });
}

}  // namespace lgs
