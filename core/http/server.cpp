#include "http/server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>

#include <fmt/format.h>

#include "config/startup_error.hpp"
#include "http/responses.hpp"
#include "storage/storage.hpp"
#include "util/log.hpp"

namespace lgs {

// cpp-httplib's server with the listen backlog raised: the packaged library hard-codes 5,
// which drops connections under any burst. Linux accepts a second listen() to resize it.
class HttpServer::Listener : public httplib::Server {
 public:
  bool raise_backlog(int backlog) { return ::listen(svr_sock_.load(), backlog) == 0; }
};

namespace {

// Authentication runs before cpp-httplib reads the body; the route and the decision it found
// are handed to the handler through this slot. Both run on the same worker thread, one request
// at a time, so the slot belongs to the request being served.
struct PendingRequest {
  const httplib::Request* request = nullptr;
  RouteMatch match;
  GateDecision decision;
};
thread_local PendingRequest t_pending;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, const Router& router, const Authenticator& authenticator,
                       CorsConfig cors)
    : options_(std::move(options)), router_(router), authenticator_(authenticator), cors_(std::move(cors)),
      listener_(std::make_unique<Listener>()) {
  auto& svr = *listener_;
  const int threads = options_.http_threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_keep_alive_max_count(1000);
  svr.set_keep_alive_timeout(5);
  svr.set_read_timeout(30);
  svr.set_write_timeout(30);
  svr.set_payload_max_length(options_.max_body_bytes);
  svr.set_tcp_nodelay(true);
  // The default exception handler puts e.what() in a response header: never use it.
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      log::error("unhandled error on {} {}: {}", req.method, req.path, e.what());
    } catch (...) {
      log::error("unhandled error on {} {}", req.method, req.path);
    }
    res.headers.clear();
    send_error(res, 500, "Internal server error");
  });
  // Errors cpp-httplib raises itself (413, 400 on a malformed request...) get a JSON body too.
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) send_error(res, res.status, "");
  });
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return before_routing(req, res);
  });
  // Requests with a body reach a content-reader handler with the body still unread, so it is
  // read only once the request is authenticated and is drained, not stored, when it is not.
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { dispatch(req, res, nullptr); };
  auto reader_handler = [this](const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& reader) { dispatch(req, res, &reader); };
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Post(".*", reader_handler);
  svr.Put(".*", handler);
  svr.Put(".*", reader_handler);
  svr.Patch(".*", handler);
  svr.Patch(".*", reader_handler);
  svr.Delete(".*", handler);
  svr.Delete(".*", reader_handler);
}

HttpServer::~HttpServer() = default;

void HttpServer::bind() {
  if (!listener_->bind_to_port(options_.host, options_.port))
    throw StartupError(fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, std::strerror(errno)));
  if (!listener_->raise_backlog(options_.listen_backlog))
    log::warn("could not raise the listen backlog to {}", options_.listen_backlog);
  port_ = options_.port;
}

void HttpServer::serve() { listener_->listen_after_bind(); }

void HttpServer::stop() {
  listener_->stop();
  close_idle_connections();
}

// cpp-httplib notices a stop only between requests: a worker waiting on an idle keep-alive
// connection would hold shutdown for the whole keep-alive timeout. Shutting down the reading
// side of every accepted connection ends those waits at once, while a response being written
// still goes out.
void HttpServer::close_idle_connections() const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const int fd = std::atoi(entry.path().filename().c_str());
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    int port = -1;
    if (address.ss_family == AF_INET) port = ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    if (address.ss_family == AF_INET6) port = ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    int listening = 0;
    socklen_t size = sizeof(listening);
    if (port != port_ || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || listening) continue;
    ::shutdown(fd, SHUT_RD);
  }
}

void HttpServer::apply_cors(const httplib::Request& req, httplib::Response& res) const {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return;
  const bool any = std::find(cors_.allow_origins.begin(), cors_.allow_origins.end(), "*") != cors_.allow_origins.end();
  const bool listed = std::find(cors_.allow_origins.begin(), cors_.allow_origins.end(), origin) != cors_.allow_origins.end();
  if (!any && !listed) return;
  // With credentials, browsers reject "*": name the origin instead.
  res.set_header("Access-Control-Allow-Origin", any && !cors_.allow_credentials ? "*" : origin);
  if (!any || cors_.allow_credentials) res.set_header("Vary", "Origin");
  if (cors_.allow_credentials) res.set_header("Access-Control-Allow-Credentials", "true");
  res.set_header("Access-Control-Expose-Headers", join(cors_.expose_headers));
}

