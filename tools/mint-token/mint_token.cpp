// langgraph-mint-token: mints signed JWTs for testing a JWT auth plugin (plugins/auth_jwt).
//
//   langgraph-mint-token --alg HS256 --secret-env JWT_SECRET --sub alice --exp-in 3600
//   langgraph-mint-token --alg RS256 --key private.pem --kid k1 --iss https://idp.test --aud api
//   langgraph-mint-token --key private.pem --kid k1 --print-jwk      # the public key as a JWK
//
// Signing is OpenSSL's EVP API; base64url and JSON are done here (nlohmann-json).
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::ordered_json;

constexpr int kExitUsage = 64;

constexpr const char* kUsage = R"(usage: langgraph-mint-token --alg ALG (--secret-env NAME | --key FILE) [claims...]
       langgraph-mint-token --key FILE [--kid KID] --print-jwk

Prints a signed JWT (header.payload.signature, base64url) on stdout.

  --alg ALG           HS256 HS384 HS512 | RS256 RS384 RS512 | PS256 PS384 PS512 |
                      ES256 ES384 ES512 | EdDSA | none (unsigned, for negative tests).
                      Default: HS256 with --secret-env, otherwise from the key type.
  --secret-env NAME   HMAC secret: the value of environment variable NAME
  --key FILE          a PEM private key (RSA, EC P-256/P-384/P-521, Ed25519) for RS/PS/ES/EdDSA;
                      with an HS algorithm the file's bytes are the HMAC secret
  --kid KID           "kid" in the header
  --typ TYP           "typ" in the header (default JWT)
  --sub SUB           subject (identity)
  --iss ISS           issuer
  --aud AUD           audience (repeat for a list)
  --exp-in SECONDS    exp = now + SECONDS (default 3600; negative for an expired token)
  --no-exp            no exp claim
  --nbf-in SECONDS    nbf = now + SECONDS
  --iat-in SECONDS    iat = now + SECONDS (default 0: now)
  --no-iat            no iat claim
  --now UNIX          the time to count from (default: the current time)
  --claim KEY=VALUE   any claim (repeatable); VALUE is JSON when it parses as JSON
                      (42, true, ["a","b"], {"x":1}), a string otherwise
  --header KEY=VALUE  any extra header field, same rules
  --print-jwk         print the public key of --key as a JWK (with --kid and --alg) and exit
  --print-claims      print the header and payload as JSON on stderr too
  -h, --help          this text
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "langgraph-mint-token: %s\n(run with --help for usage)\n", message.c_str());
  std::exit(kExitUsage);
}

[[noreturn]] void fail(const std::string& message) {
  std::string detail;
  if (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    detail = std::string(" (") + buffer + ")";
  }
  std::fprintf(stderr, "langgraph-mint-token: error: %s%s\n", message.c_str(), detail.c_str());
  std::exit(1);
}

std::string base64url(const unsigned char* data, size_t size) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == size) {
    const unsigned v = data[i] << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (i + 2 == size) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;  // no padding, as JWS wants
}
std::string base64url(const std::string& s) { return base64url(reinterpret_cast<const unsigned char*>(s.data()), s.size()); }
std::string base64url(const std::vector<unsigned char>& v) { return base64url(v.data(), v.size()); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  std::ostringstream all;
  all << in.rdbuf();
  return all.str();
}

// "key=value": value as JSON when it parses, as a string otherwise.
std::pair<std::string, json> key_value(const std::string& text, const std::string& flag) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) usage_error(flag + " must look like key=value");
  const std::string raw = text.substr(eq + 1);
  json value = json::parse(raw, nullptr, false);
  if (value.is_discarded()) value = raw;
  return {text.substr(0, eq), value};
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Pkey load_private_key(const std::string& path) {
  const std::string pem = read_file(path);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) fail(path + " is not a PEM private key");
  return Pkey(key);
}

std::string curve_of(EVP_PKEY* key) {
  char name[64] = {0};
  size_t length = 0;
  if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &length)) return "";
  return name;
}

// The algorithm a key signs with when --alg is not given.
std::string default_alg(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: return "RS256";
    case EVP_PKEY_ED25519: return "EdDSA";
    case EVP_PKEY_EC: {
      const std::string curve = curve_of(key);
      if (curve == "secp384r1" || curve == "P-384") return "ES384";
      if (curve == "secp521r1" || curve == "P-521") return "ES512";
      return "ES256";
    }
    default: fail("unsupported key type (RSA, EC or Ed25519 expected)");
  }
}

