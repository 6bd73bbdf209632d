// HTTP requests and responses as handlers see them, apart from how they travel (http/server.cpp).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace lgs {

// Header names compare without case (RFC 9110); repeated headers keep their arrival order.
struct CaseInsensitiveLess {
  using is_transparent = void;  // lookups by string_view
  bool operator()(std::string_view a, std::string_view b) const;
};
using Headers = std::multimap<std::string, std::string, CaseInsensitiveLess>;
using QueryParams = std::multimap<std::string, std::string>;

struct HttpRequest {
  std::string method;
  std::string path;  // percent-decoded, without the query
  Headers headers;
  QueryParams params;  // the query, percent-decoded
  std::string remote_addr;

  bool has_header(std::string_view name) const;
  // The first value of `name`; "" when absent.
  std::string get_header_value(std::string_view name) const;
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string get_param_value(const std::string& name) const;
};

// Writes one piece of a streamed body at once; false when the client is gone.
using ChunkWriter = std::function<bool(std::string_view text)>;
// Produces a streamed body on the connection's thread after the handler returned, writing
// pieces as they come; returns true when the body is complete, false to drop the connection.
using StreamBody = std::function<bool(const ChunkWriter& write)>;

struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;
  StreamBody stream;  // when set, sent chunked instead of `body`

  void set_header(std::string name, std::string value) { headers.emplace(std::move(name), std::move(value)); }
  bool has_header(std::string_view name) const { return headers.find(name) != headers.end(); }
  std::string get_header_value(std::string_view name) const;
  void set_content(std::string content, std::string content_type);
  void set_stream(std::string content_type, StreamBody body);
};

}  // namespace lgs
