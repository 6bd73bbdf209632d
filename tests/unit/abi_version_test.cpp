// The ABI header may only change together with a deliberate decision about LG_ABI_VERSION:
// this test pins its content. When it fails, bump LG_ABI_VERSION if the change breaks plugins
// built against the old header, then update kAbiHeaderSha256.
#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <string>

#include <langgraph/abi.h>

namespace {
constexpr const char* kAbiHeaderSha256 = "831436f6cd1fc3003e53a1f9f8998f2058541522010f4bbd8490e7037d3145a0";

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    static const char* digits = "0123456789abcdef";
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 15];
  }
  return hex;
}
}  // namespace

TEST_SUITE("abi") {
  TEST_CASE("the ABI header is the pinned one of ABI version 1") {
    std::ifstream in(std::string(SDK_INCLUDE_DIR) + "/langgraph/abi.h", std::ios::binary);
    REQUIRE(in);
    std::ostringstream text;
    text << in.rdbuf();
    CHECK(LG_ABI_VERSION == 1u);
    CHECK(sha256_hex(text.str()) == kAbiHeaderSha256);
  }

  TEST_CASE("descriptors start with abi_version and struct_size") {
    CHECK(offsetof(lg_auth_plugin, abi_version) == 0);
    CHECK(offsetof(lg_auth_plugin, struct_size) == 4);
    CHECK(offsetof(lg_graph_plugin, abi_version) == 0);
    CHECK(offsetof(lg_graph_plugin, struct_size) == 4);
  }

  TEST_CASE("version 1's structs keep their layout: later additions are sink keys, not fields") {
    CHECK(sizeof(lg_str) == 2 * sizeof(void*));
    CHECK(offsetof(lg_authz_request, resource) == 8);
    CHECK(offsetof(lg_authz_request, value_json) == 8 + 3 * sizeof(lg_str));
    CHECK(sizeof(lg_authz_request) == 8 + 4 * sizeof(lg_str));
    CHECK(offsetof(lg_auth_plugin, authorize) == 8 + 4 * sizeof(void*));
    CHECK(sizeof(lg_auth_plugin) == 8 + 5 * sizeof(void*));
  }
}
