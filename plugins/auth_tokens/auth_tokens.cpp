// Tutorial part 1, "Set up custom authentication": two hard-coded users behind bearer tokens.
// A toy user database: do not do this in production (see plugins/auth_jwt for real accounts).
#include <langgraph/auth.hpp>

#include <array>

using namespace langgraph::auth;

struct Account {
  const char* token;
  const char* identity;
  const char* name;
};

static constexpr std::array<Account, 2> kAccounts{{
    {"user1-token", "user1", "Alice"},
    {"user2-token", "user2", "Bob"},
}};

static Auth make() {
  Auth auth;
  auth.authenticate([](const Request& req) -> User {
    const auto token = req.bearer_token();
    const Account* match = nullptr;
    for (const auto& account : kAccounts)  // every token is compared: no early exit to time
      if (constant_time_equals(token, account.token)) match = &account;
    if (token.empty() || !match) throw HttpException(401, "Invalid token", {{"WWW-Authenticate", "Bearer"}});
    return User{.identity = match->identity, .display_name = match->name};
  });
  return auth;
}

LANGGRAPH_EXPORT_AUTH(auth, make)
