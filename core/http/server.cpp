#include "http/server.hpp"

#include <sys/socket.h>

#include <fmt/format.h>

#include "config/startup_error.hpp"
#include "http/responses.hpp"
#include "util/log.hpp"

namespace lgs {

// cpp-httplib's server with the listen backlog raised: the packaged library hard-codes 5,
// which drops connections under any burst. Linux accepts a second listen() to resize it.
class HttpServer::Listener : public httplib::Server {
 public:
  bool raise_backlog(int backlog) { return ::listen(svr_sock_.load(), backlog) == 0; }
};

namespace {

// Authentication runs before cpp-httplib reads the body; the route and the user it found are
// handed to the handler through this slot. Both run on the same worker thread, one request
// at a time, so the slot belongs to the request being served.
struct PendingRequest {
  const httplib::Request* request = nullptr;
  RouteMatch match;
  std::optional<User> user;
};
thread_local PendingRequest t_pending;

bool has_unread_body(const httplib::Request& req) {
  const std::string length = req.get_header_value("Content-Length");
  return !length.empty() && length != "0";
}

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
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { dispatch(req, res); };
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Put(".*", handler);
  svr.Patch(".*", handler);
  svr.Delete(".*", handler);
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

void HttpServer::stop() { listener_->stop(); }

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
  t_pending = PendingRequest{&req, router_.match(req.method, req.path), std::nullopt};
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
  if (route && route->access == Access::open) return R::Unhandled;

  // Past this point cpp-httplib has not read the body. A rejection must close the connection,
  // or the unread body would be parsed as the next request.
  auto reject = [&](int status, const std::string& detail, const Pairs& headers) {
    send_error(res, status, detail, headers);
    if (has_unread_body(req) || req.has_header("Transfer-Encoding")) res.set_header("Connection", "close");
    return R::Handled;
  };
  // cpp-httplib does not bound chunked uploads; LangGraph's clients always send a length.
  if (req.has_header("Transfer-Encoding"))
    return reject(411, "Chunked request bodies are not accepted; send Content-Length", {});

  AuthDecision decision = authenticator_.authenticate(req, t_pending.match.params);
  if (decision.kind != AuthDecision::Kind::allowed) return reject(decision.status, decision.detail, decision.headers);
  if (authenticator_.enabled()) t_pending.user = std::move(decision.user);
  return R::Unhandled;
}

void HttpServer::dispatch(const httplib::Request& req, httplib::Response& res) {
  if (t_pending.request != &req) {  // cannot happen while cpp-httplib serves one request per thread
    log::error("request context lost for {} {}", req.method, req.path);
    send_error(res, 500, "Internal server error");
    return;
  }
  const RouteMatch& match = t_pending.match;
  if (!match.route) {
    send_error(res, match.other_method ? 405 : 404, "");
    return;
  }
  const User* user = t_pending.user ? &*t_pending.user : nullptr;
  try {
    ApiRequest api(req, match.params, user);
    match.route->handler(api, res);
  } catch (const ApiError& e) {
    send_error(res, e.status, e.detail);
  } catch (const std::exception& e) {
    log::error("{} {} failed: {}", req.method, req.path, e.what());
    send_error(res, 500, "Internal server error");
  }
}

}  // namespace lgs
