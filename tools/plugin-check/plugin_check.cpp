// langgraph-plugin-check: loads an auth or graph plugin the way langgraph-server does, prints
// what it declares, and runs an auth plugin's authenticate against a request described on the
// command line.
//
//   langgraph-plugin-check LIB.so:SYMBOL [--config JSON|@FILE] [--header 'Name: value']...
//                          [--method M] [--path P] [--kind auth|graph] [--graph-id ID]
//
// Exit codes: 0 the plugin loaded (and authenticate allowed the request), 1 authenticate
// rejected or failed, 2 the plugin cannot be loaded (the server's own one-line message),
// 64 bad usage.
#include <langgraph/abi.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "config/config.hpp"
#include "config/startup_error.hpp"
#include "http/responses.hpp"
#include "plugin/auth_plugin.hpp"
#include "plugin/graph_plugin.hpp"
#include "plugin/host_sink.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRejected = 1;
constexpr int kExitLoadError = 2;
constexpr int kExitUsage = 64;

constexpr const char* kUsage = R"(usage: langgraph-plugin-check LIB.so:SYMBOL [options]

Loads a plugin the way langgraph-server does and prints its kind, ABI version, name and
what it declares (an auth plugin's authorization handlers, a graph's channels, nodes and
edges). For an auth plugin it then runs authenticate on the request described by the
options and prints the user it returns, or the HTTP error the client would get.

options:
  --config JSON|@FILE   the auth plugin's configuration: a JSON object, or @FILE to read it
                        from a file. It may be the "auth" object of langgraph.json ("path",
                        "disable_studio_auth", "openapi" and "cache" are removed as the server
                        does), or @langgraph.json itself: its auth section is used and its
                        "env" applied, as the server does. Default {}.
  --header 'Name: value'  a request header (repeatable), e.g. 'Authorization: Bearer t0k3n'
  --method M            the request method (default POST)
  --path P              the request path, may carry ?query=parameters (default /threads/search)
  --path-param N=V      a path parameter such as thread_id (repeatable)
  --client ADDR         the client address the plugin sees (default 127.0.0.1)
  --kind auth|graph     what the plugin is; by default read from its descriptor
  --graph-id ID         the graph id to name it by (default: the library's file name)
  --load-only           load and describe; do not call authenticate
  -h, --help            this text

exit codes: 0 loaded (and the request was allowed), 1 authenticate rejected or failed the
request, 2 the plugin cannot be loaded (the line the server would print), 64 bad usage.
)";

struct Args {
  std::string spec;
  std::string config_text;  // as given to --config
  lgs::json config = lgs::json::object();
  lgs::Pairs headers;
  lgs::Pairs path_params;
  std::string method = "POST";
  std::string path = "/threads/search";
  std::string client = "127.0.0.1";
  std::string kind;  // "", "auth" or "graph"
  std::string graph_id;
  bool load_only = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "langgraph-plugin-check: {}\n(run with --help for usage)\n", message);
  std::exit(kExitUsage);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// --config: a JSON object, or @FILE. A langgraph.json (a file with an "auth" object) is read the
