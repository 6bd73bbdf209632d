#include "http/sse.hpp"

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

// Tells the stream's owner once that the client left before the end. Must not throw out of the
// connection's thread.
void disconnected(const Options& options) {
  if (!options.on_disconnect) return;
  try {
    options.on_disconnect();
  } catch (const std::exception& e) {
    log::error("stream disconnect handler failed: {}", e.what());
  } catch (...) {
    log::error("stream disconnect handler failed");
  }
}

}  // namespace

void serve(HttpResponse& res, Source source, Options options) {
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  if (!options.content_location.empty()) res.set_header("Content-Location", options.content_location);

  res.set_stream("text/event-stream", [source = std::move(source), options = std::move(options)](const ChunkWriter& write) {
    try {
      auto last_write = std::chrono::steady_clock::now();
      while (true) {
        Chunk chunk = source(options.wait);
        if (!chunk.text.empty()) {
          if (!write(chunk.text)) break;
          last_write = std::chrono::steady_clock::now();
        }
        if (chunk.ended) return true;
        if (std::chrono::steady_clock::now() - last_write >= options.keepalive) {
          if (!write(keepalive())) break;
          last_write = std::chrono::steady_clock::now();
        }
      }
    } catch (const std::exception& e) {
      log::error("event stream failed: {}", e.what());
    } catch (...) {
      log::error("event stream failed");
    }
    disconnected(options);
    return false;
  });
}

}  // namespace lgs::sse
