#include "storage/memory_storage.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include "authz/filter.hpp"

namespace lgs {

bool json_contains(const json& document, const json& pattern) {
  if (pattern.is_object()) {
    if (!document.is_object()) return false;
    for (const auto& [key, value] : pattern.items()) {
      auto it = document.find(key);
      if (it == document.end() || !json_contains(*it, value)) return false;
    }
    return true;
  }
  if (pattern.is_array()) {
    if (!document.is_array()) return false;
    return std::all_of(pattern.begin(), pattern.end(), [&](const json& wanted) {
      return std::any_of(document.begin(), document.end(), [&](const json& have) { return json_contains(have, wanted); });
    });
  }
  return document == pattern;
}

namespace {

template <typename T>
Page<T> paginate(std::vector<T> matches, int offset, int limit) {
  Page<T> page;
  page.total = matches.size();
  const size_t begin = std::min(matches.size(), static_cast<size_t>(std::max(offset, 0)));
  const size_t end = std::min(matches.size(), begin + static_cast<size_t>(std::max(limit, 0)));
  page.items.assign(std::make_move_iterator(matches.begin() + begin), std::make_move_iterator(matches.begin() + end));
  return page;
}

template <typename T, typename Key>
void sort_by(std::vector<T>& items, bool descending, Key key) {
  std::stable_sort(items.begin(), items.end(), [&](const T& a, const T& b) {
    return descending ? key(b) < key(a) : key(a) < key(b);
  });
}

// A list's order: by the field, then by the id, both in the list's direction (as the SQL
// back-ends sort, an index read forwards or backwards).
template <typename T, typename Field, typename Id>
void sort_list(std::vector<T>& items, bool descending, Field field, Id id) {
  sort_by(items, descending, [&](const T& item) { return std::pair<std::string, std::string>(field(item), id(item)); });
}

}  // namespace

void MemoryStorage::put_assistant(const Assistant& assistant) {
  std::lock_guard lock(mutex_);
  assistants_[assistant.assistant_id] = assistant;
  assistant_versions_[assistant.assistant_id][assistant.version] = assistant;
}

std::vector<Assistant> MemoryStorage::assistant_versions(const std::string& assistant_id) {
  std::lock_guard lock(mutex_);
  std::vector<Assistant> out;
  auto it = assistant_versions_.find(assistant_id);
  if (it != assistant_versions_.end())
    for (auto v = it->second.rbegin(); v != it->second.rend(); ++v) out.push_back(v->second);
  return out;
}

bool MemoryStorage::delete_assistant(const std::string& assistant_id) {
  std::lock_guard lock(mutex_);
  assistant_versions_.erase(assistant_id);
  std::erase_if(crons_, [&](const auto& entry) { return entry.second.assistant_id == assistant_id; });
  return assistants_.erase(assistant_id) > 0;
}

std::optional<Assistant> MemoryStorage::get_assistant(const std::string& assistant_id) {
  std::lock_guard lock(mutex_);
  auto it = assistants_.find(assistant_id);
  if (it == assistants_.end()) return std::nullopt;
  return it->second;
}

Page<Assistant> MemoryStorage::search_assistants(const AssistantQuery& q) {
  std::vector<Assistant> matches;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, a] : assistants_) {
      if (q.graph_id && a.graph_id != *q.graph_id) continue;
      if (q.name && a.name.find(*q.name) == std::string::npos) continue;
      if (!json_contains(a.metadata, q.metadata)) continue;
      if (!filter_matches(q.auth_filter, a.metadata)) continue;
      matches.push_back(a);
    }
  }
  sort_list(matches, q.descending, [&](const Assistant& a) -> std::string {
    if (q.sort_by == "assistant_id") return a.assistant_id;
    if (q.sort_by == "graph_id") return a.graph_id;
    if (q.sort_by == "name") return a.name;
    if (q.sort_by == "updated_at") return a.updated_at;
    return a.created_at;
  }, [](const Assistant& a) { return a.assistant_id; });
  return paginate(std::move(matches), q.offset, q.limit);
}

bool MemoryStorage::create_thread(const Thread& thread, WriteWait) {
  std::lock_guard lock(mutex_);
  return threads_.emplace(thread.thread_id, thread).second;
}