// way the server reads it: its auth section's plugin keys, and its "env" applied first.
lgs::json parse_config(const std::string& text) {
  std::string source = text;
  if (!text.empty() && text[0] == '@') {
    std::ifstream in(text.substr(1), std::ios::binary);
    if (!in) usage_error(fmt::format("--config: cannot read {}", text.substr(1)));
    std::ostringstream all;
    all << in.rdbuf();
    source = all.str();
  }
  lgs::json config = lgs::json::parse(source, nullptr, false);
  if (config.is_discarded() || !config.is_object()) usage_error("--config must be a JSON object (or @file holding one)");
  if (text[0] == '@' && config.contains("auth") && config["auth"].is_object() && config["auth"].contains("path")) {
    const lgs::Config file = lgs::load_config(text.substr(1));  // throws StartupError
    lgs::apply_env(file.env);
    return file.auth->plugin_config;
  }
  for (const char* server_key : {"path", "disable_studio_auth", "openapi", "cache"}) config.erase(server_key);
  return config;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

lgs::Pairs parse_query(const std::string& query) {
  lgs::Pairs out;
  std::istringstream parts(query);
  std::string part;
  while (std::getline(parts, part, '&')) {
    if (part.empty()) continue;
    const auto eq = part.find('=');
    out.emplace_back(percent_decode(part.substr(0, eq)), eq == std::string::npos ? "" : percent_decode(part.substr(eq + 1)));
  }
  return out;
}

Args parse_args(int argc, char** argv) {
  Args args;
  auto value = [&](int& i, const std::string& flag) -> std::string {
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      std::exit(kExitOk);
    } else if (arg == "--config") {
      args.config_text = value(i, arg);
    } else if (arg == "--header" || arg == "-H") {
      const std::string header = value(i, arg);
      const auto colon = header.find(':');
      if (colon == std::string::npos || colon == 0) usage_error("--header must look like 'Name: value'");
      args.headers.emplace_back(lower(trim(header.substr(0, colon))), trim(header.substr(colon + 1)));
    } else if (arg == "--method") {
      args.method = value(i, arg);
    } else if (arg == "--path") {
      args.path = value(i, arg);
    } else if (arg == "--path-param") {
      const std::string param = value(i, arg);
      const auto eq = param.find('=');
      if (eq == std::string::npos || eq == 0) usage_error("--path-param must look like name=value");
      args.path_params.emplace_back(param.substr(0, eq), param.substr(eq + 1));
    } else if (arg == "--client") {
      args.client = value(i, arg);
    } else if (arg == "--kind") {
      args.kind = value(i, arg);
      if (args.kind != "auth" && args.kind != "graph") usage_error("--kind must be auth or graph");
    } else if (arg == "--graph-id") {
      args.graph_id = value(i, arg);
    } else if (arg == "--load-only") {
      args.load_only = true;
    } else if (!arg.empty() && arg[0] == '-') {
      usage_error("unknown option " + arg);
    } else if (args.spec.empty()) {
      args.spec = arg;
    } else {
      usage_error("only one plugin LIB.so:SYMBOL may be given");
    }
  }
  if (args.spec.empty()) usage_error("no plugin given: LIB.so:SYMBOL");
  return args;
}

