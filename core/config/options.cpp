#include "config/options.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "config/startup_error.hpp"

namespace lgs {

namespace {

struct Flag {
  const char* name;
  const char* env;
  const char* help;
};

constexpr Flag kFlags[] = {
    {"--config", "LANGGRAPH_CONFIG", "langgraph.json to serve (default: ./langgraph.json)"},
    {"--host", "LANGGRAPH_HOST", "address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)"},
    {"--port", "LANGGRAPH_PORT", "port to listen on (default: 2024)"},
    {"--workers", "LANGGRAPH_WORKERS", "background run workers: runs executing at once (default: 16)"},
    {"--http-threads", "LANGGRAPH_HTTP_THREADS",
     "HTTP worker threads; each open connection holds one (default: 512)"},
    {"--database-uri", "DATABASE_URI",
     "postgres://user:pass@host/db, sqlite:PATH or :memory: (default: SQLite in .langgraph_data/ beside the config)"},
};

int parse_int(const std::string& flag, const std::string& text, int min, int max) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= min && value <= max) return value;
  } catch (const std::exception&) {
  }
  throw StartupError(fmt::format("{} must be an integer between {} and {}, got \"{}\"", flag, min, max, text));
}

void set(Options& o, const std::string& flag, const std::string& value) {
  if (flag == "--config") o.config = value;
  else if (flag == "--host") o.host = value;
  else if (flag == "--port") o.port = parse_int(flag, value, 0, 65535);
  else if (flag == "--workers") o.workers = parse_int(flag, value, 1, 1024);
  else if (flag == "--http-threads") o.http_threads = parse_int(flag, value, 8, 4096);
  else if (flag == "--database-uri") o.database_uri = value;
}

}  // namespace

std::string usage() {
  std::string text =
      "Usage: langgraph-server [--config PATH] [--host HOST] [--port PORT] [--workers N] [--http-threads N]\n"
      "                        [--database-uri URI] [--dev]\n\n"
      "Serves the LangGraph Agent Server API for the graphs and the auth plugin named in langgraph.json.\n\n"
      "Flags (each also read from the environment variable shown; a flag wins):\n";
  for (const auto& f : kFlags) text += fmt::format("  {:<16} {:<24} {}\n", f.name, f.env, f.help);
  text += fmt::format("  {:<16} {:<24} {}\n", "--dev", "",
                      "development: requests from loopback with x-auth-scheme: langsmith run as the Studio user");
  text += fmt::format("  {:<16} {:<24} {}\n", "", "LANGGRAPH_STUDIO_KEY",
                      "a secret: requests with x-auth-scheme: langsmith and x-studio-key: <it> run as the Studio user");
  text += fmt::format("  {:<16} {:<24} {}\n", "--help", "", "print this help and exit");
  text += fmt::format("  {:<16} {:<24} {}\n", "--version", "", "print the version and exit");
  text += "\nExit codes: 0 after SIGINT/SIGTERM, 2 when the configuration or a plugin is invalid.\n";
  return text;
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  for (const auto& f : kFlags)
    if (const char* value = std::getenv(f.env); value && *value) set(o, f.name, value);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg == "--dev") {
      o.dev = true;
      continue;
    }
    if (arg == "--version") {
      o.version = true;
      continue;
    }
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      bool known = false;
      for (const auto& f : kFlags) known |= arg == f.name;
      throw StartupError(known ? fmt::format("{} needs a value", arg) : fmt::format("unknown flag {} (see --help)", arg));
    }
    bool known = false;
    for (const auto& f : kFlags) known |= arg == f.name;
    if (!known) throw StartupError(fmt::format("unknown flag {} (see --help)", arg));
    set(o, arg, value);
  }
  return o;
}

}  // namespace lgs
