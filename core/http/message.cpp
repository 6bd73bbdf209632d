#include "http/message.hpp"

#include <strings.h>

#include <algorithm>

namespace lgs {

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  const int order = ::strncasecmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return order < 0 || (order == 0 && a.size() < b.size());
}

namespace {
std::string first_value(const Headers& headers, std::string_view name) {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}
}  // namespace

bool HttpRequest::has_header(std::string_view name) const { return headers.find(name) != headers.end(); }

std::string HttpRequest::get_header_value(std::string_view name) const { return first_value(headers, name); }

std::string HttpRequest::get_param_value(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string HttpResponse::get_header_value(std::string_view name) const { return first_value(headers, name); }

void HttpResponse::set_content(std::string content, std::string content_type) {
  body = std::move(content);
  headers.erase("Content-Type");
  set_header("Content-Type", std::move(content_type));
}

void HttpResponse::set_stream(std::string content_type, StreamBody body_producer) {
  body.clear();
  stream = std::move(body_producer);
  headers.erase("Content-Type");
  set_header("Content-Type", std::move(content_type));
}

}  // namespace lgs
