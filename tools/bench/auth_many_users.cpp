// The persistence benchmark's auth plugin (tools/bench/search.sh): ten thousand users whose
// bearer tokens are their identities, "user-0" to "user-9999", with auth_owner's global
// authorization: the owner is stamped on what is created and every read is filtered by it. A
// benchmark fixture, not an example to follow: anyone who knows a user's name is that user.
#include <langgraph/auth.hpp>

#include <charconv>
#include <string>
#include <string_view>

using namespace langgraph::auth;

namespace {

constexpr int kUsers = 10000;

// True when `token` is "user-N" with 0 <= N < kUsers, written without leading zeros (one token
// per user).
bool is_user_token(std::string_view token) {
  constexpr std::string_view prefix = "user-";
  if (token.size() <= prefix.size() || token.substr(0, prefix.size()) != prefix) return false;
  const std::string_view digits = token.substr(prefix.size());
  if (digits.size() > 1 && digits.front() == '0') return false;
  int n = -1;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return error == std::errc() && end == digits.data() + digits.size() && n >= 0 && n < kUsers;
}

Auth make() {
  Auth auth;
  auth.authenticate([](const Request& req) -> User {
    const std::string_view token = req.bearer_token();
    if (!is_user_token(token)) throw HttpException(401, "Invalid token", {{"WWW-Authenticate", "Bearer"}});
    User user;
    user.identity = std::string(token);
    return user;
  });
  // As plugins/auth_owner: stamp the owner on what is created or updated (a run's metadata too),
  // and only show the user's own; reads, searches and deletes are decided without the value.
  auth.on(
      [](const AuthContext& ctx, Value& value) -> Result {
        if (is_studio_user(ctx.user)) return allow();
        if (ctx.action == "create" || ctx.action == "update" || ctx.action == "create_run")
          value["metadata"]["owner"] = ctx.user.identity;
        Value mine;
        mine["owner"] = ctx.user.identity;
        return filter(std::move(mine));
      },
      value_for({"create", "update", "create_run"}));
  return auth;
}

}  // namespace

LANGGRAPH_EXPORT_AUTH(auth, make)
