// langgraph-bench-load: fills a database with threads for the persistence benchmark
// (tools/bench/search.sh), through the server's own storage code (open_storage, create_thread).
//
//   langgraph-bench-load --database-uri URI --threads N [--users U] [--start K] [--writers W]
//   langgraph-bench-load --database-uri URI --count
//
// Creates threads number K to N-1. Thread i is owned by "user-(i % U)" and stored as
// langgraph-server stores a thread that user creates with POST /threads behind
// tools/bench/auth_many_users.cpp: metadata {"owner": "user-..."}, status idle, config {},
// values null, no interrupts, no error, created_at = updated_at in now_iso8601()'s format. Thread
// i was created one millisecond after thread i-1 (from 2026-01-01T00:00:00Z on), so a user's
// newest threads are those with the highest numbers. Its id is a UUID derived from i, so running
// the loader again over the same numbers adds nothing ("already there"): a database of 10,000
// threads grows to 1,000,000 with --threads 1000000 --start 10000.
//
// W writer threads (default 32) call create_thread at once, as concurrent requests do, so the
// storage commits them in batches as it commits concurrent requests. Prints progress to stderr
// and, at the end, one line:  BENCH_LOAD created=C existing=E seconds=S rows_per_s=R
//
// --count prints how many threads the database holds, whoever owns them:  BENCH_COUNT threads=N
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "storage/storage.hpp"
#include "util/clock.hpp"
#include "util/ids.hpp"

namespace {

constexpr const char* kUsage = R"(usage: langgraph-bench-load --database-uri URI --threads N [options]

Creates threads number K..N-1 in the database (see the top of tools/bench/load_threads.cpp).

options:
  --database-uri URI   sqlite:PATH, postgres://... or :memory: (as langgraph-server takes it)
  --threads N          the number of threads the database holds afterwards (thread numbers < N)
  --users U            thread i belongs to user-(i % U) (default 10000)
  --start K            the first thread number to create (default 0)
  --writers W          threads calling create_thread at once (default 32)
  --data-dir DIR       the data folder for an empty URI (default .langgraph_data)
  --count              create nothing; print how many threads the database holds
)";

// Fixed namespace for the thread ids: thread i is uuid5(kNamespace, "bench-thread-<i>").
constexpr std::string_view kNamespace = "2f0a6c1e-6a55-4c3b-9d8e-5b7f0c1d2e3a";
// 2026-01-01T00:00:00Z: thread i was created i milliseconds later.
constexpr std::time_t kEpoch = 1767225600;

// now_iso8601()'s format ("2026-11-23T19:05:42.123456+00:00") for kEpoch + i ms.
std::string created_at(long long i) {
  const long long micros_total = i * 1000;
  const std::time_t seconds = kEpoch + static_cast<std::time_t>(micros_total / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros_total % 1000000);
}

// Same length, digits and separators as now_iso8601() gives.
bool same_shape(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    const bool da = a[k] >= '0' && a[k] <= '9', db = b[k] >= '0' && b[k] <= '9';
    if (da != db || (!da && a[k] != b[k])) return false;
  }
  return true;
}

std::optional<long long> whole_number(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  long long n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri;
  std::string data_dir = ".langgraph_data";
  bool have_uri = false, count_only = false;
  long long threads = -1, users = 10000, start = 0, writers = 32;
  for (int a = 1; a < argc; ++a) {
    const std::string_view flag = argv[a];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (flag == "--count") {
      count_only = true;
      continue;
    }
    if (a + 1 >= argc) {
      std::fprintf(stderr, "langgraph-bench-load: %s needs a value\n%s", argv[a], kUsage);
      return 64;
    }
    const std::string value = argv[++a];
    if (flag == "--database-uri") {
      uri = value;
      have_uri = true;
    } else if (flag == "--data-dir") {
      data_dir = value;
    } else {
      long long* target = flag == "--threads"   ? &threads
                          : flag == "--users"   ? &users
                          : flag == "--start"   ? &start
                          : flag == "--writers" ? &writers
                                                : nullptr;
      const auto n = whole_number(value);
      if (!target || !n) {
        std::fprintf(stderr, "langgraph-bench-load: bad option %s %s\n%s", argv[a - 1], value.c_str(), kUsage);
        return 64;
      }
      *target = *n;
    }
  }
  if (!have_uri || (!count_only && (threads < 0 || start > threads)) || users < 1 || writers < 1 || writers > 1024) {
    std::fprintf(stderr, "langgraph-bench-load: give --database-uri and --threads N (with 0 <= --start <= N, "
                         "--users >= 1, 1 <= --writers <= 1024)\n%s", kUsage);
    return 64;
  }
  if (!same_shape(created_at(0), lgs::now_iso8601())) {
    std::fprintf(stderr, "langgraph-bench-load: timestamps %s and %s differ in format\n", created_at(0).c_str(),
                 lgs::now_iso8601().c_str());
    return 1;
  }

  std::unique_ptr<lgs::Storage> storage;
  try {
    storage = lgs::open_storage(uri, data_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "langgraph-bench-load: cannot open %s: %s\n", lgs::describe_database(uri, data_dir).c_str(),
                 e.what());
    return 2;
  }

  if (count_only) {
    try {
      lgs::ThreadQuery everything;
      everything.limit = 0;
      std::printf("BENCH_COUNT threads=%zu\n", storage->count_threads(everything));
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "langgraph-bench-load: counting threads failed: %s\n", e.what());
      return 1;
    }
  }

  std::atomic<long long> next{start}, created{0}, existing{0}, failed{0};
  std::mutex error_mutex;
  std::string first_error;
  const auto began = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(); };

  auto work = [&] {
    for (;;) {
      const long long i = next.fetch_add(1);
      if (i >= threads || failed.load() > 0) return;
      lgs::Thread t;
      t.thread_id = lgs::uuid5(kNamespace, fmt::format("bench-thread-{}", i));
      t.created_at = t.updated_at = created_at(i);
      t.metadata = {{"owner", fmt::format("user-{}", i % users)}};
      try {
        if (storage->create_thread(t)) created.fetch_add(1);
        else existing.fetch_add(1);
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mutex);
        if (failed.fetch_add(1) == 0) first_error = e.what();
        return;
      }
    }
  };

  const long long total = threads - start;
  std::fprintf(stderr, "Loading threads %lld..%lld (%lld) into %s with %lld writers\n", start, threads - 1, total,
               lgs::describe_database(uri, data_dir).c_str(), writers);
  std::vector<std::thread> pool;
  for (long long w = 0; w < writers; ++w) pool.emplace_back(work);

  std::atomic<bool> done{false};
  std::thread progress([&] {
    auto last = std::chrono::steady_clock::now();
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (std::chrono::steady_clock::now() - last < std::chrono::seconds(10)) continue;
      last = std::chrono::steady_clock::now();
      const long long n = created.load() + existing.load();
      std::fprintf(stderr, "  %lld of %lld (%.0f%%), %.0f rows/s\n", n, total, total ? 100.0 * n / total : 100.0,
                   n / elapsed());
    }
  });
  for (auto& t : pool) t.join();
  done = true;
  progress.join();
  const double seconds = elapsed();

  if (failed.load() > 0) {
    std::fprintf(stderr, "langgraph-bench-load: create_thread failed: %s\n", first_error.c_str());
    return 1;
  }
  std::printf("BENCH_LOAD created=%lld existing=%lld seconds=%.2f rows_per_s=%.0f\n", created.load(), existing.load(),
              seconds, seconds > 0 ? created.load() / seconds : 0.0);
  return 0;
}
