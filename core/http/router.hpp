// Method + path-template routing ("/threads/{thread_id}/runs/{run_id}"), independent of the
// HTTP library: the server matches once, before authentication, so the auth plugin sees the
// path parameters and public routes skip it.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/user.hpp"
#include "http/message.hpp"

namespace lgs {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// One API request as handlers see it.
class ApiRequest {
 public:
  ApiRequest(const HttpRequest& http, const std::string& body, const Pairs& params, const User* user)
      : http_(http), body_text_(body), params_(params), user_(user) {}

  const HttpRequest& http() const { return http_; }
  // The authenticated user; null when the server runs without an auth plugin.
  const User* user() const { return user_; }
  const std::string& param(std::string_view name) const;
  // A path parameter that must be a UUID; 422 otherwise. Returns its canonical form.
  std::string uuid_param(std::string_view name) const;
  // The body as a JSON object (an empty body is {}); 422 when it is not one.
  const json& body() const;
  // The body as received.
  const std::string& body_text() const { return body_text_; }
  const Pairs& params() const { return params_; }
  // A query parameter, if present.
  std::optional<std::string> query(const std::string& name) const;
  // Every value of a query parameter given several times (?select=a&select=b), in order.
  std::vector<std::string> query_all(const std::string& name) const;
  // An integer query parameter from min to max, `fallback` when absent; 422 otherwise.
  int query_int(const std::string& name, int fallback, int min, int max) const;
  // A query parameter that must be one of `allowed`, if present; 422 otherwise.
  std::optional<std::string> query_choice(const std::string& name, std::initializer_list<std::string_view> allowed) const;

 private:
  const HttpRequest& http_;
  const std::string& body_text_;
  const Pairs& params_;
  const User* user_;
  mutable std::optional<json> body_;
};

// A request body's JSON document, of any type; 422 when it is not valid JSON or nests deeper than
// kMaxJsonDepth arrays and objects.
json parse_request_json(std::string_view text);
inline constexpr int kMaxJsonDepth = 512;

using Handler = std::function<void(const ApiRequest&, HttpResponse&)>;

enum class Access { authenticated, open };

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // "{name}" segments capture
  Access access;
  Handler handler;
};

struct RouteMatch {
  const Route* route = nullptr;
  Pairs params;
  bool other_method = false;  // the path exists for another method (405)
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler, Access access = Access::authenticated);
  RouteMatch match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace lgs
