#include "plugin/plugin_library.hpp"

#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>

#include <fmt/format.h>

#include "config/startup_error.hpp"

namespace lgs {

std::string plugin_error(const PluginRef& ref, const std::string& cause) {
  return fmt::format("{} \"{}\": {}", ref.key, ref.describe(), cause);
}

SharedLibrary open_library(const PluginRef& ref) {
  if (!std::filesystem::exists(ref.library))
    throw StartupError(plugin_error(ref, "no such file (build the plugin first, or fix the path)"));
  boost::dll::fs::error_code ec;
  auto library = std::make_shared<boost::dll::shared_library>();
  library->load(ref.library, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    // Boost's message wraps dlerror() in noise; ask dlopen again for the plain reason.
    std::string reason = ec.message();
    if (void* handle = dlopen(ref.library.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      dlclose(handle);
    } else if (const char* text = dlerror()) {
      reason = text;
    }
    throw StartupError(plugin_error(ref, "cannot load library: " + reason));
  }
  return library;
}

const void* entry_descriptor(const SharedLibrary& library, const PluginRef& ref, const char* kind) {
  if (!library->has(ref.symbol))
    throw StartupError(plugin_error(ref, fmt::format("symbol \"{}\" not found in the library (export it with {})",
                                                     ref.symbol, kind)));
  using Entry = const void*();
  const void* descriptor = nullptr;
  try {
    descriptor = library->get<Entry>(ref.symbol)();
  } catch (...) {
    throw StartupError(plugin_error(ref, "the entry function threw"));
  }
  if (!descriptor) throw StartupError(plugin_error(ref, "the entry function returned no descriptor"));
  return descriptor;
}

void check_descriptor(const DescriptorHeader* header, size_t min_size, const PluginRef& ref) {
  if (header->abi_version != LG_ABI_VERSION)
    throw StartupError(plugin_error(
        ref, fmt::format("plugin ABI version {}, this server speaks ABI version {}; rebuild the plugin against this SDK",
                         header->abi_version, LG_ABI_VERSION)));
  if (header->struct_size < min_size)
    throw StartupError(plugin_error(ref, fmt::format("plugin descriptor is {} bytes, expected at least {}; rebuild "
                                                     "the plugin against this SDK",
                                                     header->struct_size, min_size)));
}

}  // namespace lgs
