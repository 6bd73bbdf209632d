#include "util/ids.hpp"

#include <sys/random.h>
#include <uuid/uuid.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace lgs {

namespace {

std::string unparse(const uuid_t id) {
  char out[37];
  uuid_unparse_lower(id, out);
  return std::string(out, 36);
}

// The 16 bytes of `id` with the version (the top four bits of byte 6) and RFC 4122's variant
// stamped on, as text.
std::string stamped(uuid_t id, unsigned version) {
  id[6] = static_cast<unsigned char>((version << 4) | (id[6] & 0x0F));
  id[8] = static_cast<unsigned char>(0x80 | (id[8] & 0x3F));
  return unparse(id);
}

// 16 random bytes from the kernel's CSPRNG, fetched 4 KiB at a time per thread: one system call
// per 256 ids instead of the several libuuid makes for each.
void random_bytes(unsigned char* out) {
  struct Pool {
    std::array<unsigned char, 4096> bytes;
    size_t used = sizeof(bytes);
  };
  thread_local Pool pool;
  if (pool.used == pool.bytes.size()) {
    size_t filled = 0;
    while (filled < pool.bytes.size()) {
      const ssize_t n = getrandom(pool.bytes.data() + filled, pool.bytes.size() - filled, 0);
      if (n < 0 && errno != EINTR) throw std::runtime_error("getrandom failed");
      if (n > 0) filled += static_cast<size_t>(n);
    }
    pool.used = 0;
  }
  std::memcpy(out, pool.bytes.data() + pool.used, 16);
  std::memset(pool.bytes.data() + pool.used, 0, 16);  // handed out once
  pool.used += 16;
}

}  // namespace

std::string uuid4() {
  uuid_t id;
  random_bytes(id);
  return stamped(id, 4);
}

std::string uuid7() {
  using namespace std::chrono;
  static std::atomic<uint64_t> last{0};
  // Milliseconds and the sequence within one (RFC 9562's method 1), strictly increasing across
  // calls: past 4096 ids in a millisecond the ids run ahead of the clock until it catches up.
  const uint64_t now =
      static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()) << 12;
  uint64_t previous = last.load();
  uint64_t stamp;
  do {
    stamp = std::max(now, previous + 1);
  } while (!last.compare_exchange_weak(previous, stamp));
  uuid_t id;
  random_bytes(id);
  const uint64_t ms = stamp >> 12;
  for (int i = 0; i < 6; ++i) id[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  id[6] = static_cast<unsigned char>((stamp >> 8) & 0x0F);  // the version goes above (stamped)
  id[7] = static_cast<unsigned char>(stamp);
  return stamped(id, 7);
}

std::string uuid6() {
  using namespace std::chrono;
  static std::atomic<uint64_t> last{0};
  // 100 ns intervals since 1582-10-15, strictly increasing across calls.
  const uint64_t now = static_cast<uint64_t>(duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() / 100) +
                       0x01B21DD213814000ULL;
  uint64_t previous = last.load();
  uint64_t ts;
  do {
    ts = std::max(now, previous + 1);
  } while (!last.compare_exchange_weak(previous, ts));
  uuid_t random;
  random_bytes(random);
  uuid_t id;
  const uint64_t t = ts & 0x0FFFFFFFFFFFFFFFULL;  // 60 bits
  id[0] = static_cast<unsigned char>(t >> 52);
  id[1] = static_cast<unsigned char>(t >> 44);
  id[2] = static_cast<unsigned char>(t >> 36);
  id[3] = static_cast<unsigned char>(t >> 28);
  id[4] = static_cast<unsigned char>(t >> 20);
  id[5] = static_cast<unsigned char>(t >> 12);
  id[6] = static_cast<unsigned char>(0x60 | ((t >> 8) & 0x0F));
  id[7] = static_cast<unsigned char>(t);
  id[8] = static_cast<unsigned char>(0x80 | (random[8] & 0x3F));
  for (int i = 9; i < 16; ++i) id[i] = random[i];
  return unparse(id);
}

std::string uuid5(std::string_view namespace_id, std::string_view name) {
  uuid_t ns, id;
  const std::string text(namespace_id);
  if (uuid_parse(text.c_str(), ns) != 0) return {};
  uuid_generate_sha1(id, ns, name.data(), name.size());
  return unparse(id);
}

std::optional<std::string> canonical_uuid(std::string_view text) {
  // uuid_parse accepts exactly the 36-character hyphenated form; FastAPI also takes 32 hex digits.
  std::string hyphenated(text);
  if (text.size() == 32 && text.find('-') == std::string_view::npos)
    hyphenated = std::string(text.substr(0, 8)) + "-" + std::string(text.substr(8, 4)) + "-" +
                 std::string(text.substr(12, 4)) + "-" + std::string(text.substr(16, 4)) + "-" +
                 std::string(text.substr(20));
  if (hyphenated.size() != 36) return std::nullopt;
  uuid_t id;
  if (uuid_parse(hyphenated.c_str(), id) != 0) return std::nullopt;
  return unparse(id);
}

}  // namespace lgs
