#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "util/ids.hpp"

using namespace lgs;

namespace {

bool canonical_form(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = id[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return canonical_uuid(id) == id;
}

int64_t unix_ms_of(const std::string& v7) {
  return static_cast<int64_t>(std::stoull(v7.substr(0, 8) + v7.substr(9, 4), nullptr, 16));
}

}  // namespace

TEST_SUITE("util.ids") {
  TEST_CASE("random ids are canonical, carry their version and variant, and do not repeat") {
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {  // several refills of the per-thread random pool
      const std::string v4 = uuid4(), v7 = uuid7();
      REQUIRE(canonical_form(v4));
      REQUIRE(canonical_form(v7));
      CHECK(v4[14] == '4');
      CHECK(v7[14] == '7');
      CHECK(std::string("89ab").find(v4[19]) != std::string::npos);
      CHECK(std::string("89ab").find(v7[19]) != std::string::npos);
      seen.insert(v4);
      seen.insert(v7);
    }
    CHECK(seen.size() == 4000);
  }

  TEST_CASE("version 7 ids start with the time they were made and sort by it") {
    using namespace std::chrono;
    const auto now_ms = [] {
      return static_cast<int64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
    };
    const int64_t before = now_ms();
    const std::string first = uuid7();
    const int64_t after = now_ms();
    CHECK(unix_ms_of(first) >= before);
    CHECK(unix_ms_of(first) <= after);
    std::this_thread::sleep_for(milliseconds(3));
    const std::string later = uuid7();
    CHECK(later > first);  // as text, as a database index orders them
  }

  TEST_CASE("version 7 ids made one after the other sort in that order, within a millisecond too") {
    std::string previous = uuid7();
    for (int i = 0; i < 20000; ++i) {  // several per millisecond, and past 4096 in one
      const std::string next = uuid7();
      REQUIRE(next > previous);
      REQUIRE(next[14] == '7');
      previous = next;
    }
  }

  TEST_CASE("threads draw different ids") {
    std::string a, b;
    std::thread other([&] { a = uuid4(); });
    other.join();
    b = uuid4();
    CHECK(a != b);
  }
}
