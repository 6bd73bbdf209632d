// The host side of lg_sink: collects what a plugin call wrote, copied into C++ values.
#pragma once

#include <langgraph/abi.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lgs {

class HostSink {
 public:
  HostSink() {
    sink_.struct_size = sizeof(lg_sink);
    sink_.host = this;
    sink_.set_json = [](void* host, lg_str key, lg_str json) {
      static_cast<HostSink*>(host)->json_[std::string(view(key))] = std::string(view(json));
    };
    sink_.set_http_error = [](void* host, int32_t status, lg_str detail) {
      static_cast<HostSink*>(host)->http_error_ = HttpError{status, std::string(view(detail))};
    };
    sink_.add_header = [](void* host, lg_str name, lg_str value) {
      static_cast<HostSink*>(host)->headers_.emplace_back(std::string(view(name)), std::string(view(value)));
    };
    sink_.set_failure = [](void* host, lg_str message) {
      static_cast<HostSink*>(host)->failure_ = std::string(view(message));
    };
    sink_.emit_custom = [](void* host, lg_str json) {
      auto* self = static_cast<HostSink*>(host);
      if (self->on_custom_) self->on_custom_(view(json));
    };
    sink_.store = [](void* host, lg_str op, lg_str request, lg_sink* reply) -> int32_t {
      auto* self = static_cast<HostSink*>(host);
      if (!self->on_store_ || !reply) return LG_FAILED;
      try {
        const std::string result = self->on_store_(view(op), view(request));
        reply->set_json(reply->host, str("result"), str(result));
        return LG_OK;
      } catch (const std::exception& e) {  // a bad request from the plugin: the node sees a failed call, and why
        if (reply->set_failure) reply->set_failure(reply->host, str(e.what()));
        return LG_FAILED;
      } catch (...) {
        return LG_FAILED;
      }
    };
  }
  // Where custom stream events of a node call go (ignored when unset).
  void on_custom(std::function<void(std::string_view)> callback) { on_custom_ = std::move(callback); }
  // What answers a node's store calls: (op, request) -> result; unset: the call fails.
  using StoreHandler = std::function<std::string(std::string_view op, std::string_view request)>;
  void on_store(StoreHandler handler) { on_store_ = std::move(handler); }
  HostSink(const HostSink&) = delete;
  HostSink& operator=(const HostSink&) = delete;

  struct HttpError {
    int status;
    std::string detail;
  };

  lg_sink* get() { return &sink_; }
  // The JSON text written under `key`, if any.
  const std::string* json(const std::string& key) const {
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &it->second;
  }
  const std::optional<HttpError>& http_error() const { return http_error_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }
  const std::string& failure() const { return failure_; }

  static lg_str str(std::string_view s) { return lg_str{s.data(), s.size()}; }
  static std::string_view view(lg_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }

 private:
  lg_sink sink_{};
  std::map<std::string, std::string> json_;
  std::optional<HttpError> http_error_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string failure_;
  std::function<void(std::string_view)> on_custom_;
  StoreHandler on_store_;
};

}  // namespace lgs
