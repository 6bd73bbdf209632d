// auth.cache: what authenticate decided for a caller, remembered for a while so the plugin is
// not asked again on every request. A least-recently-used map bounded by max_size, each entry
// living ttl_seconds from its insertion, keyed by the values of the configured request headers.
// Only successful authentications are stored; a rejection or a failure is asked again next time.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <langgraph/abi.h>

#include "auth/user.hpp"
#include "config/config.hpp"

namespace lgs {

class AuthCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // `now` is for tests; the server uses the steady clock.
  explicit AuthCache(AuthCacheSettings settings, Now now = Clock::now);

  // The cache key of a request: the values of the configured headers it carries (`headers` has
  // lower-case names, in request order; a repeated header contributes every value). nullopt when
  // it carries none of them: such a request is never cached.
  std::optional<std::string> key_for(const lg_pair* headers, size_t count) const;
  std::optional<std::string> key_for(const std::vector<std::pair<std::string, std::string>>& headers) const;

  // The user stored under `key`, unless absent or expired (an expired entry is dropped): null then.
  std::shared_ptr<const User> get(const std::string& key);
  // Stores (or replaces) `key` with a fresh lifetime, evicting the least recently used entries
  // beyond max_size.
  void put(const std::string& key, std::shared_ptr<const User> user);

  size_t size() const;
  const AuthCacheSettings& settings() const { return settings_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const User> user;
    Clock::time_point expires;
  };

  AuthCacheSettings settings_;
  Clock::duration ttl_;
  Now now_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace lgs
