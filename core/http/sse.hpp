// Server-Sent Events: the frames and a response that streams them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace lgs::sse {

// "event: <name>\ndata: <data>\n[id: <id>\n]\n". `data` is one line of JSON; should it hold line
// breaks, each line becomes a data: line of its own, which clients join back with "\n".
std::string frame(std::string_view event, std::string_view data, std::optional<int64_t> id = std::nullopt);
// A comment frame: clients ignore it; it keeps idle timers and proxies from closing the stream and
// shows whether the client is still there.
std::string_view keepalive();

// What the stream sends next.
struct Chunk {
  std::string text;    // frames to write; may be empty
  bool ended = false;  // nothing comes after `text`
};
// Called again and again while the client stays; waits at most `wait` for something to send.
// It runs on the connection's thread after the handler returned, so it must own what it uses.
using Source = std::function<Chunk(std::chrono::milliseconds wait)>;

struct Options {
  std::string content_location;              // no header when empty
  std::chrono::milliseconds wait{1000};      // longest Source call
  std::chrono::milliseconds keepalive{1000};  // silence after which a keep-alive goes out
  // The client left (or the stream failed) before the end. Called once, on the connection's
  // thread; must not block.
  std::function<void()> on_disconnect;
};

// Answers with the stream: 200, Content-Type "text/event-stream", no caching, no proxy
// buffering. Call it last in the handler.
void serve(HttpResponse& res, Source source, Options options);

}  // namespace lgs::sse
