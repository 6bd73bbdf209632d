// langgraph.json: what this server reads of it, validated once at startup.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace lgs {

using json = nlohmann::json;

// "./lib.so:symbol", split on the last ':' with the library resolved against the config's folder.
struct PluginRef {
  std::string key;  // where it was named, e.g. "auth.path" or "graphs.agent"
  std::string spec; // as written
  std::filesystem::path library;
  std::string symbol;
  std::string describe() const { return library.string() + ":" + symbol; }
};

// auth.cache: authenticate results kept per value of the listed request headers.
struct AuthCacheSettings {
  std::vector<std::string> cache_keys;  // header names, lower-cased
  double ttl_seconds = 60;              // counted from insertion
  size_t max_size = 1000;               // entries; the least recently used goes first
};

struct AuthConfig {
  PluginRef plugin;
  bool disable_studio_auth = false;
  json openapi = json::object();       // auth.openapi as written (validated): only /openapi.json reads it
  json cache;                          // null when absent
  std::optional<AuthCacheSettings> cache_settings;  // auth.cache, parsed
  json plugin_config = json::object(); // every other key, handed to the plugin
};

struct CorsConfig {
  std::vector<std::string> allow_origins{"*"};
  std::vector<std::string> allow_methods{"*"};
  std::vector<std::string> allow_headers{"*"};
  bool allow_credentials = false;
  std::vector<std::string> expose_headers{"content-location", "x-pagination-total", "x-pagination-next"};
  int max_age = 600;
};

struct Config {
  std::filesystem::path file;
  std::vector<std::pair<std::string, PluginRef>> graphs;  // in file order
  std::optional<AuthConfig> auth;
  CorsConfig cors;  // LangGraph allows every origin unless http.cors says otherwise
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> warnings;  // unknown or unused keys: logged, not fatal
};

// Reads and validates `file`; throws StartupError naming the file and the cause.
Config load_config(const std::filesystem::path& file);

// Splits "lib.so:symbol" on its last ':' and resolves the library against `base_dir`.
PluginRef parse_plugin_ref(const std::string& key, const std::string& spec, const std::filesystem::path& base_dir);

// KEY=VALUE lines of a .env file (comments, blank lines, `export ` and quotes handled).
std::vector<std::pair<std::string, std::string>> parse_dotenv(const std::string& text);

// Sets each variable unless the process environment already has it (the environment wins).
void apply_env(const std::vector<std::pair<std::string, std::string>>& env);

}  // namespace lgs