std::optional<Thread> MemoryStorage::get_thread(const std::string& thread_id) {
  std::lock_guard lock(mutex_);
  auto it = threads_.find(thread_id);
  if (it == threads_.end()) return std::nullopt;
  return it->second;
}

bool MemoryStorage::update_thread(const std::string& thread_id, const std::function<void(Thread&)>& change,
                                  WriteWait) {
  std::lock_guard lock(mutex_);
  auto it = threads_.find(thread_id);
  if (it == threads_.end()) return false;
  change(it->second);
  return true;
}

bool MemoryStorage::delete_thread(const std::string& thread_id, WriteWait) {
  std::lock_guard lock(mutex_);
  if (!threads_.erase(thread_id)) return false;
  checkpoints_.erase(thread_id);
  std::erase_if(runs_, [&](const auto& entry) { return entry.second.thread_id == thread_id; });
  std::erase_if(crons_, [&](const auto& entry) { return entry.second.thread_id == thread_id; });
  return true;
}

std::vector<Thread> MemoryStorage::matching_threads(const ThreadQuery& q) {
  std::vector<Thread> matches;
  std::lock_guard lock(mutex_);
  for (const auto& [id, t] : threads_) {
    if (!q.ids.empty() && std::find(q.ids.begin(), q.ids.end(), id) == q.ids.end()) continue;
    if (q.status && t.status != *q.status) continue;
    if (!json_contains(t.metadata, q.metadata)) continue;
    if (!filter_matches(q.auth_filter, t.metadata)) continue;
    if (!q.values.empty() && !json_contains(t.values, q.values)) continue;
    matches.push_back(t);
  }
  return matches;
}

ThreadPage MemoryStorage::search_threads(const ThreadQuery& q) {
  std::vector<Thread> matches = matching_threads(q);
  sort_list(matches, q.descending, [&](const Thread& t) -> std::string {
    if (q.sort_by == "thread_id") return t.thread_id;
    if (q.sort_by == "status") return t.status;
    if (q.sort_by == "updated_at") return t.updated_at;
    return t.created_at;
  }, [](const Thread& t) { return t.thread_id; });
  auto page = paginate(std::move(matches), q.offset, q.limit);
  return {std::move(page.items), page.total > static_cast<size_t>(std::max(q.offset, 0)) + std::max(q.limit, 0)};
}

size_t MemoryStorage::count_threads(const ThreadQuery& q) { return matching_threads(q).size(); }

void MemoryStorage::put_run(const Run& run) {
  std::lock_guard lock(mutex_);
  runs_[run.run_id] = run;
}

std::optional<Run> MemoryStorage::get_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return std::nullopt;
  return it->second;
}

bool MemoryStorage::update_run(const std::string& run_id, const std::function<void(Run&)>& change) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return false;
  change(it->second);
  return true;
}

bool MemoryStorage::end_run(const std::string& thread_id, const std::string& run_id,
                            const std::function<bool(Run&)>& change_run, const std::function<void(Thread&)>& change_thread) {
  std::lock_guard lock(mutex_);
  auto run = runs_.find(run_id);
  if (run == runs_.end()) return false;
  Run changed = run->second;
  if (!change_run(changed)) return false;
  run->second = std::move(changed);
  if (auto thread = threads_.find(thread_id); thread != threads_.end()) change_thread(thread->second);
  return true;
}

Page<Run> MemoryStorage::list_runs(const RunQuery& q) {
  std::vector<Run> matches;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, r] : runs_)
      if (r.thread_id == q.thread_id && (!q.status || r.status == *q.status)) matches.push_back(r);
  }
  sort_list(matches, /*descending=*/true, [](const Run& r) { return r.created_at; }, [](const Run& r) { return r.run_id; });
  return paginate(std::move(matches), q.offset, q.limit);
}

void MemoryStorage::put_checkpoint(const Checkpoint& checkpoint, WriteWait) {
  std::lock_guard lock(mutex_);
  checkpoints_[checkpoint.thread_id][checkpoint.checkpoint_id] = checkpoint;
}

std::optional<Checkpoint> MemoryStorage::latest_checkpoint(const std::string& thread_id) {
  std::lock_guard lock(mutex_);
  auto it = checkpoints_.find(thread_id);
  if (it == checkpoints_.end() || it->second.empty()) return std::nullopt;
  return it->second.rbegin()->second;
}

