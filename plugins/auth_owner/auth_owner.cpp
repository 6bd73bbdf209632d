// Tutorial part 2, "Make conversations private": every resource belongs to the user who
// created it. The tutorial's tokens authenticate; handlers stamp and filter by owner.
#include "../common/tutorial_users.hpp"

using namespace langgraph::auth;

// {"owner": <the user's identity>}: only the user's own resources.
static Result own(const AuthContext& ctx) {
  Value mine;
  mine["owner"] = ctx.user.identity;
  return filter(std::move(mine));
}

static Auth make() {
  Auth auth;
  auth.authenticate(tutorial::authenticate);

  // Everything: stamp the owner on what is created or updated (a run's and a cron's metadata
  // too), and only show the user's own. Only those actions read the value: reads, searches and deletes are
  // decided without it, so the server does not even send it.
  auth.on(
      [](const AuthContext& ctx, Value& value) -> Result {
        if (is_studio_user(ctx.user)) return allow();
        if (ctx.action == "create" || ctx.action == "update" || ctx.action == "create_run")
          value["metadata"]["owner"] = ctx.user.identity;
        return own(ctx);
      },
      value_for({"create", "update", "create_run"}));

  // Assistants are managed by operators, not users. (Runs on the graphs' own assistants still
  // work: the server lets anyone who may create a run use them.)
  auth.on("assistants", [](const AuthContext& ctx) -> Result {
    if (is_studio_user(ctx.user)) return allow();
    throw HttpException(403, "User lacks the required permissions.");
  });

  // The store: a user's namespaces start with their identity. Searching or listing without
  // a namespace looks in the user's own.
  auth.on("store", [](const AuthContext& ctx, Value& value) -> Result {
    if (is_studio_user(ctx.user)) return allow();
    Value& ns = value["namespace"];
    const bool browsing = ctx.action == "search" || ctx.action == "list_namespaces";
    if (browsing && (!ns.is_array() || ns.empty())) ns = Value::array({ctx.user.identity});
    if (!ns.is_array() || ns.empty() || ns[0] != ctx.user.identity) throw HttpException(403, "Not authorized");
    return allow();
  });
  return auth;
}

LANGGRAPH_EXPORT_AUTH(auth, make)
