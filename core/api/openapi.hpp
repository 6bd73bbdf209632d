// GET /openapi.json and GET /docs: the API this server serves, described in OpenAPI 3.1 and
// rendered as an HTML page whose assets are compiled into the binary. Both are open routes.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/router.hpp"

namespace lgs {

struct OpenApiOptions {
  std::string version;       // the server's version, as info.version
  bool auth_enabled = false;  // an auth plugin is loaded: protected operations need credentials
  json auth_openapi = json::object();  // langgraph.json's auth.openapi (validated by config)
};

// The document for every route `router` holds (the docs routes themselves left out). Operations
// this file knows get their summary, parameters and schemas; any other route gets a generic
// entry. `warnings` receives one line per auth.openapi.paths entry that names no operation.
json build_openapi(const Router& router, const OpenApiOptions& options, std::vector<std::string>* warnings = nullptr);

// Adds GET /openapi.json, GET /docs and the page's assets (/docs/app.js, /docs/app.css). Call it
// after every other route is added: the document is built here, once, from the router.
void add_openapi_routes(Router& router, const OpenApiOptions& options);

}  // namespace lgs
