#include <doctest/doctest.h>

#include <thread>

#include "runtime/stream_hub.hpp"

using namespace lgs;
using namespace std::chrono_literals;

namespace {
std::vector<int64_t> ids(const StreamHub::Batch& batch) {
  std::vector<int64_t> out;
  for (const auto& e : batch.events) out.push_back(e.id);
  return out;
}
}  // namespace

TEST_SUITE("runtime.stream_hub") {
  TEST_CASE("events come in order with ids from 0 and their mode and name and one-line data") {
    StreamHub hub;
    hub.open("r");
    hub.publish("r", "", "metadata", {{"run_id", "r"}, {"attempt", 1}});
    hub.publish("r", "values", "values", {{"text", "two\nlines"}});
    hub.publish("r", "updates", "updates", {{"node", {{"x", 1}}}});
    auto batch = hub.next("r", -1, 0ms);
    CHECK(ids(batch) == std::vector<int64_t>{0, 1, 2});
    CHECK_FALSE(batch.ended);
    CHECK_FALSE(batch.unknown);
    CHECK(batch.events[0].mode == "");
    CHECK(batch.events[0].event == "metadata");
    CHECK(batch.events[0].data == R"({"attempt":1,"run_id":"r"})");
    CHECK(batch.events[1].mode == "values");
    CHECK(batch.events[1].data == R"({"text":"two\nlines"})");
    CHECK(batch.events[1].data.find('\n') == std::string::npos);
    CHECK(batch.events[2].event == "updates");
  }

  TEST_CASE("a reader resumes after the id it has") {
    StreamHub hub;
    hub.open("r");
    for (int i = 0; i < 5; ++i) hub.publish("r", "values", "values", i);
    CHECK(ids(hub.next("r", 2, 0ms)) == std::vector<int64_t>{3, 4});
    CHECK(ids(hub.next("r", 4, 0ms)).empty());
    CHECK(ids(hub.next("r", 99, 0ms)).empty());
    CHECK(ids(hub.next("r", -7, 0ms)).size() == 5);
  }

  TEST_CASE("a reader joining after the end gets every event and then the end") {
    StreamHub hub;
    hub.open("r");
    hub.publish("r", "", "metadata", 1);
    hub.publish("r", "values", "values", 2);
    hub.close("r");
    hub.publish("r", "values", "values", 3);  // after close: ignored
    auto batch = hub.next("r", -1, 1s);
    CHECK(ids(batch) == std::vector<int64_t>{0, 1});
    CHECK(batch.ended);
    auto rest = hub.next("r", 1, 1s);
    CHECK(rest.events.empty());
    CHECK(rest.ended);
  }

  TEST_CASE("waiting without news times out with an empty batch") {
    StreamHub hub;
    hub.open("r");
    hub.publish("r", "", "metadata", 1);
    const auto start = std::chrono::steady_clock::now();
    auto batch = hub.next("r", 0, 50ms);
    CHECK(std::chrono::steady_clock::now() - start >= 45ms);
    CHECK(batch.events.empty());
    CHECK_FALSE(batch.ended);
    CHECK_FALSE(batch.unknown);
  }

  TEST_CASE("a waiting reader wakes up at the publish and at the close") {
    StreamHub hub;
    hub.open("r");
    std::thread publisher([&] {
      std::this_thread::sleep_for(30ms);
      hub.publish("r", "custom", "custom", "hello");
      std::this_thread::sleep_for(30ms);
      hub.close("r");
    });
    const auto start = std::chrono::steady_clock::now();
    auto batch = hub.next("r", -1, 10s);
    CHECK(ids(batch) == std::vector<int64_t>{0});
    auto end = hub.next("r", 0, 10s);
    CHECK(end.ended);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    publisher.join();
  }

  TEST_CASE("an unknown stream answers at once and publishing to it does nothing") {
    StreamHub hub;
    hub.publish("nope", "values", "values", 1);
    hub.close("nope");
    const auto start = std::chrono::steady_clock::now();
    auto batch = hub.next("nope", -1, 10s);
    CHECK(batch.unknown);
    CHECK(batch.events.empty());
    CHECK(std::chrono::steady_clock::now() - start < 1s);
  }

  TEST_CASE("opening twice keeps the events") {
    StreamHub hub;
    hub.open("r");
    hub.publish("r", "", "metadata", 1);
    hub.open("r");
    CHECK(hub.next("r", -1, 0ms).events.size() == 1);
  }

  TEST_CASE("closed streams are kept up to a limit with the oldest dropped first while open ones always stay") {
    StreamHub hub;
    hub.open("live");
    hub.publish("live", "", "metadata", 1);
    for (int i = 0; i < 1001; ++i) {
      const std::string id = "run-" + std::to_string(i);
      hub.open(id);
      hub.publish(id, "", "metadata", i);
      hub.close(id);
    }
    CHECK(hub.next("run-0", -1, 0ms).unknown);
    CHECK_FALSE(hub.next("run-1", -1, 0ms).unknown);
    auto last = hub.next("run-1000", -1, 0ms);
    CHECK(ids(last) == std::vector<int64_t>{0});
    CHECK(last.ended);
    auto live = hub.next("live", -1, 0ms);
    CHECK_FALSE(live.unknown);
    CHECK(live.events.size() == 1);
  }

  TEST_CASE("readers on many streams do not disturb each other") {
    StreamHub hub;
    hub.open("a");
    hub.open("b");
    std::thread reader([&] {
      auto batch = hub.next("a", -1, 10s);
      CHECK(ids(batch) == std::vector<int64_t>{0});
    });
    hub.publish("b", "values", "values", 1);
    hub.publish("a", "values", "values", 2);
    reader.join();
    CHECK(hub.next("b", -1, 0ms).events.size() == 1);
  }
}