const EVP_MD* digest_of(const std::string& alg) {
  const std::string bits = alg.substr(2);
  if (bits == "256") return EVP_sha256();
  if (bits == "384") return EVP_sha384();
  if (bits == "512") return EVP_sha512();
  usage_error("unknown algorithm " + alg);
}

std::vector<unsigned char> hmac(const std::string& alg, const std::string& secret, const std::string& input) {
  std::vector<unsigned char> mac(EVP_MAX_MD_SIZE);
  size_t length = mac.size();
  const std::string digest = "SHA" + alg.substr(2);
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, digest.c_str(), nullptr, secret.data(), secret.size(),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), mac.size(), &length))
    fail("HMAC failed");
  mac.resize(length);
  return mac;
}

std::vector<unsigned char> sign(const std::string& alg, EVP_PKEY* key, const std::string& input) {
  const int type = EVP_PKEY_get_base_id(key);
  const bool eddsa = alg == "EdDSA";
  const char family = alg[0];
  if ((family == 'R' || family == 'P') && type != EVP_PKEY_RSA) fail(alg + " needs an RSA key");
  if (family == 'E' && !eddsa && type != EVP_PKEY_EC) fail(alg + " needs an EC key");
  if (eddsa && type != EVP_PKEY_ED25519) fail("EdDSA needs an Ed25519 key");
  size_t coordinate = 0;  // ES: bytes of r and of s
  if (family == 'E' && !eddsa) {
    const std::string curve = curve_of(key);
    const std::string want = alg == "ES256" ? "prime256v1" : alg == "ES384" ? "secp384r1" : "secp521r1";
    if (curve != want && !(alg == "ES256" && curve == "P-256")) fail(alg + " needs a key on curve " + want + ", not " + curve);
    coordinate = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
  }

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx.get(), &pctx, eddsa ? nullptr : digest_of(alg), nullptr, key) != 1) fail("signing setup failed");
  if (family == 'P') {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)
      fail("RSA-PSS setup failed");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()) != 1) fail("signing failed");
  std::vector<unsigned char> signature(length);
  if (EVP_DigestSign(ctx.get(), signature.data(), &length, data, input.size()) != 1) fail("signing failed");
  signature.resize(length);
  if (!coordinate) return signature;

  // ECDSA: OpenSSL gives DER (SEQUENCE {r, s}); JWS wants r and s as fixed-size big-endian.
  const unsigned char* der = signature.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(length)),
                                                            ECDSA_SIG_free);
  if (!sig) fail("cannot decode the ECDSA signature");
  std::vector<unsigned char> raw(2 * coordinate);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), static_cast<int>(coordinate)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + coordinate, static_cast<int>(coordinate)) < 0)
    fail("cannot encode the ECDSA signature");
  return raw;
}

std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(key, name, &bn)) fail(std::string("cannot read key parameter ") + name);
  std::vector<unsigned char> bytes(BN_num_bytes(bn));
  BN_bn2bin(bn, bytes.data());
  BN_free(bn);
  return base64url(bytes);
}

// The public half of `key` as a JWK (RFC 7517/7518/8037).
json public_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg) {
  json jwk;
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      jwk["kty"] = "RSA";
      jwk["n"] = bn_param(key, OSSL_PKEY_PARAM_RSA_N);
      jwk["e"] = bn_param(key, OSSL_PKEY_PARAM_RSA_E);
      break;
    case EVP_PKEY_EC: {
      const std::string curve = curve_of(key);
      const size_t size = curve == "secp384r1" ? 48 : curve == "secp521r1" ? 66 : 32;
      jwk["kty"] = "EC";
      jwk["crv"] = curve == "secp384r1" ? "P-384" : curve == "secp521r1" ? "P-521" : "P-256";
      BIGNUM *x = nullptr, *y = nullptr;
      if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) || !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y))
        fail("cannot read the EC public point");
      std::vector<unsigned char> bx(size), by(size);
      BN_bn2binpad(x, bx.data(), static_cast<int>(size));
      BN_bn2binpad(y, by.data(), static_cast<int>(size));
      BN_free(x);
      BN_free(y);
      jwk["x"] = base64url(bx);
      jwk["y"] = base64url(by);
      break;
    }
    case EVP_PKEY_ED25519: {
      std::vector<unsigned char> raw(32);
      size_t length = raw.size();
      if (EVP_PKEY_get_raw_public_key(key, raw.data(), &length) != 1) fail("cannot read the Ed25519 public key");
      raw.resize(length);
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = base64url(raw);
      break;
    }
    default: fail("unsupported key type (RSA, EC or Ed25519 expected)");
  }
  jwk["use"] = "sig";
  jwk["alg"] = alg;
  if (!kid.empty()) jwk["kid"] = kid;
  return jwk;
}