std::optional<Checkpoint> MemoryStorage::get_checkpoint(const std::string& thread_id, const std::string& checkpoint_id) {
  std::lock_guard lock(mutex_);
  auto it = checkpoints_.find(thread_id);
  if (it == checkpoints_.end()) return std::nullopt;
  auto found = it->second.find(checkpoint_id);
  if (found == it->second.end()) return std::nullopt;
  return found->second;
}

std::vector<Checkpoint> MemoryStorage::list_checkpoints(const std::string& thread_id, int limit, const std::string& before,
                                                        const json& metadata) {
  std::lock_guard lock(mutex_);
  std::vector<Checkpoint> out;
  auto it = checkpoints_.find(thread_id);
  if (it == checkpoints_.end()) return out;
  for (auto c = it->second.rbegin(); c != it->second.rend() && static_cast<int>(out.size()) < limit; ++c) {
    if (!before.empty() && c->first >= before) continue;
    if (!json_contains(c->second.metadata, metadata)) continue;
    out.push_back(c->second);
  }
  return out;
}

void MemoryStorage::delete_checkpoints_of_run(const std::string& thread_id, const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto it = checkpoints_.find(thread_id);
  if (it == checkpoints_.end()) return;
  std::erase_if(it->second, [&](const auto& entry) { return entry.second.metadata.value("run_id", "") == run_id; });
}

bool MemoryStorage::delete_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  return runs_.erase(run_id) > 0;
}

namespace {
bool has_prefix(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  return prefix.size() <= path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}
}  // namespace

void MemoryStorage::put_item(const Item& item) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = items_.try_emplace({item.namespace_path, item.key}, item);
  if (!inserted) {
    const std::string created = it->second.created_at;
    it->second = item;
    it->second.created_at = created;
  }
}

std::optional<Item> MemoryStorage::get_item(const std::vector<std::string>& namespace_path, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = items_.find({namespace_path, key});
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

bool MemoryStorage::delete_item(const std::vector<std::string>& namespace_path, const std::string& key) {
  std::lock_guard lock(mutex_);
  return items_.erase({namespace_path, key}) > 0;
}

std::vector<Item> MemoryStorage::search_items(const ItemQuery& q) {
  std::vector<Item> matches;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, item] : items_) {
      if (!has_prefix(item.namespace_path, q.namespace_prefix)) continue;
      if (!json_contains(item.value, q.value_filter)) continue;
      if (!filter_matches(q.auth_filter, item.filter_view())) continue;
      matches.push_back(item);
    }
  }
  sort_by(matches, /*descending=*/true, [](const Item& i) { return i.updated_at; });
  return paginate(std::move(matches), q.offset, q.limit).items;
}

std::vector<std::vector<std::string>> MemoryStorage::list_namespaces(const NamespaceQuery& q) {
  std::set<std::vector<std::string>> found;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, item] : items_) {
      const auto& path = item.namespace_path;
      if (!has_prefix(path, q.prefix)) continue;
      if (q.suffix.size() > path.size() || !std::equal(q.suffix.rbegin(), q.suffix.rend(), path.rbegin())) continue;
      if (!filter_matches(q.auth_filter, item.filter_view())) continue;
      const size_t depth = q.max_depth ? std::min(path.size(), static_cast<size_t>(*q.max_depth)) : path.size();
      found.emplace(path.begin(), path.begin() + depth);
    }
  }
  std::vector<std::vector<std::string>> all(found.begin(), found.end());
  return paginate(std::move(all), q.offset, q.limit).items;
}

std::optional<Run> MemoryStorage::claim_run(const std::string& worker, const std::string& now,
                                            const std::string& lease_until) {
  std::lock_guard lock(mutex_);
  std::set<std::string> busy;
  for (const auto& [id, run] : runs_)
    if (run.status == "running") busy.insert(run.thread_id);
  Run* next = nullptr;
  for (auto& [id, run] : runs_) {
    if (run.status != "pending" || run.ready_at > now || busy.count(run.thread_id)) continue;
    if (!next || std::tie(run.ready_at, run.created_at) < std::tie(next->ready_at, next->created_at)) next = &run;
  }
  if (!next) return std::nullopt;
  next->status = "running";
  next->updated_at = now;
  leases_[next->run_id] = {worker, lease_until};
  return *next;
}

