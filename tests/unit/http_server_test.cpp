// The HTTP listener over real loopback sockets: timeouts a client can only meet by being slow.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "http/responses.hpp"
#include "http/server.hpp"

using namespace lgs;
using namespace std::chrono_literals;

namespace {

// A server with two workers, short timeouts (1 s idle, 2 s I/O) and open routes GET /ok and
// GET /slow, serving while it lives.
struct TestServer {
  Router router;
  Authenticator no_auth{nullptr};
  std::unique_ptr<HttpServer> server;
  std::thread serving;

  TestServer() {
    router.add("GET", "/ok", [](const ApiRequest&, HttpResponse& res) { send_json(res, 200, {{"ok", true}}); },
               Access::open);
    // Holds its worker 3 s, longer than the I/O timeout.
    router.add("GET", "/slow",
               [](const ApiRequest&, HttpResponse& res) {
                 std::this_thread::sleep_for(3s);
                 send_json(res, 200, {{"slow", true}});
               },
               Access::open);
    ServerOptions options;
    options.port = 0;
    options.http_threads = 2;
    options.keep_alive_seconds = 1;
    options.io_timeout_seconds = 2;
    server = std::make_unique<HttpServer>(options, router, no_auth, CorsConfig{});
    server->bind();
    serving = std::thread([this] { server->serve(); });
  }
  ~TestServer() {
    server->stop();
    serving.join();
  }
};

// A client socket connected to the server.
struct Client {
  int fd = -1;
  explicit Client(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  }
  ~Client() { ::close(fd); }
  bool send(const std::string& text) { return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == ssize_t(text.size()); }
  // Whether the server has closed its side (all it sent is kept in `received`).
  bool closed_by_server() {
    char buffer[4096];
    while (true) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        received.append(buffer, static_cast<size_t>(n));
        continue;
      }
      return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
  }
  std::string received;
};

}  // namespace

TEST_SUITE("http.server") {
  TEST_CASE("a request head trickling in is dropped once the I/O timeout has passed since it began") {
    TestServer server;
    Client client(server.server->port());
    REQUIRE(client.send("GET /ok HTTP/1.1\r\nHost: test\r\n"));
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    // One header line every 300 ms, each read well within the timeout, for up to 6 s.
    while (!closed && std::chrono::steady_clock::now() - start < 6s) {
      std::this_thread::sleep_for(300ms);
      closed = !client.send("X-Slow: 1\r\n") || client.closed_by_server();
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(closed);
    CHECK(waited < 4s);  // 2 s, plus at most one 1 s wait on the socket
    CHECK(client.received.empty());
  }

  TEST_CASE("a slow head that completes within the I/O timeout is answered") {
    TestServer server;
    Client client(server.server->port());
    REQUIRE(client.send("GET /ok HTTP/1.1\r\nHost: test\r\n"));
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(300ms);
      REQUIRE(client.send("X-Slow: 1\r\n"));
    }
    REQUIRE(client.send("\r\n"));
    for (int i = 0; i < 50 && client.received.find("{\"ok\":true}") == std::string::npos; ++i) {
      std::this_thread::sleep_for(20ms);
      client.closed_by_server();
    }
    CHECK(client.received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(client.received.find("{\"ok\":true}") != std::string::npos);
  }

  TEST_CASE("an idle connection is closed after the keep-alive timeout, not the I/O timeout") {
    TestServer server;
    Client client(server.server->port());
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() - start < 4s) {
      std::this_thread::sleep_for(50ms);
      closed = client.closed_by_server();
    }
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - start < 1800ms);
  }

  TEST_CASE("a connection no worker takes within the I/O timeout is answered 503; the server serves on") {
    TestServer server;
    const int port = server.server->port();
    Client slow_a(port), slow_b(port);  // both workers busy for 3 s
    REQUIRE(slow_a.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n"));
    REQUIRE(slow_b.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n"));
    std::this_thread::sleep_for(200ms);
    Client waiting(port);
    REQUIRE(waiting.send("GET /ok HTTP/1.1\r\nHost: test\r\n\r\n"));
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() - start < 5s) {
      std::this_thread::sleep_for(50ms);
      closed = waiting.closed_by_server();
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(closed);
    CHECK(waited > 1500ms);  // it waited the 2 s I/O timeout for a worker, no more
    CHECK(waited < 2700ms);
    CHECK(waiting.received.rfind("HTTP/1.1 503 ", 0) == 0);
    CHECK(waiting.received.find("Retry-After: 1\r\n") != std::string::npos);
    CHECK(waiting.received.find("{\"detail\":\"The server is busy") != std::string::npos);
    // The requests that held the workers are answered, and a new one is served again.
    for (Client* c : {&slow_a, &slow_b}) {
      for (int i = 0; i < 100 && c->received.find("{\"slow\":true}") == std::string::npos; ++i) {
        std::this_thread::sleep_for(50ms);
        c->closed_by_server();
      }
      CHECK(c->received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    }
    Client later(port);
    REQUIRE(later.send("GET /ok HTTP/1.1\r\nHost: test\r\n\r\n"));
    for (int i = 0; i < 50 && later.received.find("{\"ok\":true}") == std::string::npos; ++i) {
      std::this_thread::sleep_for(20ms);
      later.closed_by_server();
    }
    CHECK(later.received.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  }

  TEST_CASE("a refused request's connection closes within 2 s, however the client keeps sending") {
    TestServer server;
    Client client(server.server->port());
    // A head over the 64 KiB limit is answered 431; the server then reads what still comes, so
    // that the client gets the answer, but not for long.
    REQUIRE(client.send("GET /ok HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n"));
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() - start < 8s) {
      std::this_thread::sleep_for(300ms);
      closed = !client.send("x") || client.closed_by_server();
    }
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - start < 3500ms);
    CHECK(client.received.rfind("HTTP/1.1 431 ", 0) == 0);
  }
}
