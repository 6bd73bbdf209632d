// The JOSE layer of plugins/auth_jwt: base64url, token parsing, key/algorithm fit, claim checks.
// The plugin is a MODULE library, so its source is compiled into this test directly.
#include "../../plugins/auth_jwt/jwt.cpp"

#include <doctest/doctest.h>

using namespace auth_jwt;

namespace {
std::string b64(const std::string& s) { return base64url_encode(s); }
std::string compact(const std::string& header, const std::string& payload, const std::string& sig = "sig") {
  return b64(header) + "." + b64(payload) + "." + b64(sig);
}
}  // namespace

TEST_CASE("auth_jwt: base64url round trip and strict decoding") {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)})
    CHECK(base64url_decode(base64url_encode(s)) == s);
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("ab+c").has_value());  // standard alphabet refused
  CHECK_FALSE(base64url_decode("ab/c").has_value());
  CHECK_FALSE(base64url_decode("abc=").has_value());  // padding refused
  CHECK_FALSE(base64url_decode("a").has_value());     // impossible length
  CHECK_FALSE(base64url_decode("Zh").has_value());    // non-zero trailing bits
  CHECK(base64url_decode("Zg") == "f");
}

TEST_CASE("auth_jwt: parse_token") {
  const Token t = parse_token(compact(R"({"alg":"RS256","kid":"k1"})", R"({"sub":"a"})"));
  CHECK(t.alg == "RS256");
  CHECK(t.kid == "k1");
  CHECK(t.payload["sub"] == "a");
  CHECK(t.signature == "sig");

  CHECK_THROWS_WITH_AS(parse_token(compact(R"({"alg":"none"})", "{}", "")), "Algorithm none is not allowed", TokenError);
  CHECK_THROWS_WITH_AS(parse_token(compact(R"({"alg":"NONE"})", "{}")), "Algorithm none is not allowed", TokenError);
  for (const std::string bad : {std::string(), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
                                compact("[]", "{}"), compact(R"({"alg":1})", "{}"), compact(R"({"alg":"HS256"})", "[1]"),
                                compact(R"({"alg":"HS256"})", "{}", ""), compact(R"({"alg":"HS256","kid":3})", "{}"),
                                std::string(20000, 'a') + ".e30.AA"})
    CHECK_THROWS_WITH_AS(parse_token(bad), "Malformed token", TokenError);
  CHECK_THROWS_AS(parse_token(compact(R"({"alg":"HS256","crit":["b64"]})", "{}")), TokenError);
}

TEST_CASE("auth_jwt: a secret only fits HMAC, a public key never does") {
  const Key secret = key_from_secret(std::string(32, 'x'), "test");
  const Key rsa = key_from_jwk(json::parse(R"({"kty":"RSA","kid":"r",
    "n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw",
    "e":"AQAB"})"), "test");
  const Key ec = key_from_jwk(json::parse(R"({"kty":"EC","crv":"P-256",
    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})"), "test");
  const Key ed = key_from_jwk(json::parse(R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})"), "test");
  CHECK(secret.fits(*find_algorithm("HS256")));
  CHECK_FALSE(secret.fits(*find_algorithm("RS256")));
  for (const char* hs : {"HS256", "HS384", "HS512"}) {
    CHECK_FALSE(rsa.fits(*find_algorithm(hs)));
    CHECK_FALSE(ec.fits(*find_algorithm(hs)));
    CHECK_FALSE(ed.fits(*find_algorithm(hs)));
  }
  CHECK(rsa.fits(*find_algorithm("RS256")));
  CHECK(rsa.fits(*find_algorithm("PS256")));
  CHECK(ec.fits(*find_algorithm("ES256")));
  CHECK_FALSE(ec.fits(*find_algorithm("ES384")));  // curve must match the algorithm
  CHECK(ed.fits(*find_algorithm("EdDSA")));
  CHECK(find_algorithm("none") == nullptr);

  Key restricted = rsa;
  restricted.alg = "RS256";
  CHECK_FALSE(restricted.fits(*find_algorithm("PS256")));

  CHECK_THROWS(key_from_jwk(json::parse(R"({"kty":"RSA","n":"AQAB","e":"AQAB"})"), "short"));
  CHECK_THROWS(key_from_jwk(json::parse(R"({"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"})"), "bad point"));
  CHECK_THROWS(key_from_jwk(json::parse(R"({"kty":"oct","k":"c2VjcmV0","alg":"none"})"), "none"));
  std::vector<std::string> skipped;
  const auto keys = keys_from_jwks(json::parse(R"({"keys":[{"kty":"EC","crv":"P-256","use":"enc",
    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
    {"kty":"XYZ"}]})"), "test", &skipped);
  CHECK(keys.empty());
  CHECK(skipped.size() == 2);
}

