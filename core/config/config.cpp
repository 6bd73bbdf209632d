#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "config/startup_error.hpp"

namespace lgs {

namespace fs = std::filesystem;

namespace {

// Keys of the auth object the server reads itself; the rest is the plugin's configuration.
const std::set<std::string> kAuthServerKeys = {"path", "disable_studio_auth", "openapi", "cache"};
// Top-level keys of LangGraph's schema that only matter to Python/JS builds.
const std::set<std::string> kIgnoredLangGraphKeys = {
    "dependencies", "python_version", "node_version", "pip_config_file", "pip_installer", "dockerfile_lines",
    "image_distro", "base_image", "keep_pkg_tools", "api_version", "ui", "ui_config", "store", "checkpointer",
    "webhooks", "$schema"};

std::string read_file(const fs::path& path, const fs::path& config_file, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw StartupError(fmt::format("{}: cannot read {} {}: {}", config_file.string(), what, path.string(),
                                   std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> string_list(const json& value, const std::string& key, const fs::path& file) {
  if (!value.is_array())
    throw StartupError(fmt::format("{}: \"{}\" must be a list of strings", file.string(), key));
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string())
      throw StartupError(fmt::format("{}: \"{}\" must be a list of strings", file.string(), key));
    out.push_back(item.get<std::string>());
  }
  return out;
}

CorsConfig parse_cors(const json& cors, const fs::path& file) {
  if (!cors.is_object()) throw StartupError(fmt::format("{}: \"http.cors\" must be an object", file.string()));
  CorsConfig out;
  for (const auto& [key, value] : cors.items()) {
    const std::string where = "http.cors." + key;
    if (key == "allow_origins") out.allow_origins = string_list(value, where, file);
    else if (key == "allow_methods") out.allow_methods = string_list(value, where, file);
    else if (key == "allow_headers") out.allow_headers = string_list(value, where, file);
    else if (key == "expose_headers") {
      out.expose_headers = string_list(value, where, file);
      for (const char* always : {"content-location", "x-pagination-total"})
        if (std::find(out.expose_headers.begin(), out.expose_headers.end(), always) == out.expose_headers.end())
          out.expose_headers.push_back(always);
    } else if (key == "allow_credentials") {
      if (!value.is_boolean()) throw StartupError(fmt::format("{}: \"{}\" must be true or false", file.string(), where));
      out.allow_credentials = value.get<bool>();
    } else if (key == "max_age") {
      if (!value.is_number_integer()) throw StartupError(fmt::format("{}: \"{}\" must be an integer", file.string(), where));
      out.max_age = value.get<int>();
    } else {
      throw StartupError(fmt::format("{}: \"{}\" is not a CORS setting this server knows", file.string(), where));
    }
  }
  return out;
}

// auth.cache: {cache_keys: [header names], ttl_seconds: number > 0 (60), max_size: integer > 0 (1000)}.
AuthCacheSettings parse_auth_cache(const json& cache, const fs::path& file) {
  if (!cache.is_object()) throw StartupError(fmt::format("{}: \"auth.cache\" must be an object", file.string()));
  AuthCacheSettings out;
  if (!cache.contains("cache_keys"))
    throw StartupError(fmt::format("{}: \"auth.cache.cache_keys\" is required: the request headers whose values "
                                   "identify a caller, e.g. [\"authorization\"]",
                                   file.string()));
  for (const auto& [key, value] : cache.items()) {
    if (key == "cache_keys") {
      bool ok = value.is_array() && !value.empty();
      for (const auto& name : value) ok = ok && name.is_string() && !name.get<std::string>().empty();
      if (!ok)
        throw StartupError(fmt::format("{}: \"auth.cache.cache_keys\" must be a non-empty list of header names",
                                       file.string()));
      for (const auto& name : value) {
        std::string lower = name.get<std::string>();
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (std::find(out.cache_keys.begin(), out.cache_keys.end(), lower) == out.cache_keys.end())
          out.cache_keys.push_back(std::move(lower));
      }
    } else if (key == "ttl_seconds") {
      if (!value.is_number() || !(value.get<double>() > 0) || value.get<double>() > 1e9)
        throw StartupError(fmt::format("{}: \"auth.cache.ttl_seconds\" must be a positive number of seconds",
                                       file.string()));
      out.ttl_seconds = value.get<double>();
    } else if (key == "max_size") {
      if (!value.is_number_integer() || value.get<long long>() < 1)
        throw StartupError(fmt::format("{}: \"auth.cache.max_size\" must be a positive integer", file.string()));
      out.max_size = static_cast<size_t>(value.get<long long>());
    } else {
      throw StartupError(fmt::format("{}: \"auth.cache.{}\" is not a cache setting this server knows "
                                     "(cache_keys, ttl_seconds, max_size)",
                                     file.string(), key));
    }
  }
  return out;
}

// One OpenAPI security requirement list: [{scheme name: [scopes]}, ...].
bool is_security_requirements(const json& value) {
  if (!value.is_array()) return false;
  for (const auto& requirement : value) {
    if (!requirement.is_object()) return false;
    for (const auto& [name, scopes] : requirement.items()) {
      if (!scopes.is_array()) return false;
      for (const auto& scope : scopes)
        if (!scope.is_string()) return false;
    }
  }
  return true;
}

// auth.openapi: {securitySchemes | security_schemes: {name: {type, ...}}, security: [...],
// paths: {"/path": {METHOD: [...]}}}. Only /openapi.json reads it.
void validate_auth_openapi(const json& openapi, const fs::path& file) {
  const std::string f = file.string();
  if (!openapi.is_object()) throw StartupError(fmt::format("{}: \"auth.openapi\" must be an object", f));
  if (openapi.contains("securitySchemes") && openapi.contains("security_schemes"))
    throw StartupError(
        fmt::format("{}: \"auth.openapi\" has both \"securitySchemes\" and \"security_schemes\"; keep one", f));
  static const std::set<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
  for (const auto& [key, value] : openapi.items()) {
    if (key == "securitySchemes" || key == "security_schemes") {
      if (!value.is_object())
        throw StartupError(fmt::format("{}: \"auth.openapi.{}\" must be an object: scheme name -> scheme", f, key));
      for (const auto& [name, scheme] : value.items())
        if (!scheme.is_object() || !scheme.contains("type") || !scheme["type"].is_string())
          throw StartupError(fmt::format(
              "{}: \"auth.openapi.{}.{}\" must be an object with a string \"type\" (an OpenAPI security scheme)", f,
              key, name));
    } else if (key == "security") {
      if (!is_security_requirements(value))
        throw StartupError(fmt::format(
            "{}: \"auth.openapi.security\" must be a list of objects {{scheme name: [scopes]}}", f));
    } else if (key == "paths") {
      if (!value.is_object())
        throw StartupError(fmt::format("{}: \"auth.openapi.paths\" must be an object: path -> {{METHOD: security}}", f));
      for (const auto& [path, methods] : value.items()) {
        if (!methods.is_object())
          throw StartupError(fmt::format("{}: \"auth.openapi.paths.{}\" must be an object: METHOD -> security", f, path));
        for (const auto& [method, security] : methods.items()) {
          std::string lower = method;
          std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
          if (!kMethods.count(lower))
            throw StartupError(fmt::format("{}: \"auth.openapi.paths.{}.{}\": not an HTTP method", f, path, method));
          if (!is_security_requirements(security))
            throw StartupError(fmt::format(
                "{}: \"auth.openapi.paths.{}.{}\" must be a list of objects {{scheme name: [scopes]}}", f, path,
                method));
        }
      }
    } else {
      throw StartupError(fmt::format("{}: \"auth.openapi.{}\" is not an OpenAPI setting this server knows "
                                     "(securitySchemes, security, paths)",
                                     f, key));
    }
  }
}

AuthConfig parse_auth(const json& auth, const fs::path& file) {
  if (!auth.is_object()) throw StartupError(fmt::format("{}: \"auth\" must be an object", file.string()));
  if (!auth.contains("path") || !auth["path"].is_string())
    throw StartupError(fmt::format("{}: \"auth.path\" must be a string \"path/to/lib.so:symbol\"", file.string()));
  AuthConfig out;
  out.plugin = parse_plugin_ref("auth.path", auth["path"].get<std::string>(), file.parent_path());
  for (const auto& [key, value] : auth.items()) {
    if (key == "disable_studio_auth") {
      if (!value.is_boolean())
        throw StartupError(fmt::format("{}: \"auth.disable_studio_auth\" must be true or false", file.string()));
      out.disable_studio_auth = value.get<bool>();
    } else if (key == "openapi") {
      validate_auth_openapi(value, file);
      out.openapi = value;
    } else if (key == "cache") {
      out.cache_settings = parse_auth_cache(value, file);
      out.cache = value;
    } else if (!kAuthServerKeys.count(key)) {
      out.plugin_config[key] = value;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_env(const json& env, const fs::path& file) {
  if (env.is_string()) {
    fs::path path = env.get<std::string>();
    if (path.is_relative()) path = file.parent_path() / path;
    return parse_dotenv(read_file(path, file, "env file"));
  }
  if (!env.is_object())
    throw StartupError(fmt::format("{}: \"env\" must be a .env file path or an object of strings", file.string()));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : env.items()) {
    if (value.is_string()) out.emplace_back(key, value.get<std::string>());
    else if (value.is_number() || value.is_boolean()) out.emplace_back(key, value.dump());
    else throw StartupError(fmt::format("{}: \"env.{}\" must be a string", file.string(), key));
  }
  return out;
}

}  // namespace

PluginRef parse_plugin_ref(const std::string& key, const std::string& spec, const fs::path& base_dir) {
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
    throw StartupError(fmt::format("\"{}\" is \"{}\": expected \"path/to/lib.so:symbol\"", key, spec));
  PluginRef ref;
  ref.key = key;
  ref.spec = spec;
  ref.library = fs::path(spec.substr(0, colon));
  if (ref.library.is_relative()) ref.library = (base_dir / ref.library).lexically_normal();
  ref.symbol = spec.substr(colon + 1);
  return ref;
}

std::vector<std::pair<std::string, std::string>> parse_dotenv(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream lines(text);
  std::string line;
  auto trim = [](std::string s) {
    const auto b = s.find_first_not_of(" \t\r");
    const auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  while (std::getline(lines, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (const auto hash = value.find(" #"); hash != std::string::npos) {
      value = trim(value.substr(0, hash));
    }
    if (!key.empty()) out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

void apply_env(const std::vector<std::pair<std::string, std::string>>& env) {
  for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), /*overwrite=*/0);
}

Config load_config(const fs::path& requested) {
  Config config;
  config.file = fs::absolute(requested).lexically_normal();
  const fs::path& file = config.file;
  if (!fs::exists(file)) throw StartupError(fmt::format("{}: config file not found", file.string()));

  json root;
  try {
    root = json::parse(read_file(file, file, "config file"));
  } catch (const json::parse_error& e) {
    // nlohmann's message names the byte offset; say it as invalid JSON.
    throw StartupError(fmt::format("{}: invalid JSON: {}", file.string(), e.what()));
  }
  if (!root.is_object()) throw StartupError(fmt::format("{}: the top level must be a JSON object", file.string()));

  for (const auto& [key, value] : root.items()) {
    if (key == "graphs") {
      if (!value.is_object())
        throw StartupError(fmt::format("{}: \"graphs\" must be an object of graph id -> \"lib.so:symbol\"", file.string()));
      for (const auto& [graph_id, spec] : value.items()) {
        if (!spec.is_string())
          throw StartupError(fmt::format("{}: \"graphs.{}\" must be a string \"path/to/lib.so:symbol\"", file.string(), graph_id));
        try {
          config.graphs.emplace_back(graph_id, parse_plugin_ref("graphs." + graph_id, spec.get<std::string>(), file.parent_path()));
        } catch (const StartupError& e) {
          throw StartupError(fmt::format("{}: {}", file.string(), e.what()));
        }
      }
    } else if (key == "auth") {
      if (value.is_null()) continue;
      try {
        config.auth = parse_auth(value, file);
      } catch (const StartupError& e) {
        const std::string what = e.what();
        throw StartupError(what.rfind(file.string(), 0) == 0 ? what : fmt::format("{}: {}", file.string(), what));
      }
    } else if (key == "env") {
      config.env = parse_env(value, file);
    } else if (key == "http") {
      if (!value.is_object()) throw StartupError(fmt::format("{}: \"http\" must be an object", file.string()));
      for (const auto& [http_key, http_value] : value.items()) {
        if (http_key == "cors") config.cors = parse_cors(http_value, file);
        else config.warnings.push_back(fmt::format("\"http.{}\" is not used by this server; ignored", http_key));
      }
    } else if (kIgnoredLangGraphKeys.count(key)) {
      config.warnings.push_back(fmt::format("\"{}\" has no meaning for compiled plugins; ignored", key));
    } else {
      config.warnings.push_back(fmt::format("unknown key \"{}\"; ignored", key));
    }
  }
  return config;
}

}  // namespace lgs
