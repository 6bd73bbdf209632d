#include "http/sse.hpp"

#include <atomic>
#include <memory>

#include "util/log.hpp"

namespace lgs::sse {

std::string frame(std::string_view event, std::string_view data, std::optional<int64_t> id) {
  std::string out;
  out.reserve(event.size() + data.size() + 32);
  out.append("event: ").append(event).append("\n");
  // Every line of data gets its own "data:" line: a bare line break would end the field.
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    out.append("data: ").append(data.substr(start, end == std::string_view::npos ? end : end - start)).append("\n");
    if (end == std::string_view::npos) break;
    start = end + (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n' ? 2 : 1);
  }
  if (id) out.append("id: ").append(std::to_string(*id)).append("\n");
  out.append("\n");
  return out;
}

std::string_view keepalive() { return ": keepalive\n\n"; }

namespace {

// Shared by the provider and the releaser, which both outlive the handler.
struct State {
  Source source;
  Options options;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
  bool ended = false;
  std::atomic<bool> notified{false};

  void disconnected() {
    if (ended || notified.exchange(true) || !options.on_disconnect) return;
    try {
      options.on_disconnect();
    } catch (const std::exception& e) {
      log::error("stream disconnect handler failed: {}", e.what());
    } catch (...) {
      log::error("stream disconnect handler failed");
    }
  }
};

}  // namespace

void serve(httplib::Response& res, Source source, Options options) {
  auto state = std::make_shared<State>();
  state->source = std::move(source);
  state->options = std::move(options);
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  if (!state->options.content_location.empty()) res.set_header("Content-Location", state->options.content_location);

  // An exception escaping either callback would terminate the process.
  auto provider = [state](size_t, httplib::DataSink& sink) -> bool {
    try {
      if (state->ended) return false;  // done() already sent; not called again in practice
      if (!sink.is_writable()) return false;
      Chunk chunk = state->source(state->options.wait);
      // An empty write would end cpp-httplib's loop without the final chunk: never write "".
      if (!chunk.text.empty()) {
        if (!sink.write(chunk.text.data(), chunk.text.size())) return false;
        state->last_write = std::chrono::steady_clock::now();
      }
      if (chunk.ended) {
        state->ended = true;
        sink.done();
        return true;
      }
      if (std::chrono::steady_clock::now() - state->last_write >= state->options.keepalive) {
        const auto ping = keepalive();
        if (!sink.write(ping.data(), ping.size())) return false;
        state->last_write = std::chrono::steady_clock::now();
      }
      return true;
    } catch (const std::exception& e) {
      log::error("event stream failed: {}", e.what());
    } catch (...) {
      log::error("event stream failed");
    }
    return false;
  };
  // Called when the response is over, whatever happened: false when it did not finish.
  auto releaser = [state](bool success) {
    if (!success) state->disconnected();
  };
  res.set_chunked_content_provider("text/event-stream", std::move(provider), std::move(releaser));
}

}  // namespace lgs::sse
