// The ceiling for tools/bench/authz.sh: a plain cpp-httplib server, configured like
// langgraph-server's listener (thread pool, keep-alive, TCP_NODELAY), answering the two benchmarked
// routes with fixed bodies of the same shape and size as the real server's. No routing table, no
// JSON, no storage, no auth: what cpp-httplib alone costs on this machine.
//
//   ceiling_server [--host 127.0.0.1] [--port 18400] [--http-threads 512]
#include <httplib.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

httplib::Server* g_server = nullptr;

// One thread as GET /threads/{id} returns it (about 250 bytes).
std::string thread_json(const std::string& id) {
  return R"({"config":{},"created_at":"2025-01-01T00:00:00.000000+00:00","error":null,"interrupts":{},)"
         R"("metadata":{"owner":"user1"},"status":"idle","thread_id":")" +
         id + R"(","updated_at":"2025-01-01T00:00:00.000000+00:00","values":null})";
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 18400;
  int threads = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--host")) host = argv[i + 1];
    else if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--http-threads")) threads = std::atoi(argv[i + 1]);
    else {
      std::cerr << "usage: ceiling_server [--host H] [--port P] [--http-threads N]\n";
      return 2;
    }
  }

  const std::string one = thread_json("6ac69ab7-1a4a-4af8-9557-617da95c3519");
  std::string page = "[";  // a search page of 10 threads, like POST /threads/search {"limit": 10}
  for (int i = 0; i < 10; ++i) page += (i ? "," : "") + one;
  page += "]";

  httplib::Server svr;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_keep_alive_max_count(1000);
  svr.set_keep_alive_timeout(5);
  svr.set_read_timeout(30);
  svr.set_write_timeout(30);
  svr.set_tcp_nodelay(true);

  svr.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"ok":true})", "application/json");
  });
  svr.Get(R"(/threads/([0-9a-fA-F-]+))", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(thread_json(req.matches[1]), "application/json");
  });
  svr.Post("/threads/search", [&page](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Pagination-Total", "1000");
    res.set_content(page, "application/json");
  });

  g_server = &svr;
  std::signal(SIGINT, [](int) { g_server->stop(); });
  std::signal(SIGTERM, [](int) { g_server->stop(); });
  if (!svr.listen(host, port)) {
    std::cerr << "ceiling_server: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  return 0;
}