long long parse_seconds(const std::string& text, const std::string& flag) {
  try {
    size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    usage_error(flag + " needs a whole number of seconds");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string alg, secret_env, key_file, kid, typ = "JWT";
  std::optional<std::string> sub, iss;
  std::vector<std::string> audiences;
  long long exp_in = 3600, iat_in = 0;
  std::optional<long long> nbf_in, now_arg;
  bool with_exp = true, with_iat = true, print_jwk = false, print_claims = false;
  json extra_claims = json::object(), extra_header = json::object();

  auto value = [&](int& i, const std::string& flag) -> std::string {
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--alg") alg = value(i, arg);
    else if (arg == "--secret-env") secret_env = value(i, arg);
    else if (arg == "--key") key_file = value(i, arg);
    else if (arg == "--kid") kid = value(i, arg);
    else if (arg == "--typ") typ = value(i, arg);
    else if (arg == "--sub") sub = value(i, arg);
    else if (arg == "--iss") iss = value(i, arg);
    else if (arg == "--aud") audiences.push_back(value(i, arg));
    else if (arg == "--exp-in") exp_in = parse_seconds(value(i, arg), arg);
    else if (arg == "--no-exp") with_exp = false;
    else if (arg == "--nbf-in") nbf_in = parse_seconds(value(i, arg), arg);
    else if (arg == "--iat-in") iat_in = parse_seconds(value(i, arg), arg);
    else if (arg == "--no-iat") with_iat = false;
    else if (arg == "--now") now_arg = parse_seconds(value(i, arg), arg);
    else if (arg == "--claim") {
      auto [k, v] = key_value(value(i, arg), arg);
      extra_claims[k] = v;
    } else if (arg == "--header") {
      auto [k, v] = key_value(value(i, arg), arg);
      extra_header[k] = v;
    } else if (arg == "--print-jwk") print_jwk = true;
    else if (arg == "--print-claims") print_claims = true;
    else usage_error("unknown argument " + arg);
  }

  Pkey key;
  if (alg.empty() && key_file.empty()) alg = "HS256";
  const bool hmac_alg = alg.rfind("HS", 0) == 0;
  if (!key_file.empty() && !hmac_alg) key = load_private_key(key_file);
  if (alg.empty()) alg = key ? default_alg(key.get()) : "HS256";

  if (print_jwk) {
    if (!key) usage_error("--print-jwk needs --key with a private key (and no HS algorithm)");
    std::printf("%s\n", public_jwk(key.get(), kid, alg).dump().c_str());
    return 0;
  }

  static const std::vector<std::string> kKnown = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
                                                  "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "none"};
  if (std::find(kKnown.begin(), kKnown.end(), alg) == kKnown.end()) usage_error("unknown --alg " + alg);

  std::string secret;
  if (hmac_alg) {
    if (!secret_env.empty()) {
      const char* value = std::getenv(secret_env.c_str());
      if (!value || !*value) fail("environment variable " + secret_env + " is not set (or empty)");
      secret = value;
    } else if (!key_file.empty()) {
      secret = read_file(key_file);
    } else {
      usage_error(alg + " needs --secret-env NAME (or --key FILE whose bytes are the secret)");
    }
  } else if (alg != "none" && !key) {
    usage_error(alg + " needs --key private.pem");
  }

  const long long now = now_arg ? *now_arg
                                : std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch()).count();
  json header = {{"alg", alg}, {"typ", typ}};
  if (!kid.empty()) header["kid"] = kid;
  for (const auto& [k, v] : extra_header.items()) header[k] = v;

  json payload = json::object();
  if (iss) payload["iss"] = *iss;
  if (sub) payload["sub"] = *sub;
  if (audiences.size() == 1) payload["aud"] = audiences[0];
  else if (audiences.size() > 1) payload["aud"] = audiences;
  if (with_iat) payload["iat"] = now + iat_in;
  if (nbf_in) payload["nbf"] = now + *nbf_in;
  if (with_exp) payload["exp"] = now + exp_in;
  for (const auto& [k, v] : extra_claims.items()) payload[k] = v;

  const std::string input = base64url(header.dump()) + "." + base64url(payload.dump());
  std::string signature;
  if (hmac_alg) signature = base64url(hmac(alg, secret, input));
  else if (alg != "none") signature = base64url(sign(alg, key.get(), input));

  if (print_claims) std::fprintf(stderr, "%s\n%s\n", header.dump().c_str(), payload.dump().c_str());
  std::printf("%s.%s\n", input.c_str(), signature.c_str());
  return 0;
}