TEST_CASE("auth_jwt: HMAC signatures") {
  const Key secret = key_from_secret("0123456789abcdef0123456789abcdef", "test");
  const Algorithm& hs256 = *find_algorithm("HS256");
  // Signed with: node -e 'crypto.createHmac("sha256", secret).update(input).digest("base64url")'
  const std::string input = b64(R"({"alg":"HS256"})") + "." + b64(R"({"sub":"a"})");
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.secret.data(), 32, reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  Token t = parse_token(input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), len)));
  CHECK(verify_signature(hs256, secret, t));
  t.signature[0] ^= 1;
  CHECK_FALSE(verify_signature(hs256, secret, t));
  t.signature.pop_back();
  CHECK_FALSE(verify_signature(hs256, secret, t));
}

TEST_CASE("auth_jwt: claim checks with leeway") {
  ClaimRules rules;
  rules.required = {"exp"};
  rules.leeway_seconds = 10;
  rules.issuers = {"https://idp/"};
  rules.audiences = {"a1", "a2"};
  const double now = 1'000'000;
  auto claims = [&](json extra) {
    json c = {{"exp", now + 100}, {"iss", "https://idp/"}, {"aud", "a2"}};
    c.update(extra);
    return c;
  };
  CHECK_NOTHROW(check_claims(claims(json::object()), rules, now));
  CHECK_NOTHROW(check_claims(claims({{"exp", now - 9}}), rules, now));
  CHECK_THROWS_WITH(check_claims(claims({{"exp", now - 10}}), rules, now), "Token has expired");
  CHECK_NOTHROW(check_claims(claims({{"nbf", now + 10}}), rules, now));
  CHECK_THROWS_WITH(check_claims(claims({{"nbf", now + 11}}), rules, now), "Token is not yet valid");
  CHECK_THROWS_WITH(check_claims(claims({{"iat", now + 11}}), rules, now), "Token is not yet valid (issued in the future)");
  CHECK_THROWS_WITH(check_claims(claims({{"exp", "soon"}}), rules, now), "Invalid exp claim");
  CHECK_THROWS_WITH(check_claims(json{{"iss", "https://idp/"}, {"aud", "a1"}}, rules, now), "Token has no exp claim");
  CHECK_THROWS_WITH(check_claims(claims({{"iss", "https://other/"}}), rules, now), "Invalid issuer");
  CHECK_THROWS_WITH(check_claims(claims({{"iss", 5}}), rules, now), "Invalid issuer");
  CHECK_THROWS_WITH(check_claims(claims({{"aud", "a3"}}), rules, now), "Invalid audience");
  CHECK_NOTHROW(check_claims(claims({{"aud", {"x", "a1"}}}), rules, now));
  CHECK_THROWS_WITH(check_claims(claims({{"aud", {"x", "y"}}}), rules, now), "Invalid audience");
  rules.max_age_seconds = 60;
  CHECK_THROWS_WITH(check_claims(claims(json::object()), rules, now), "Token has no iat claim");
  CHECK_THROWS_WITH(check_claims(claims({{"iat", now - 100}}), rules, now), "Token has expired");
  CHECK_NOTHROW(check_claims(claims({{"iat", now - 30}}), rules, now));
}
