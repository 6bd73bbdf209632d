// Tutorial part 3, "Connect an authentication provider", with no code to write: an auth plugin
// configured entirely from the `auth` section of langgraph.json. Two modes:
//
//  - local verification of bearer JWTs (HS256/384/512, RS256/384/512, PS256/384/512,
//    ES256/384/512, EdDSA) with keys from a secret in an environment variable, PEM files, a JWKS
//    file and/or a JWKS URL fetched over HTTPS (cached, refetched on an unknown kid);
//  - remote validation: the caller's Authorization header is forwarded to a user-info URL
//    (Supabase's /auth/v1/user, an OIDC userinfo endpoint) and the user it returns is accepted.
//
// Every key is described in plugins/auth_jwt/README.md. Crypto is OpenSSL 3 (see jwt.hpp for why
// no JWT library); HTTPS is cpp-httplib's client, which Debian builds with OpenSSL.
#include <langgraph/auth.hpp>

#include "jwt.hpp"

#include <httplib.h>
#include <openssl/evp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

using namespace langgraph::auth;
using auth_jwt::Key;
using auth_jwt::TokenError;

namespace {

using Clock = std::chrono::steady_clock;

void log_line(const std::string& message) { std::fprintf(stderr, "auth_jwt: %s\n", message.c_str()); }

std::string escape_quoted(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c >= 0x20 && c < 0x7f) out.push_back(c);
  }
  return out;
}

// Caller-controlled text (a token's alg) shown in a detail: printable ASCII, bounded.
std::string printable(std::string_view text, size_t max = 24) {
  std::string out;
  for (char c : text.substr(0, max)) out.push_back(c > 0x20 && c < 0x7f ? c : '?');
  if (text.size() > max) out += "...";
  return out;
}

[[noreturn]] void reject(const std::string& detail) {
  throw HttpException(401, detail,
                      {{"WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"" +
                                                escape_quoted(detail) + "\""}});
}

[[noreturn]] void missing_token() {
  throw HttpException(401, "Missing bearer token", {{"WWW-Authenticate", "Bearer"}});
}