// The descriptor the entry function returns, read without the server's checks, to tell an auth
// plugin from a graph and to show the ABI version and name. Null when it cannot be reached (the
// real load then reports why). The handle stays open for the life of the process.
const lg_auth_plugin* peek_descriptor(const lgs::PluginRef& ref) {
  void* handle = dlopen(ref.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return nullptr;
  void* entry = dlsym(handle, ref.symbol.c_str());
  if (!entry) return nullptr;
  return reinterpret_cast<lg_auth_entry>(entry)();
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// The authorization events the plugin registered, as it tells the server when created: a fresh
// instance is made for this and destroyed. Null when the plugin does not list them.
std::optional<std::vector<std::string>> listed_handlers(const lg_auth_plugin* descriptor, const lgs::json& config) {
  lgs::HostSink sink;
  const std::string text = config.dump();
  void* instance = descriptor->create(lgs::HostSink::str(text), sink.get());
  if (!instance) return std::nullopt;
  descriptor->destroy(instance);
  const std::string* listed = sink.json("handlers");
  if (!listed) return std::nullopt;
  const lgs::json handlers = lgs::json::parse(*listed, nullptr, false);
  if (!handlers.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& key : handlers)
    if (key.is_string()) out.push_back(key.get<std::string>());
  return out;
}

int check_auth(const Args& args, const lgs::PluginRef& ref, const lg_auth_plugin* peeked) {
  lgs::AuthConfig config;
  config.plugin = ref;
  config.plugin_config = args.config;
  const auto plugin = lgs::AuthPlugin::load(config);  // throws StartupError

  fmt::print("kind: auth\n");
  fmt::print("abi_version: {}\n", peeked ? peeked->abi_version : LG_ABI_VERSION);
  fmt::print("name: {}\n", plugin->name());
  if (!peeked || !peeked->authorize) {
    fmt::print("authorization handlers: none (every authenticated request is allowed)\n");
  } else if (const auto handlers = listed_handlers(peeked, args.config)) {
    fmt::print("authorization handlers: {}\n",
               handlers->empty() ? "none (every authenticated request is allowed)" : join(*handlers));
  } else {
    fmt::print("authorization handlers: not listed (the server asks the plugin about every operation)\n");
  }
  if (args.load_only) return kExitOk;

  std::string path = args.path;
  lgs::Pairs query;
  if (const auto mark = path.find('?'); mark != std::string::npos) {
    query = parse_query(path.substr(mark + 1));
    path = path.substr(0, mark);
  }
  fmt::print("request: {} {}\n", args.method, args.path);
  const lgs::AuthRequest request{args.method, path, args.client, args.headers, query, args.path_params};
  const lgs::AuthDecision decision = plugin->authenticate(request);
  switch (decision.kind) {
    case lgs::AuthDecision::Kind::allowed: {
      lgs::json user = decision.user.object;
      user["permissions"] = decision.user.permissions;
      fmt::print("authenticate: allowed\n");
      fmt::print("identity: {}\n", decision.user.identity);
      fmt::print("user: {}\n", user.dump());
      return kExitOk;
    }
    case lgs::AuthDecision::Kind::rejected: {
      const std::string detail = decision.detail.empty() ? lgs::reason_phrase(decision.status) : decision.detail;
      fmt::print("authenticate: rejected\n");
      fmt::print("status: {}\n", decision.status);
      fmt::print("detail: {}\n", detail);
      for (const auto& [name, value] : decision.headers) fmt::print("header: {}: {}\n", name, value);
      fmt::print("body: {}\n", lgs::json{{"detail", detail}}.dump());
      return kExitRejected;
    }
    case lgs::AuthDecision::Kind::failed:
    default:
      fmt::print("authenticate: failed\n");
      fmt::print("status: {}\n", decision.status);
      fmt::print("detail: {}\n", decision.detail);
      fmt::print("log: {}\n", decision.reason);  // what the server logs; never sent to the client
      return kExitRejected;
  }
}

std::string node_list(const std::vector<std::string>& nodes) { return nodes.empty() ? "none" : join(nodes); }

int check_graph(const Args& args, const lgs::PluginRef& ref, const lg_auth_plugin* peeked) {
  const std::string graph_id = ref.key.substr(std::string("graphs.").size());
  const auto plugin = lgs::GraphPlugin::load(graph_id, ref);  // throws StartupError
  const lgs::GraphSpec& spec = plugin->spec();
  fmt::print("kind: graph\n");
  fmt::print("abi_version: {}\n", peeked ? peeked->abi_version : LG_ABI_VERSION);
  fmt::print("name: {}\n", peeked && peeked->name ? peeked->name : ref.symbol);
  std::vector<std::string> channels;
  for (const auto& [name, reducer] : spec.channels) channels.push_back(name + " (" + reducer + ")");
  fmt::print("channels: {}\n", node_list(channels));
  fmt::print("nodes: {}\n", node_list(spec.nodes));
  std::vector<std::string> edges;
  for (const auto& [from, to] : spec.edges) edges.push_back(from + " -> " + to);
  fmt::print("edges: {}\n", node_list(edges));
  for (const auto& branch : spec.branches)
    fmt::print("conditional edge: {} -> {}\n", branch.source,
               branch.destinations.empty() ? "(any node)" : join(branch.destinations, " | "));
  if (!spec.interrupt_before.empty()) fmt::print("interrupt_before: {}\n", join(spec.interrupt_before));
  if (!spec.interrupt_after.empty()) fmt::print("interrupt_after: {}\n", join(spec.interrupt_after));
  if (!args.headers.empty() && !args.load_only)
    fmt::print(stderr, "langgraph-plugin-check: note: --header is for auth plugins; ignored for a graph\n");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  try {
    if (!args.config_text.empty()) args.config = parse_config(args.config_text);
    // Where a relative library is resolved: the current folder, as for a langgraph.json there.
    lgs::PluginRef ref = lgs::parse_plugin_ref("auth.path", args.spec, std::filesystem::current_path());
    const lg_auth_plugin* peeked = std::filesystem::exists(ref.library) ? peek_descriptor(ref) : nullptr;
    std::string kind = args.kind;
    if (kind.empty())  // a graph descriptor is the larger one; anything unreadable is checked as auth
      kind = peeked && peeked->struct_size >= sizeof(lg_graph_plugin) ? "graph" : "auth";
    if (kind == "graph") {
      ref.key = "graphs." + (args.graph_id.empty() ? ref.library.stem().string() : args.graph_id);
      return check_graph(args, ref, peeked);
    }
    return check_auth(args, ref, peeked);
  } catch (const lgs::StartupError& e) {
    fmt::print(stderr, "langgraph-plugin-check: error: {}\n", e.what());
    return kExitLoadError;
  }
}
