#include <doctest/doctest.h>

#include <atomic>
#include <deque>
#include <thread>

#include <nlohmann/json.hpp>

#include <httplib.h>  // the client

#include "http/server.hpp"
#include "http/sse.hpp"

using namespace lgs;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Plays the part of the server's chunked writer: keeps what the stream writes, until the client
// "leaves" after `writable` writes.
struct FakeClient {
  std::string out;
  int writable = 1000;
  ChunkWriter writer() {
    return [this](std::string_view text) {
      if (writable-- <= 0) return false;
      out.append(text);
      return true;
    };
  }
  // What the stream body returned: true when it completed.
  bool run(const HttpResponse& res) {
    REQUIRE(res.stream);
    return res.stream(writer());
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
    HttpResponse res;
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
    FakeClient client;
    CHECK(client.run(res));
    CHECK(client.out == sse::frame("metadata", "{}", 0) + sse::frame("values", "{}", 1));
    CHECK_FALSE(disconnected);
  }

  TEST_CASE("serve sends a keep-alive after a silence") {
    HttpResponse res;
    sse::Options options;
    options.keepalive = 0ms;
    sse::serve(res, script({}), options);
    FakeClient client;
    client.writable = 2;
    CHECK_FALSE(client.run(res));
    CHECK(client.out == std::string(sse::keepalive()) + std::string(sse::keepalive()));
  }

  TEST_CASE("serve stops at a gone client and reports it once") {
    HttpResponse res;
    int disconnected = 0;
    sse::Options options;
    options.on_disconnect = [&] { ++disconnected; };
    sse::serve(res, script({{sse::frame("metadata", "{}"), false}, {sse::frame("values", "{}"), false}}), options);
    FakeClient client;
    client.writable = 1;
    CHECK_FALSE(client.run(res));
    CHECK(client.out == sse::frame("metadata", "{}"));
    CHECK(disconnected == 1);
  }

  TEST_CASE("serve ends the stream at an exception in the source instead of letting it escape") {
    HttpResponse res;
    bool disconnected = false;
    sse::Options options;
    options.on_disconnect = [&] { disconnected = true; };
    sse::serve(res, [](std::chrono::milliseconds) -> sse::Chunk { throw std::runtime_error("boom"); }, options);
    FakeClient client;
    CHECK_FALSE(client.run(res));
    CHECK(disconnected);
  }

  TEST_CASE("over HTTP the first event arrives at once, uncompressed, and a gone client is noticed") {
    Router router;
    std::atomic<bool> disconnected{false};
    std::atomic<bool> release{false};
    router.add("GET", "/stream", [&](const ApiRequest&, HttpResponse& res) {
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
    }, Access::open);
    const Authenticator no_auth(nullptr);
    ServerOptions server_options;
    server_options.port = 0;
    server_options.http_threads = 2;
    HttpServer server(server_options, router, no_auth, CorsConfig{});
    server.bind();
    const int port = server.port();
    REQUIRE(port > 0);
    std::thread listener([&] { server.serve(); });

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