httplib::Server::HandlerResponse HttpServer::before_routing(const httplib::Request& req, httplib::Response& res) {
  using R = httplib::Server::HandlerResponse;
  t_pending = PendingRequest{&req, router_.match(req.method, req.path), GateDecision{}};
  apply_cors(req, res);

  if (req.method == "OPTIONS") {  // CORS preflight: answered without authentication
    if (res.has_header("Access-Control-Allow-Origin")) {
      auto allowed = [](const std::vector<std::string>& list, const std::string& requested) {
        return std::find(list.begin(), list.end(), "*") != list.end() ? requested : join(list);
      };
      res.set_header("Access-Control-Allow-Methods",
                     allowed(cors_.allow_methods, req.get_header_value("Access-Control-Request-Method")));
      res.set_header("Access-Control-Allow-Headers",
                     allowed(cors_.allow_headers, req.get_header_value("Access-Control-Request-Headers")));
      res.set_header("Access-Control-Max-Age", std::to_string(cors_.max_age));
    }
    res.status = 204;
    return R::Handled;
  }
  const Route* route = t_pending.match.route;
  if (route && route->access == Access::open) {
    t_pending.decision.kind = AuthDecision::Kind::allowed;
  } else {
    t_pending.decision = authenticator_.authenticate(req, t_pending.match.params);
  }
  // Even a rejection goes on to the handler, which drains the unread body first: answering
  // here would leave it in the socket, to be parsed as the next keep-alive request.
  return R::Unhandled;
}

void HttpServer::dispatch(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader) {
  if (t_pending.request != &req) {  // cannot happen while cpp-httplib serves one request per thread
    log::error("request context lost for {} {}", req.method, req.path);
    send_error(res, 500, "Internal server error");
    return;
  }
  PendingRequest& pending = t_pending;
  const bool allowed = pending.decision.kind == AuthDecision::Kind::allowed;

  // The body: read when the request may proceed, otherwise discarded as it arrives. Bounded
  // either way, chunked uploads included (cpp-httplib bounds only Content-Length bodies).
  std::string body = reader ? std::string() : req.body;
  // A POST without Content-Length or Transfer-Encoding has no body (reading one would wait
  // for the client to close the connection).
  if (reader && !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) reader = nullptr;
  if (reader) {
    bool too_large = false;
    const bool complete = (*reader)([&](const char* data, size_t length) {
      if (body.size() + length > options_.max_body_bytes) {
        too_large = true;
        return false;
      }
      if (allowed) body.append(data, length);
      return true;
    });
    if (too_large) {
      send_error(res, 413, "The request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes");
      res.set_header("Connection", "close");
      return;
    }
    if (!complete) {
      send_error(res, 400, "The request body could not be read");
      return;
    }
  }
  if (!allowed) {
    send_error(res, pending.decision.status, pending.decision.detail, pending.decision.headers);
    return;
  }
  const RouteMatch& match = pending.match;
  if (!match.route) {
    send_error(res, match.other_method ? 405 : 404, "");
    return;
  }
  const User* user = authenticator_.enabled() && match.route->access != Access::open ? pending.decision.user.get() : nullptr;
  try {
    ApiRequest api(req, body, match.params, user);
    match.route->handler(api, res);
  } catch (const ApiError& e) {
    send_error(res, e.status, e.detail, e.headers);
  } catch (const StorageUnavailable& e) {  // the database is down or restarting: worth a retry
    log::warn("{} {}: {}", req.method, req.path, e.what());
    send_error(res, 503, "The database is unavailable; retry shortly", {{"Retry-After", "1"}});
  } catch (const std::exception& e) {
    log::error("{} {} failed: {}", req.method, req.path, e.what());
    send_error(res, 500, "Internal server error");
  }
}

}  // namespace lgs
