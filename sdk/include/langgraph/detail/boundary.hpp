// What every SDK trampoline shares: string conversion across the ABI and the exception barrier.
// Not for plugin authors; <langgraph/auth.hpp> and <langgraph/graph.hpp> use it.
#pragma once

#include <langgraph/abi.h>

#include <cstdint>
#include <cstdlib>
#include <cxxabi.h>
#include <typeinfo>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#define LANGGRAPH_PLUGIN_API extern "C" __attribute__((visibility("default")))

namespace langgraph {

using json = nlohmann::json;

// Raised by a handler to answer with an HTTP error, as LangGraph's Auth.exceptions.HTTPException.
// An empty detail becomes the status's reason phrase ("Unauthorized" for 401).
class HttpException : public std::exception {
 public:
  explicit HttpException(int status = 401, std::string detail = {},
                         std::map<std::string, std::string> headers = {})
      : status_(status), detail_(std::move(detail)), headers_(std::move(headers)) {
    what_ = std::to_string(status_) + ": " + detail_;
  }
  int status() const noexcept { return status_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::map<std::string, std::string>& headers() const noexcept { return headers_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  int status_;
  std::string detail_;
  std::map<std::string, std::string> headers_;
  std::string what_;
};

namespace detail {

inline lg_str to_lg(std::string_view s) noexcept { return lg_str{s.data(), s.size()}; }
inline std::string_view from_lg(lg_str s) noexcept {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}

inline void set_json(lg_sink* sink, std::string_view key, const json& value) {
  const std::string text = value.dump();
  sink->set_json(sink->host, to_lg(key), to_lg(text));
}

// Runs `body` and turns every exception into a return code: nothing crosses the C boundary.
// HttpException → LG_DENIED with status, detail and headers; anything else → LG_FAILED.
template <typename Body>
int32_t guarded(lg_sink* sink, Body&& body) noexcept {
  try {
    body();
    return LG_OK;
  } catch (const HttpException& e) {
    try {
      for (const auto& [name, value] : e.headers())
        sink->add_header(sink->host, to_lg(name), to_lg(value));
      sink->set_http_error(sink->host, e.status(), to_lg(e.detail()));
      return LG_DENIED;
    } catch (...) {
      return LG_FAILED;
    }
  } catch (const std::exception& e) {
    try {  // the exception's type names the error, as LangGraph reports a Python class name
      int status = 0;
      char* name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
      set_json(sink, "error_type", status == 0 && name ? name : typeid(e).name());
      std::free(name);
    } catch (...) {
    }
    sink->set_failure(sink->host, to_lg(e.what()));
  } catch (...) {
    sink->set_failure(sink->host, to_lg("unknown exception"));
  }
  return LG_FAILED;
}

// Calls a plugin's factory with its configuration when it takes one, without otherwise.
template <auto Factory>
auto call_factory(const json& config) {
  if constexpr (std::is_invocable_v<decltype(Factory), const json&>)
    return Factory(config);
  else
    return Factory();
}

// create() shared by every plugin kind: builds the object the factory returns on the heap.
template <typename Object, auto Factory>
void* create_instance(lg_str config_json, lg_sink* err) noexcept {
  Object* instance = nullptr;
  const int32_t rc = guarded(err, [&] {
    const std::string_view text = from_lg(config_json);
    const json config = text.empty() ? json::object() : json::parse(text);
    instance = new Object(call_factory<Factory>(config));
  });
  return rc == LG_OK ? instance : nullptr;
}

template <typename Object>
void destroy_instance(void* instance) noexcept {
  delete static_cast<Object*>(instance);
}

}  // namespace detail
}  // namespace langgraph
