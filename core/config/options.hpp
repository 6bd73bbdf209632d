// Command-line flags, each also readable from an environment variable.
#pragma once

#include <string>
#include <vector>

namespace lgs {

struct Options {
  std::string config = "langgraph.json";
  std::string host = "127.0.0.1";
  int port = 2024;
  int workers = 16;  // a run mostly waits (for the disk, or for the services its nodes call)
  int http_threads = 512;
  std::string database_uri;  // "": SQLite in the data folder beside the config (open_storage)
  bool dev = false;  // let LangGraph Studio's header in from loopback clients
  bool help = false;
  bool version = false;
};

// Flags win over environment variables, which win over defaults. Throws StartupError on a
// bad flag or value.
Options parse_options(const std::vector<std::string>& args);
std::string usage();

}  // namespace lgs