[[noreturn]] void unavailable() {
  throw HttpException(503, "Identity provider unavailable", {{"Retry-After", "5"}});
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// Configuration

const std::set<std::string> kKnownKeys = {
    "algorithms", "secret_env", "secret_base64", "public_key_files", "public_key_file", "jwks_file",
    "jwks_url", "jwks_cache_seconds", "jwks_min_refresh_seconds", "ca_file", "timeout_seconds",
    "allow_http", "issuer", "audience", "leeway_seconds", "required_claims", "max_token_age_seconds",
    "identity_claim", "display_name_claim", "permissions_claims", "claims_to_user", "userinfo_url",
    "userinfo_headers_env", "userinfo_cache_seconds", "userinfo_cache_max_entries"};

std::vector<std::string> string_list(const json& config, const char* name, bool allow_single = true) {
  if (!config.contains(name)) return {};
  const json& value = config[name];
  if (allow_single && value.is_string()) return {value.get<std::string>()};
  if (!value.is_array()) throw std::invalid_argument(std::string(name) + " must be a list of strings");
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string() || item.get<std::string>().empty())
      throw std::invalid_argument(std::string(name) + " must be a list of non-empty strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string string_value(const json& config, const char* name, std::string fallback = {}) {
  if (!config.contains(name)) return fallback;
  if (!config[name].is_string()) throw std::invalid_argument(std::string(name) + " must be a string");
  return config[name].get<std::string>();
}

double number_value(const json& config, const char* name, double fallback, double min, double max) {
  if (!config.contains(name)) return fallback;
  if (!config[name].is_number()) throw std::invalid_argument(std::string(name) + " must be a number");
  const double value = config[name].get<double>();
  if (!(value >= min && value <= max))
    throw std::invalid_argument(std::string(name) + " must be between " + std::to_string(min) + " and " +
                                std::to_string(max));
  return value;
}

bool bool_value(const json& config, const char* name, bool fallback) {
  if (!config.contains(name)) return fallback;
  if (!config[name].is_boolean()) throw std::invalid_argument(std::string(name) + " must be true or false");
  return config[name].get<bool>();
}

struct Endpoint {
  std::string url;
  std::string origin;  // scheme://host[:port]
  std::string path;    // /path?query
};

Endpoint parse_url(const std::string& url, const char* key, bool allow_http) {
  const bool https = url.rfind("https://", 0) == 0;
  const bool http = url.rfind("http://", 0) == 0;
  if (!https && !(http && allow_http))
    throw std::invalid_argument(std::string(key) + " must be an https:// URL" +
                                (http ? " (set allow_http to use plain http)" : ""));
  const size_t host_start = url.find("://") + 3;
  const size_t slash = url.find('/', host_start);
  Endpoint ep;
  ep.url = url;
  ep.origin = url.substr(0, slash);
  ep.path = slash == std::string::npos ? "/" : url.substr(slash);
  if (ep.origin.size() <= host_start) throw std::invalid_argument(std::string(key) + " has no host");
  return ep;
}

constexpr size_t kMaxProviderAnswer = 1 << 20;

struct HttpSettings {
  std::string ca_file;
  double timeout_seconds = 5;
};

struct HttpResult {
  int status = 0;       // 0: no answer (connection error, timeout, TLS failure)
  std::string body;
  std::string error;
};

HttpResult http_get(const Endpoint& ep, const HttpSettings& settings, const httplib::Headers& headers) {
  httplib::Client client(ep.origin);
  if (!settings.ca_file.empty()) client.set_ca_cert_path(settings.ca_file);
  client.enable_server_certificate_verification(true);
  const auto sec = static_cast<time_t>(settings.timeout_seconds);
  const auto usec = static_cast<time_t>((settings.timeout_seconds - static_cast<double>(sec)) * 1e6);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  client.set_follow_location(false);
  client.set_keep_alive(false);
  HttpResult out;
  auto res = client.Get(ep.path, headers, [&](const char* data, size_t length) {
    out.body.append(data, length);
    return out.body.size() <= kMaxProviderAnswer;
  });
  if (!res) {
    out.error = out.body.size() > kMaxProviderAnswer ? "answer larger than 1 MiB" : httplib::to_string(res.error());
    out.body.clear();
    return out;
  }
  out.status = res->status;
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Claims → user

struct UserMapping {
  std::vector<std::string> identity_claims;
  std::string display_name_claim;
  std::vector<std::string> permissions_claims;
  std::vector<std::pair<std::string, std::string>> claims_to_user;  // claim → user field

  static UserMapping from_config(const json& config, std::vector<std::string> default_identity) {
    UserMapping m;
    m.identity_claims = config.contains("identity_claim") ? std::vector<std::string>{string_value(config, "identity_claim")}
                                                          : std::move(default_identity);
    if (m.identity_claims.front().empty()) throw std::invalid_argument("identity_claim must not be empty");
    m.display_name_claim = string_value(config, "display_name_claim");
    m.permissions_claims = config.contains("permissions_claims")
                               ? string_list(config, "permissions_claims")
                               : std::vector<std::string>{"scope", "scp", "scopes", "permissions"};
    static const std::set<std::string> kReserved = {"identity", "display_name", "is_authenticated", "permissions"};
    if (config.contains("claims_to_user")) {
      const json& value = config["claims_to_user"];
      if (value.is_object()) {
        for (const auto& [claim, field] : value.items()) {
          if (!field.is_string()) throw std::invalid_argument("claims_to_user: field names must be strings");
          m.claims_to_user.emplace_back(claim, field.get<std::string>());
        }
      } else {
        for (const auto& claim : string_list(config, "claims_to_user", false)) m.claims_to_user.emplace_back(claim, claim);
      }
      for (const auto& [claim, field] : m.claims_to_user)
        if (kReserved.count(field))
          throw std::invalid_argument("claims_to_user: \"" + field + "\" is a reserved user field");
    }
    return m;
  }

  User map(const json& claims) const {
    User user;
    std::string used_claim;
    for (const auto& name : identity_claims) {
      auto it = claims.find(name);
      if (it == claims.end()) continue;
      if (it->is_string()) user.identity = it->get<std::string>();
      else if (it->is_number_integer()) user.identity = it->dump();
      if (!user.identity.empty()) break;
    }
    if (user.identity.empty()) reject("Token has no " + identity_claims.front() + " claim");
    if (!display_name_claim.empty()) {
      auto it = claims.find(display_name_claim);
      if (it != claims.end() && it->is_string()) user.display_name = it->get<std::string>();
    }
    std::set<std::string> seen;
    auto add = [&](const std::string& p) {
      if (!p.empty() && seen.insert(p).second) user.permissions.push_back(p);
    };
    for (const auto& name : permissions_claims) {
      auto it = claims.find(name);
      if (it == claims.end()) continue;
      if (it->is_string()) {
        std::istringstream words(it->get<std::string>());
        for (std::string word; words >> word;) add(word);
      } else if (it->is_array()) {
        for (const auto& item : *it)
          if (item.is_string()) add(item.get<std::string>());
      }
    }
    for (const auto& [claim, field] : claims_to_user) {
      auto it = claims.find(claim);
      if (it != claims.end()) user.fields[field] = *it;
    }
    return user;
  }
};

// ---------------------------------------------------------------------------------------------
// Local verification

using KeyList = std::vector<Key>;

class LocalVerifier {
 public:
  explicit LocalVerifier(const json& config) {
    const bool allow_http = bool_value(config, "allow_http", false);
    http_.ca_file = string_value(config, "ca_file");
    http_.timeout_seconds = number_value(config, "timeout_seconds", 5, 0.1, 120);
    if (!http_.ca_file.empty()) read_file(http_.ca_file);  // fail at startup, not on the first request

    if (config.contains("secret_env")) {
      const std::string var = string_value(config, "secret_env");
      const char* value = std::getenv(var.c_str());
      if (!value || !*value) throw std::invalid_argument("secret_env: environment variable " + var + " is not set");
      std::string secret = value;
      if (bool_value(config, "secret_base64", false)) {
        auto decoded = auth_jwt::base64url_decode(secret);
        if (!decoded) throw std::invalid_argument("secret_env: $" + var + " is not base64url");
        secret = *decoded;
      }
      if (secret.size() < 32)
        throw std::invalid_argument("secret_env: $" + var + " must hold at least 32 bytes (RFC 7518 §3.2)");
      static_keys_.push_back(auth_jwt::key_from_secret(std::move(secret), "secret from $" + var));
    }
    auto pem_files = string_list(config, "public_key_files");
    for (const auto& file : string_list(config, "public_key_file")) pem_files.push_back(file);
    for (const auto& file : pem_files) {
      try {
        static_keys_.push_back(auth_jwt::key_from_pem(read_file(file), "PEM file " + file));
      } catch (const std::exception& e) {
        throw std::invalid_argument("public_key_files: " + file + ": " + e.what());
      }
    }
    if (config.contains("jwks_file")) {
      const std::string file = string_value(config, "jwks_file");
      std::vector<std::string> skipped;
      try {
        auto keys = auth_jwt::keys_from_jwks(json::parse(read_file(file)), "JWKS file " + file, &skipped);
        if (keys.empty()) throw std::invalid_argument("no usable signing key");
        for (auto& key : keys) static_keys_.push_back(std::move(key));
      } catch (const std::exception& e) {
        throw std::invalid_argument("jwks_file: " + file + ": " + e.what());
      }
      for (const auto& s : skipped) log_line("jwks_file " + file + ": skipped " + s);
    }
    if (config.contains("jwks_url")) {
      jwks_url_ = parse_url(string_value(config, "jwks_url"), "jwks_url", allow_http);
      cache_for_ = seconds(number_value(config, "jwks_cache_seconds", 300, 0, 86400 * 7));
      min_refresh_ = seconds(number_value(config, "jwks_min_refresh_seconds", 10, 0, 3600));
    }
    if (static_keys_.empty() && !jwks_url_)
      throw std::invalid_argument(
          "no key configured: set secret_env, public_key_files, jwks_file or jwks_url (or userinfo_url)");

    const auto all = auth_jwt::supported_algorithms();
    if (config.contains("algorithms")) {
      for (const auto& name : string_list(config, "algorithms", false)) {
        if (!auth_jwt::find_algorithm(name))
          throw std::invalid_argument("algorithms: \"" + name + "\" is not supported (supported: " + join(all) + ")");
        allowed_.insert(name);
      }
      if (allowed_.empty()) throw std::invalid_argument("algorithms must not be empty");
    } else {
      // Every algorithm whose key family is configured: HS* only with a secret; a JWKS URL may
      // bring any public key type.
      for (const auto& name : all) {
        const auto* alg = auth_jwt::find_algorithm(name);
        bool usable = alg->kind != auth_jwt::Algorithm::hmac && jwks_url_.has_value();
        for (const auto& key : static_keys_) usable |= key.kty == alg->kty;
        if (usable) allowed_.insert(name);
      }
    }

    rules_.issuers = string_list(config, "issuer");
    rules_.audiences = string_list(config, "audience");
    rules_.required = config.contains("required_claims") ? string_list(config, "required_claims", false)
                                                         : std::vector<std::string>{"exp"};
    rules_.leeway_seconds = number_value(config, "leeway_seconds", 30, 0, 3600);
    rules_.max_age_seconds = number_value(config, "max_token_age_seconds", 0, 0, 86400 * 365);
    mapping_ = UserMapping::from_config(config, {"sub"});
  }

  User authenticate(const Request& req) {
    const std::string_view compact = req.bearer_token();
    if (compact.empty()) missing_token();
    auth_jwt::Token token;
    try {
      token = auth_jwt::parse_token(compact);
    } catch (const TokenError& e) {
      reject(e.what());
    }
    const auth_jwt::Algorithm* alg = auth_jwt::find_algorithm(token.alg);
    if (!alg || !allowed_.count(token.alg)) reject("Algorithm " + printable(token.alg) + " is not allowed");

    std::shared_ptr<const KeyList> remote = jwks_url_ ? remote_keys(/*unknown_kid=*/false) : nullptr;
    Selection chosen = select(token, *alg, remote.get());
    if (chosen.keys.empty() && jwks_url_ && !chosen.type_mismatch) {
      remote = remote_keys(/*unknown_kid=*/true);  // rotation: the provider may have a new key
      chosen = select(token, *alg, remote.get());
    }
    if (chosen.keys.empty()) {
      if (chosen.type_mismatch) reject("Algorithm " + token.alg + " does not match the key type");
      if (jwks_url_ && !remote) unavailable();
      reject(token.kid ? "Unknown signing key" : "No key for algorithm " + token.alg);
    }
    bool verified = false;
    for (const Key* key : chosen.keys)
      if (auth_jwt::verify_signature(*alg, *key, token)) {
        verified = true;
        break;
      }
    if (!verified) reject("Invalid signature");
    try {
      auth_jwt::check_claims(token.payload, rules_, now_seconds());
    } catch (const TokenError& e) {
      reject(e.what());
    }
    return mapping_.map(token.payload);
  }

 private:
  using seconds = std::chrono::duration<double>;

  struct Selection {
    std::vector<const Key*> keys;
    bool type_mismatch = false;  // a key with the token's kid exists but is of another type
  };

  Selection select(const auth_jwt::Token& token, const auth_jwt::Algorithm& alg, const KeyList* remote) const {
    Selection out;
    auto consider = [&](const Key& key) {
      if (token.kid && !key.kid.empty() && key.kid != *token.kid) return;
      if (key.fits(alg)) out.keys.push_back(&key);
      else if (token.kid && key.kid == *token.kid) out.type_mismatch = true;
    };
    for (const auto& key : static_keys_) consider(key);
    if (remote)
      for (const auto& key : *remote) consider(key);
    if (!out.keys.empty()) out.type_mismatch = false;
    return out;
  }

  // The JWKS URL's keys: cached for jwks_cache_seconds; refetched when stale or, for a token with
  // an unknown kid, at most once every jwks_min_refresh_seconds. One fetch at a time; when the
  // provider is unreachable the last good keys stay in use. Null until a fetch succeeded.
  std::shared_ptr<const KeyList> remote_keys(bool unknown_kid) {
    uint64_t seen_generation;
    bool had_keys;
    {
      std::lock_guard lock(mu_);
      had_keys = keys_ != nullptr;
      const bool fresh = keys_ && Clock::now() - fetched_at_ < cache_for_;
      if (fresh && !unknown_kid) return keys_;
      seen_generation = generation_;
    }
    // Stale keys are refreshed by one thread while the others keep using them.
    std::unique_lock fetching(fetch_mu_, std::defer_lock);
    if (had_keys && !unknown_kid) {
      if (!fetching.try_lock()) {
        std::lock_guard lock(mu_);
        return keys_;
      }
    } else {
      fetching.lock();
    }
    {
      std::lock_guard lock(mu_);
      if (generation_ != seen_generation) return keys_;  // another thread just fetched
      if (attempted_ && Clock::now() - last_attempt_ < min_refresh_) return keys_;
      attempted_ = true;
      last_attempt_ = Clock::now();
    }
    std::shared_ptr<const KeyList> fetched;
    try {
      fetched = fetch_jwks();
    } catch (const std::exception& e) {
      log_line("jwks_url " + jwks_url_->url + ": " + e.what() + (had_keys ? " (keeping the previous keys)" : ""));
    }
    std::lock_guard lock(mu_);
    if (fetched) {
      keys_ = std::move(fetched);
      fetched_at_ = Clock::now();
      ++generation_;
    }
    return keys_;
  }

  std::shared_ptr<const KeyList> fetch_jwks() const {
    const HttpResult res = http_get(*jwks_url_, http_, {{"Accept", "application/json"}});
    if (res.status == 0) throw std::runtime_error("unreachable: " + res.error);
    if (res.status != 200) throw std::runtime_error("HTTP " + std::to_string(res.status));
    std::vector<std::string> skipped;
    auto keys = auth_jwt::keys_from_jwks(json::parse(res.body), "JWKS " + jwks_url_->url, &skipped);
    for (const auto& s : skipped) log_line("jwks_url " + jwks_url_->url + ": skipped " + s);
    if (keys.empty()) throw std::runtime_error("no usable signing key");
    return std::make_shared<const KeyList>(std::move(keys));
  }

  static std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
  }

  KeyList static_keys_;
  std::set<std::string> allowed_;
  auth_jwt::ClaimRules rules_;
  UserMapping mapping_;
  HttpSettings http_;
  std::optional<Endpoint> jwks_url_;
  seconds cache_for_{300};
  seconds min_refresh_{10};

  std::mutex fetch_mu_;  // one JWKS fetch at a time
  std::mutex mu_;        // guards what follows
  std::shared_ptr<const KeyList> keys_;
  Clock::time_point fetched_at_{};
  Clock::time_point last_attempt_{};
  bool attempted_ = false;
  uint64_t generation_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Remote validation (user-info endpoint)

class RemoteValidator {
 public:
  explicit RemoteValidator(const json& config) {
    url_ = parse_url(string_value(config, "userinfo_url"), "userinfo_url", bool_value(config, "allow_http", false));
    http_.ca_file = string_value(config, "ca_file");
    http_.timeout_seconds = number_value(config, "timeout_seconds", 5, 0.1, 120);
    if (!http_.ca_file.empty()) read_file(http_.ca_file);
    if (config.contains("userinfo_headers_env")) {
      if (!config["userinfo_headers_env"].is_object())
        throw std::invalid_argument("userinfo_headers_env must map header names to environment variable names");
      for (const auto& [header, var] : config["userinfo_headers_env"].items()) {
        if (!var.is_string()) throw std::invalid_argument("userinfo_headers_env: \"" + header + "\" must name a variable");
        const char* value = std::getenv(var.get<std::string>().c_str());
        if (!value || !*value)
          throw std::invalid_argument("userinfo_headers_env: environment variable " + var.get<std::string>() +
                                      " is not set");
        extra_headers_.emplace(header, value);
      }
    }
    ttl_ = std::chrono::duration<double>(number_value(config, "userinfo_cache_seconds", 60, 0, 3600));
    max_entries_ = static_cast<size_t>(number_value(config, "userinfo_cache_max_entries", 10000, 1, 10'000'000));
    mapping_ = UserMapping::from_config(config, {"id", "sub"});
  }

  User authenticate(const Request& req) {
    if (req.bearer_token().empty()) missing_token();
    const std::string authorization(req.authorization());
    const std::string cache_key = sha256_hex(authorization);
    {
      std::lock_guard lock(mu_);
      auto it = cache_.find(cache_key);
      if (it != cache_.end()) {
        if (Clock::now() < it->second.expires) return it->second.user;
        cache_.erase(it);
      }
    }
    httplib::Headers headers = extra_headers_;
    headers.emplace("Authorization", authorization);
    headers.emplace("Accept", "application/json");
    const HttpResult res = http_get(url_, http_, headers);
    if (res.status == 0) {
      log_line("userinfo_url " + url_.url + ": unreachable: " + res.error);
      unavailable();
    }
    if (res.status == 400 || res.status == 401 || res.status == 403) reject("Invalid token");
    if (res.status != 200) {
      log_line("userinfo_url " + url_.url + ": HTTP " + std::to_string(res.status));
      unavailable();
    }
    const json info = json::parse(res.body, nullptr, false);
    if (!info.is_object()) {
      log_line("userinfo_url " + url_.url + ": the answer is not a JSON object");
      unavailable();
    }
    User user = mapping_.map(info);
    remember(cache_key, user, req.bearer_token());
    return user;
  }

 private:
  struct Entry {
    User user;
    Clock::time_point expires;
  };

  void remember(const std::string& key, const User& user, std::string_view token) {
    double ttl = ttl_.count();
    // Never cache past the token's own expiry when it is a JWT (read only for that, unverified).
    if (const size_t a = token.find('.'), b = token.rfind('.'); a != std::string_view::npos && b > a) {
      const auto payload = auth_jwt::base64url_decode(token.substr(a + 1, b - a - 1));
      const json claims = payload ? json::parse(*payload, nullptr, false) : json();
      if (claims.is_object() && claims.contains("exp") && claims["exp"].is_number())
        ttl = std::min(ttl, claims["exp"].get<double>() - now_seconds());
    }
    if (ttl <= 0) return;
    const auto expires = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ttl));
    std::lock_guard lock(mu_);
    if (cache_.size() >= max_entries_) {
      const auto now = Clock::now();
      std::erase_if(cache_, [&](const auto& item) { return item.second.expires <= now; });
      if (cache_.size() >= max_entries_) cache_.clear();
    }
    cache_[key] = Entry{user, expires};
  }

  Endpoint url_;
  HttpSettings http_;
  httplib::Headers extra_headers_;
  std::chrono::duration<double> ttl_{60};
  size_t max_entries_ = 10000;
  UserMapping mapping_;

  std::mutex mu_;  // guards cache_
  std::unordered_map<std::string, Entry> cache_;
};

Auth make(const json& config) {
  if (!config.is_object()) throw std::invalid_argument("the auth section must be an object");
  for (const auto& [key, value] : config.items())
    if (!kKnownKeys.count(key)) throw std::invalid_argument("unknown auth key \"" + key + "\" (see plugins/auth_jwt/README.md)");
  Auth auth;
  if (config.contains("userinfo_url")) {
    for (const char* key : {"secret_env", "public_key_files", "public_key_file", "jwks_file", "jwks_url", "algorithms"})
      if (config.contains(key))
        throw std::invalid_argument(std::string("userinfo_url cannot be combined with ") + key);
    auto remote = std::make_shared<RemoteValidator>(config);
    auth.authenticate([remote](const Request& req) -> User { return remote->authenticate(req); });
  } else {
    auto local = std::make_shared<LocalVerifier>(config);
    auth.authenticate([local](const Request& req) -> User { return local->authenticate(req); });
  }
  return auth;
}

}  // namespace

LANGGRAPH_EXPORT_AUTH(auth, make)
