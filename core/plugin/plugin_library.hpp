// Opening a plugin's shared library and finding its descriptor, with Boost.DLL.
#pragma once

#include <langgraph/abi.h>

#include <memory>
#include <string>

#include "config/config.hpp"

namespace boost::dll {
class shared_library;
}

namespace lgs {

using SharedLibrary = std::shared_ptr<boost::dll::shared_library>;

// Loads `ref.library` (RTLD_NOW | RTLD_LOCAL: a missing symbol fails now, not mid-request).
// Throws StartupError naming the library, the symbol and the dlerror text.
SharedLibrary open_library(const PluginRef& ref);

// Calls the entry function `ref.symbol` and checks the descriptor's ABI version and size.
// `min_size` is the size of the descriptor version this server was built with.
const void* entry_descriptor(const SharedLibrary& library, const PluginRef& ref, const char* kind);

// The first two fields every descriptor starts with.
struct DescriptorHeader {
  uint32_t abi_version;
  uint32_t struct_size;
};

// Throws StartupError unless `header` speaks LG_ABI_VERSION and is at least `min_size` long.
void check_descriptor(const DescriptorHeader* header, size_t min_size, const PluginRef& ref);

// "<config>: auth.path "<lib>:<symbol>": <cause>" — the one line every plugin error prints.
std::string plugin_error(const PluginRef& ref, const std::string& cause);

}  // namespace lgs
