// Tutorial part 1, "Set up custom authentication": two hard-coded users behind bearer tokens.
#include "../common/tutorial_users.hpp"

using namespace langgraph::auth;

static Auth make() {
  Auth auth;
  auth.authenticate(tutorial::authenticate);
  return auth;
}

LANGGRAPH_EXPORT_AUTH(auth, make)
