// The HTTP listener: cpp-httplib configured for many clients, with routing, authentication,
// CORS and JSON errors in front of every handler.
#pragma once

#include <memory>
#include <string>

#include "auth/authenticator.hpp"
#include "config/config.hpp"
#include "http/router.hpp"

namespace lgs {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 2024;
  int http_threads = 512;  // each open connection holds one while it lives (cpp-httplib design)
  int listen_backlog = 1024;
  size_t max_body_bytes = 64u << 20;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, const Router& router, const Authenticator& authenticator, CorsConfig cors);
  ~HttpServer();

  // Binds host:port; throws StartupError when it cannot.
  void bind();
  int port() const { return port_; }
  // Serves until stop() is called; returns after every connection's worker has finished.
  void serve();
  void stop();

 private:
  class Listener;
  httplib::Server::HandlerResponse before_routing(const httplib::Request& req, httplib::Response& res);
  void dispatch(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader);
  void apply_cors(const httplib::Request& req, httplib::Response& res) const;
  void close_idle_connections() const;

  ServerOptions options_;
  const Router& router_;
  const Authenticator& authenticator_;
  CorsConfig cors_;
  std::unique_ptr<Listener> listener_;
  int port_ = 0;
};

}  // namespace lgs
