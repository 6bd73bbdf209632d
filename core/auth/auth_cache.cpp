#include "auth/auth_cache.hpp"

#include <algorithm>
#include <string_view>

namespace lgs {

AuthCache::AuthCache(AuthCacheSettings settings, Now now)
    : settings_(std::move(settings)),
      ttl_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(settings_.ttl_seconds))),
      now_(std::move(now)) {
  if (settings_.max_size == 0) settings_.max_size = 1;
}

std::optional<std::string> AuthCache::key_for(const lg_pair* headers, size_t count) const {
  // Length-prefixed name and value pairs, so that no two different header sets share a key.
  std::string key;
  bool any = false;
  for (const auto& name : settings_.cache_keys) {
    for (size_t i = 0; i < count; ++i) {
      const std::string_view header(headers[i].name.ptr, headers[i].name.len);
      if (header != name) continue;
      const std::string_view value(headers[i].value.ptr, headers[i].value.len);
      any = true;
      key += std::to_string(name.size());
      key += ':';
      key += name;
      key += std::to_string(value.size());
      key += ':';
      key += value;
      key += ';';
    }
  }
  if (!any) return std::nullopt;
  return key;
}

std::optional<std::string> AuthCache::key_for(const std::vector<std::pair<std::string, std::string>>& headers) const {
  std::vector<lg_pair> pairs;
  pairs.reserve(headers.size());
  for (const auto& [name, value] : headers) pairs.push_back({{name.data(), name.size()}, {value.data(), value.size()}});
  return key_for(pairs.data(), pairs.size());
}

std::shared_ptr<const User> AuthCache::get(const std::string& key) {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  auto entry = found->second;
  if (now >= entry->expires) {
    index_.erase(found);
    entries_.erase(entry);
    return nullptr;
  }
  entries_.splice(entries_.begin(), entries_, entry);
  return entry->user;
}

void AuthCache::put(const std::string& key, std::shared_ptr<const User> user) {
  const auto expires = now_() + ttl_;
  std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    found->second->user = std::move(user);
    found->second->expires = expires;
    entries_.splice(entries_.begin(), entries_, found->second);
    return;
  }
  entries_.push_front(Entry{key, std::move(user), expires});
  index_.emplace(key, entries_.begin());
  while (entries_.size() > settings_.max_size) {
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
}

size_t AuthCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace lgs