void MemoryStorage::renew_leases(const std::string& worker, const std::string& lease_until) {
  std::lock_guard lock(mutex_);
  for (auto& [id, lease] : leases_)
    if (lease.worker == worker) lease.until = lease_until;
}

std::vector<Run> MemoryStorage::expired_runs(const std::string& now) {
  std::lock_guard lock(mutex_);
  std::vector<Run> out;
  for (const auto& [id, run] : runs_) {
    if (run.status != "running") continue;
    auto lease = leases_.find(id);
    if (lease == leases_.end() || lease->second.until < now) out.push_back(run);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Crons

bool MemoryStorage::create_cron(const Cron& cron) {
  std::lock_guard lock(mutex_);
  return crons_.emplace(cron.cron_id, cron).second;
}

std::optional<Cron> MemoryStorage::get_cron(const std::string& cron_id) {
  std::lock_guard lock(mutex_);
  auto it = crons_.find(cron_id);
  if (it == crons_.end()) return std::nullopt;
  return it->second;
}

bool MemoryStorage::update_cron(const std::string& cron_id, const std::function<void(Cron&)>& change) {
  std::lock_guard lock(mutex_);
  auto it = crons_.find(cron_id);
  if (it == crons_.end()) return false;
  change(it->second);
  return true;
}

bool MemoryStorage::delete_cron(const std::string& cron_id, const std::function<bool(const Cron&)>& allowed) {
  std::lock_guard lock(mutex_);
  auto it = crons_.find(cron_id);
  if (it == crons_.end() || (allowed && !allowed(it->second))) return false;
  crons_.erase(it);
  return true;
}

Page<Cron> MemoryStorage::search_crons(const CronQuery& q) {
  std::vector<Cron> matches;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, c] : crons_) {
      if (q.assistant_id && c.assistant_id != *q.assistant_id) continue;
      if (q.thread_id && c.thread_id != *q.thread_id) continue;
      if (q.enabled && c.enabled != *q.enabled) continue;
      if (!json_contains(c.metadata, q.metadata)) continue;
      if (!filter_matches(q.auth_filter, c.metadata)) continue;
      matches.push_back(c);
    }
  }
  sort_list(matches, q.descending, [&](const Cron& c) -> std::string {
    if (q.sort_by == "cron_id") return c.cron_id;
    if (q.sort_by == "assistant_id") return c.assistant_id;
    if (q.sort_by == "thread_id") return c.thread_id;
    if (q.sort_by == "next_run_date") return c.next_run_date;
    if (q.sort_by == "end_time") return c.end_time;
    if (q.sort_by == "updated_at") return c.updated_at;
    return c.created_at;
  }, [](const Cron& c) { return c.cron_id; });
  return paginate(std::move(matches), q.offset, q.limit);
}

namespace {
bool cron_live(const Cron& c, const std::string& now) { return c.enabled && (c.end_time.empty() || c.end_time > now); }
}  // namespace

std::vector<Cron> MemoryStorage::due_crons(const std::string& now, int limit) {
  std::vector<Cron> due;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, c] : crons_)
      if (cron_live(c, now) && c.next_run_date <= now) due.push_back(c);
  }
  sort_by(due, /*descending=*/false, [](const Cron& c) { return c.next_run_date; });
  if (due.size() > static_cast<size_t>(std::max(limit, 0))) due.resize(static_cast<size_t>(std::max(limit, 0)));
  return due;
}

std::optional<std::string> MemoryStorage::next_cron_due(const std::string& now) {
  std::lock_guard lock(mutex_);
  std::optional<std::string> earliest;
  for (const auto& [id, c] : crons_)
    if (cron_live(c, now) && (!earliest || c.next_run_date < *earliest)) earliest = c.next_run_date;
  return earliest;
}

std::optional<Cron> MemoryStorage::advance_cron(const std::string& cron_id, const std::string& from,
                                                const std::string& to, const std::string& now) {
  std::lock_guard lock(mutex_);
  auto it = crons_.find(cron_id);
  if (it == crons_.end() || it->second.next_run_date != from || !cron_live(it->second, now)) return std::nullopt;
  it->second.next_run_date = to;
  return it->second;
}

}  // namespace lgs
