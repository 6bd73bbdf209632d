#include <doctest/doctest.h>

#include <atomic>
#include <deque>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/sse.hpp"

using namespace lgs;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Plays the part of cpp-httplib's chunked writer: calls the provider until it stops.
struct FakeSink {
  std::string out;
  bool done = false;
  bool writable = true;
  httplib::DataSink sink;

  FakeSink() {
    sink.write = [this](const char* data, size_t size) {
      if (!writable) return false;
      out.append(data, size);
      return true;
    };
    sink.is_writable = [this] { return writable; };
    sink.done = [this] { done = true; };
  }
  // Returns what the provider returned last.
  bool run(httplib::Response& res, int max_calls = 100) {
    bool ok = true;
    for (int i = 0; i < max_calls && ok && !done; ++i) ok = res.content_provider_(out.size(), 0, sink);
    return ok;
  }
};

sse::Source script(std::deque<sse::Chunk> chunks) {
  auto queue = std::make_shared<std::deque<sse::Chunk>>(std::move(chunks));
  return [queue](std::chrono::milliseconds) {
    if (queue->empty()) return sse::Chunk{};
    sse::Chunk c = queue->front();
    queue->pop_front();
    return c;
  };
}

}  // namespace

TEST_SUITE("http.sse") {
  TEST_CASE("an event frame has the event name and one data line and an id only when asked") {
    CHECK(sse::frame("values", R"({"a":1})") == "event: values\ndata: {\"a\":1}\n\n");
    CHECK(sse::frame("metadata", R"({"run_id":"r"})", 0) == "event: metadata\ndata: {\"run_id\":\"r\"}\nid: 0\n\n");
    CHECK(sse::frame("messages", "[]", 42) == "event: messages\ndata: []\nid: 42\n\n");
  }

  TEST_CASE("JSON with line breaks inside strings stays on one data line") {
    const std::string data = json{{"content", "line one\nline two\r\n"}}.dump();
    const std::string f = sse::frame("values", data, 3);
    CHECK(f == "event: values\ndata: {\"content\":\"line one\\nline two\\r\\n\"}\nid: 3\n\n");
    CHECK(std::count(f.begin(), f.end(), '\n') == 4);
  }

  TEST_CASE("raw line breaks in data become several data lines") {
    CHECK(sse::frame("e", "a\nb\r\nc\rd") == "event: e\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    CHECK(sse::frame("e", "") == "event: e\ndata: \n\n");
  }

  TEST_CASE("several modes in one stream keep their order and names") {
    std::string text = sse::frame("metadata", R"({"run_id":"r","attempt":1})", 0) +
                       sse::frame("values", R"({"messages":[]})", 1) + sse::frame("updates", R"({"agent":{}})", 2) +
                       sse::frame("messages", R"([{"type":"ai"},{}])", 3);
    CHECK(text.find("event: metadata") < text.find("event: values"));
    CHECK(text.find("event: values") < text.find("event: updates"));
    CHECK(text.find("event: updates") < text.find("event: messages"));
    CHECK(text.find("id: 3\n\n") == text.size() - 7);
  }

  TEST_CASE("the keep-alive is a comment frame") {
    const std::string k(sse::keepalive());
    CHECK(k.front() == ':');
    CHECK(k.size() > 2);
    CHECK(k.substr(k.size() - 2) == "\n\n");
  }

  TEST_CASE("serve sends the headers and the frames in order and then the end") {
    httplib::Response res;
    bool disconnected = false;
    sse::Options options;
    options.content_location = "/threads/t/runs/r";
    options.on_disconnect = [&] { disconnected = true; };
    sse::serve(res, script({{sse::frame("metadata", "{}", 0), false}, {"", false}, {sse::frame("values", "{}", 1), true}}),
               options);
    CHECK(res.status == 200);
    CHECK(res.get_header_value("Content-Type") == "text/event-stream");
    CHECK(res.get_header_value("Cache-Control") == "no-cache");
    CHECK(res.get_header_value("X-Accel-Buffering") == "no");
    CHECK(res.get_header_value("Content-Location") == "/threads/t/runs/r");
    FakeSink sink;
    CHECK(sink.run(res));
    CHECK(sink.done);
    CHECK(sink.out == sse::frame("metadata", "{}", 0) + sse::frame("values", "{}", 1));
    res.content_provider_success_ = true;  // what cpp-httplib records after a complete stream
    res.content_provider_resource_releaser_(true);
    CHECK_FALSE(disconnected);
  }

  TEST_CASE("serve sends a keep-alive after a silence") {
    httplib::Response res;
    sse::Options options;
    options.keepalive = 0ms;
    sse::serve(res, script({}), options);
    FakeSink sink;
    CHECK(res.content_provider_(0, 0, sink.sink));
    CHECK(sink.out == std::string(sse::keepalive()));
  }

  TEST_CASE("serve stops at a gone client and reports it once") {
    httplib::Response res;
    int disconnected = 0;
    sse::Options options;
    options.on_disconnect = [&] { ++disconnected; };
    sse::serve(res, script({{sse::frame("metadata", "{}"), false}, {sse::frame("values", "{}"), false}}), options);
    FakeSink sink;
    CHECK(res.content_provider_(0, 0, sink.sink));
    sink.writable = false;
    CHECK_FALSE(res.content_provider_(0, 0, sink.sink));
    res.content_provider_resource_releaser_(false);
    res.content_provider_resource_releaser_(false);
    CHECK(disconnected == 1);
  }

  TEST_CASE("serve ends the stream at an exception in the source instead of letting it escape") {
    httplib::Response res;
    bool disconnected = false;
    sse::Options options;
    options.on_disconnect = [&] { disconnected = true; };
    sse::serve(res, [](std::chrono::milliseconds) -> sse::Chunk { throw std::runtime_error("boom"); }, options);
    FakeSink sink;
    CHECK_FALSE(res.content_provider_(0, 0, sink.sink));
    res.content_provider_resource_releaser_(false);
    CHECK(disconnected);
  }

  TEST_CASE("over HTTP the first event arrives at once even with gzip and a gone client is noticed") {
    httplib::Server server;
    std::atomic<bool> disconnected{false};
    std::atomic<bool> release{false};
    server.Get("/stream", [&](const httplib::Request&, httplib::Response& res) {
      auto sent = std::make_shared<bool>(false);
      sse::Options options;
      options.wait = 100ms;
      options.keepalive = 100ms;
      options.on_disconnect = [&] { disconnected = true; };
      sse::serve(res,
                 [sent, &release](std::chrono::milliseconds wait) {
                   if (!*sent) {
                     *sent = true;
                     return sse::Chunk{sse::frame("metadata", R"({"run_id":"r"})", 0), false};
                   }
                   std::this_thread::sleep_for(wait);
                   return sse::Chunk{"", release.load()};
                 },
                 options);
    });
    const int port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread listener([&] { server.listen_after_bind(); });

    httplib::Client client("127.0.0.1", port);
    client.set_decompress(false);
    std::string received;
    std::string content_type;
    std::string encoding;
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = std::chrono::steady_clock::duration::max();
    auto result = client.Get(
        "/stream", {{"Accept-Encoding", "gzip, deflate"}},
        [&](const httplib::Response& r) {
          content_type = r.get_header_value("Content-Type");
          encoding = r.get_header_value("Content-Encoding");
          return true;
        },
        [&](const char* data, size_t size) {
          received.append(data, size);
          if (received.find("\n\n") == std::string::npos) return true;
          elapsed = std::chrono::steady_clock::now() - start;
          return false;  // the client leaves after the first event
        });
    CHECK(content_type == "text/event-stream");
    CHECK(encoding.empty());
    CHECK(received.rfind("event: metadata\ndata: {\"run_id\":\"r\"}\nid: 0\n\n", 0) == 0);
    CHECK(elapsed < 1s);

    for (int i = 0; i < 100 && !disconnected; ++i) std::this_thread::sleep_for(50ms);
    CHECK(disconnected);
    release = true;
    server.stop();
    listener.join();
  }
}
