// The HTTP listener: Boost.Beast parses and writes HTTP/1.1 on blocking sockets, one connection
// per worker thread at a time, with routing, authentication, CORS and JSON errors in front of
// every handler.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/authenticator.hpp"
#include "config/config.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace lgs {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 2024;
  int http_threads = 512;  // each open connection holds one while it lives
  int listen_backlog = 1024;
  size_t max_body_bytes = 64u << 20;
  int keep_alive_seconds = 5;  // an idle connection is closed after this long
  int io_timeout_seconds = 30;  // a request head not complete, or a read or write of a body stalled, this long: dropped;
                                // a connection no worker could take this long: answered 503
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, const Router& router, const Authenticator& authenticator, CorsConfig cors);
  ~HttpServer();

  // Binds host:port (0 picks a free port); throws StartupError when it cannot.
  void bind();
  int port() const { return port_; }
  // Serves until stop() is called; returns after every connection's worker has finished.
  void serve();
  void stop();

 private:
  class Connection;
  struct Accepted {
    int fd;
    std::string remote_addr;
    std::chrono::steady_clock::time_point since;
  };
  void work();
  int turn_away_overdue();
  void turn_away(int fd);
  void serve_connection(int fd, const std::string& remote_addr);
  void apply_cors(const HttpRequest& req, HttpResponse& res) const;
  void answer_preflight(const HttpRequest& req, HttpResponse& res) const;

  void dispatch(const HttpRequest& req, const RouteMatch& match, const GateDecision& decision, const std::string& body,
                HttpResponse& res) const;

  ServerOptions options_;
  const Router& router_;
  const Authenticator& authenticator_;
  CorsConfig cors_;
  int listen_fd_ = -1;
  int port_ = 0;

  std::mutex mutex_;
  std::condition_variable accepted_cv_;
  std::deque<Accepted> accepted_;  // waiting for a free worker
  std::set<int> open_;             // connections being served
  size_t idle_workers_ = 0;        // workers waiting for a connection
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  std::chrono::steady_clock::time_point busy_logged_{};  // when turning connections away was last logged
};

}  // namespace lgs
