// GET /ok and GET /info: answered without authentication.
#include "api/api.hpp"
#include "http/responses.hpp"

namespace lgs {

void add_meta_routes(Router& router, Services& services) {
  router.add("GET", "/ok", [](const ApiRequest&, HttpResponse& res) { send_json(res, 200, {{"ok", true}}); },
             Access::open);
  router.add(
      "GET", "/info",
      [&services](const ApiRequest&, HttpResponse& res) {
        send_json(res, 200,
                  {{"version", services.version},
                   {"server", "langgraph-server"},
                   {"flags", {{"assistants", true}, {"crons", false}, {"langsmith", false}}}});
      },
      Access::open);
}

}  // namespace lgs
