// GET /ok and GET /info: answered without authentication.
#include "api/api.hpp"
#include "http/responses.hpp"

namespace lgs {

void add_meta_routes(Router& router, Services& services) {
  // ?check_db=1 also asks the database (a 503 when it cannot serve), as LangGraph's servers do.
  router.add(
      "GET", "/ok",
      [&services](const ApiRequest& req, HttpResponse& res) {
        const std::string check_db = req.query("check_db").value_or("0");
        if (check_db != "0" && check_db != "1") throw ApiError{422, "\"check_db\" must be 0 or 1"};
        if (check_db == "1") services.storage.check();
        send_json(res, 200, {{"ok", true}});
      },
      Access::open);
  router.add(
      "GET", "/info",
      [&services](const ApiRequest&, HttpResponse& res) {
        send_json(res, 200,
                  {{"version", services.version},
                   {"server", "langgraph-server"},
                   {"flags", {{"assistants", true}, {"crons", true}, {"langsmith", false}}}});
      },
      Access::open);
}

}  // namespace lgs
