// The tutorial's toy user database, shared by the tutorial's auth plugins. Do not do this in
// production: see auth_jwt for real accounts.
#pragma once

#include <langgraph/auth.hpp>

#include <array>

namespace tutorial {

struct Account {
  const char* token;
  const char* identity;
  const char* name;
};

inline constexpr std::array<Account, 2> kAccounts{{
    {"user1-token", "user1", "Alice"},
    {"user2-token", "user2", "Bob"},
}};

// The user behind "Authorization: Bearer <token>"; 401 "Invalid token" for anything else.
inline langgraph::auth::User authenticate(const langgraph::auth::Request& req) {
  using namespace langgraph::auth;
  const auto token = req.bearer_token();
  const Account* match = nullptr;
  for (const auto& account : kAccounts)  // every token is compared: no early exit to time
    if (constant_time_equals(token, account.token)) match = &account;
  if (token.empty() || !match) throw HttpException(401, "Invalid token", {{"WWW-Authenticate", "Bearer"}});
  return User{.identity = match->identity, .display_name = match->name};
}

}  // namespace tutorial
