// JWS/JWT verification for the auth_jwt plugin, on OpenSSL 3 (libcrypto) directly.
//
// Why not a JWT library: Debian 12's libjwt (1.10) knows HS/RS/ES only (no PS256, no EdDSA, no
// JWKS), libcpp-jwt-dev (1.4) likewise, and librhonabwy is built on GnuTLS rather than the OpenSSL
// the server already links. The JOSE layer needed here is small: base64url, JWK → public key,
// one EVP_DigestVerify per algorithm, and the registered-claim checks; all of it is in jwt.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace auth_jwt {

using json = nlohmann::json;

// A token is rejected: the message is the precise detail sent to the client with a 401.
struct TokenError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A JWS algorithm this plugin verifies.
struct Algorithm {
  std::string name;  // "RS256"
  std::string kty;   // JWK key type it needs: "oct", "RSA", "EC", "OKP"
  std::string crv;   // for EC: "P-256"...; empty otherwise
  int bits;          // hash size in bits (HS/RS/PS/ES); 0 for EdDSA
  enum Kind { hmac, rsa_pkcs1, rsa_pss, ecdsa, eddsa } kind;
};

const Algorithm* find_algorithm(std::string_view name);
std::vector<std::string> supported_algorithms();

// A verification key: an HMAC secret or a public key, with what its source says about it.
struct Key {
  std::string kid;     // empty: matches tokens whatever their kid
  std::string alg;     // the JWK's "alg", empty when it does not restrict
  std::string kty;     // "oct", "RSA", "EC", "OKP"
  std::string crv;     // "P-256", "P-384", "P-521", "Ed25519", "Ed448"; empty otherwise
  std::string secret;  // oct keys
  std::shared_ptr<EVP_PKEY> pkey;
  std::string origin;  // for log lines: "JWKS https://...", "PEM file x.pem", "secret from $X"

  // The key type fits the algorithm's family (never an HMAC check with a public key, never a
  // public-key check with a secret) and the JWK does not restrict it to another algorithm.
  bool fits(const Algorithm& alg) const;
};

std::optional<std::string> base64url_decode(std::string_view in);
std::string base64url_encode(std::string_view in);

Key key_from_secret(std::string secret, std::string origin);
Key key_from_jwk(const json& jwk, const std::string& origin);  // throws std::runtime_error
// Keys usable for signatures in a JWKS document; others ("use": "enc", unknown kty) are skipped
// and described in `skipped`. Throws when the document is not a JWKS.
std::vector<Key> keys_from_jwks(const json& jwks, const std::string& origin, std::vector<std::string>* skipped);
// A public key (SPKI "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY") or an X.509 certificate, in PEM.
Key key_from_pem(std::string_view pem, const std::string& origin);

struct Token {
  json header;
  json payload;
  std::string alg;
  std::optional<std::string> kid;
  std::string signing_input;  // "<header>.<payload>" as received
  std::string signature;      // decoded bytes
};

// Splits and decodes a compact JWS; throws TokenError for anything malformed and for alg none.
Token parse_token(std::string_view compact);

// Checks the signature with one key (which must fit the algorithm).
bool verify_signature(const Algorithm& alg, const Key& key, const Token& token);

struct ClaimRules {
  std::vector<std::string> issuers;    // empty: iss not checked
  std::vector<std::string> audiences;  // empty: aud not checked
  std::vector<std::string> required;   // claims that must be present, e.g. "exp"
  double leeway_seconds = 0;
  double max_age_seconds = 0;  // > 0: iat required and no older than this
};

// Checks exp, nbf, iat, iss, aud against `now` (seconds since the epoch); throws TokenError.
void check_claims(const json& payload, const ClaimRules& rules, double now);

}  // namespace auth_jwt
