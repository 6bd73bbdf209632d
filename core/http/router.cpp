#include "http/router.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "http/responses.hpp"
#include "util/ids.hpp"

namespace lgs {

namespace {
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}
}  // namespace

const std::string& ApiRequest::param(std::string_view name) const {
  for (const auto& [key, value] : params_)
    if (key == name) return value;
  static const std::string empty;
  return empty;
}

std::string ApiRequest::uuid_param(std::string_view name) const {
  auto id = canonical_uuid(param(name));
  if (!id) throw ApiError{422, std::string(name) + " must be a UUID, got \"" + param(name) + "\""};
  return *id;
}

// Checked before parsing, in one pass:
// - a raw NUL byte: nlohmann's parser takes it for the end of the input and would ignore what
//   follows (JSON text has none);
// - a NUL character in a string (\u0000): SQLite could store it, PostgreSQL cannot (jsonb
//   refuses it, text cuts the value short there), so every database refuses it alike;
// - the depth: nlohmann's copies, comparisons and dumps recurse once per level, so a document
//   deep enough overflows a worker's stack. No client needs kMaxJsonDepth levels (LangGraph's
//   server, through orjson, stops at 1024; SQLite's JSON functions at 2000).
json parse_request_json(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\0') throw ApiError{422, "The request body is not valid JSON"};
    if (in_string) {
      if (c == '\\' && text.substr(i + 1, 5) == "u0000")
        throw ApiError{422, "Strings in the request body may not contain the NUL character (\\u0000)"};
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw ApiError{422, "The request body nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) +
                                " levels"};
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) throw ApiError{422, "The request body is not valid JSON"};
  return parsed;
}

const json& ApiRequest::body() const {
  if (!body_) {
    if (body_text_.empty()) {
      body_ = json::object();
    } else {
      json parsed = parse_request_json(body_text_);
      if (!parsed.is_object()) throw ApiError{422, "The request body must be a JSON object"};
      body_ = std::move(parsed);
    }
  }
  return *body_;
}

std::optional<std::string> ApiRequest::query(const std::string& name) const {
  if (!http_.has_param(name)) return std::nullopt;
  return http_.get_param_value(name);
}

std::vector<std::string> ApiRequest::query_all(const std::string& name) const {
  std::vector<std::string> values;
  const auto [first, last] = http_.params.equal_range(name);
  for (auto it = first; it != last; ++it) values.push_back(it->second);
  return values;
}

int ApiRequest::query_int(const std::string& name, int fallback, int min, int max) const {
  const auto text = query(name);
  if (!text) return fallback;
  int n = 0;
  const char* end = text->data() + text->size();
  const auto [stop, error] = std::from_chars(text->data(), end, n);
  if (text->empty() || error != std::errc() || stop != end || n < min || n > max)
    throw ApiError{422, fmt::format("\"{}\" must be an integer from {} to {}, got \"{}\"", name, min, max, *text)};
  return n;
}

std::optional<std::string> ApiRequest::query_choice(const std::string& name,
                                                    std::initializer_list<std::string_view> allowed) const {
  auto text = query(name);
  if (text && std::find(allowed.begin(), allowed.end(), *text) == allowed.end()) {
    std::string names;
    for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
    throw ApiError{422, fmt::format("\"{}\" must be one of {}, got \"{}\"", name, names, *text)};
  }
  return text;
}

void Router::add(std::string method, std::string pattern, Handler handler, Access access) {
  Route route{std::move(method), pattern, {}, access, std::move(handler)};
  for (auto part : split_path(pattern)) route.segments.emplace_back(part);
  routes_.push_back(std::move(route));
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  const auto parts = split_path(path);
  RouteMatch result;
  for (const auto& route : routes_) {
    if (route.segments.size() != parts.size()) continue;
    Pairs params;
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      const std::string& seg = route.segments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}')
        params.emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));  // the server decoded the path
      else
        ok = seg == parts[i];
    }
    if (!ok) continue;
    if (route.method != method) {
      result.other_method = true;
      continue;
    }
    result.route = &route;
    result.params = std::move(params);
    return result;
  }
  return result;
}

}  // namespace lgs
