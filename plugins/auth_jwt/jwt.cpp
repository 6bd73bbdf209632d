// JWS/JWT verification on OpenSSL 3; see jwt.hpp for why no JWT library.
#include "jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace auth_jwt {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, Deleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;

constexpr size_t kMaxTokenSize = 16 * 1024;
constexpr int kMinRsaBits = 2048;

const std::array<Algorithm, 13> kAlgorithms = {{
    {"HS256", "oct", "", 256, Algorithm::hmac},
    {"HS384", "oct", "", 384, Algorithm::hmac},
    {"HS512", "oct", "", 512, Algorithm::hmac},
    {"RS256", "RSA", "", 256, Algorithm::rsa_pkcs1},
    {"RS384", "RSA", "", 384, Algorithm::rsa_pkcs1},
    {"RS512", "RSA", "", 512, Algorithm::rsa_pkcs1},
    {"PS256", "RSA", "", 256, Algorithm::rsa_pss},
    {"PS384", "RSA", "", 384, Algorithm::rsa_pss},
    {"PS512", "RSA", "", 512, Algorithm::rsa_pss},
    {"ES256", "EC", "P-256", 256, Algorithm::ecdsa},
    {"ES384", "EC", "P-384", 384, Algorithm::ecdsa},
    {"ES512", "EC", "P-521", 512, Algorithm::ecdsa},
    {"EdDSA", "OKP", "", 0, Algorithm::eddsa},
}};

const EVP_MD* digest(int bits) {
  switch (bits) {
    case 256: return EVP_sha256();
    case 384: return EVP_sha384();
    case 512: return EVP_sha512();
    default: return nullptr;
  }
}

size_t ec_field_bytes(const std::string& crv) {
  if (crv == "P-256") return 32;
  if (crv == "P-384") return 48;
  if (crv == "P-521") return 66;
  return 0;
}

const char* ec_group_name(const std::string& crv) {
  if (crv == "P-256") return "prime256v1";
  if (crv == "P-384") return "secp384r1";
  if (crv == "P-521") return "secp521r1";
  return nullptr;
}

std::string crv_from_group(const std::string& group) {
  if (group == "prime256v1" || group == "P-256" || group == "secp256r1") return "P-256";
  if (group == "secp384r1" || group == "P-384") return "P-384";
  if (group == "secp521r1" || group == "P-521") return "P-521";
  return group;
}

std::shared_ptr<EVP_PKEY> share(PkeyPtr key) { return std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free); }

std::string member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return {};
  if (!it->is_string()) throw std::runtime_error(std::string("\"") + name + "\" is not a string");
  return it->get<std::string>();
}

std::string required_b64(const json& jwk, const char* name) {
  const std::string text = member(jwk, name);
  if (text.empty()) throw std::runtime_error(std::string("missing \"") + name + "\"");
  auto bytes = base64url_decode(text);
  if (!bytes || bytes->empty()) throw std::runtime_error(std::string("\"") + name + "\" is not base64url");
  return *bytes;
}

PkeyPtr pkey_fromdata(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    throw std::runtime_error(std::string("OpenSSL rejected the ") + type + " key");
  PkeyPtr key(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    throw std::runtime_error(std::string("invalid ") + type + " public key");
  return key;
}

// Fills kty/crv of a key made from a PEM or a certificate; enforces RSA key sizes.
void describe(Key& key) {
  EVP_PKEY* p = key.pkey.get();
  if (EVP_PKEY_is_a(p, "RSA") || EVP_PKEY_is_a(p, "RSA-PSS")) {
    key.kty = "RSA";
    if (EVP_PKEY_is_a(p, "RSA-PSS")) key.alg = "PS*";  // a PSS-only key never does RS*
  } else if (EVP_PKEY_is_a(p, "EC")) {
    key.kty = "EC";
    char group[80] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(p, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
      throw std::runtime_error("EC key without a named curve");
    key.crv = crv_from_group(std::string(group, len));
    if (!ec_field_bytes(key.crv)) throw std::runtime_error("unsupported curve " + key.crv);
  } else if (EVP_PKEY_is_a(p, "ED25519")) {
    key.kty = "OKP";
    key.crv = "Ed25519";
  } else if (EVP_PKEY_is_a(p, "ED448")) {
    key.kty = "OKP";
    key.crv = "Ed448";
  } else {
    throw std::runtime_error("unsupported key type");
  }
  if (key.kty == "RSA" && EVP_PKEY_get_bits(p) < kMinRsaBits)
    throw std::runtime_error("RSA key shorter than " + std::to_string(kMinRsaBits) + " bits");
}

bool digest_verify(EVP_PKEY* pkey, const EVP_MD* md, const Algorithm& alg, std::string_view data,
                   const std::string& sig) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pkey) != 1) return false;
  if (alg.kind == Algorithm::rsa_pss) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
      return false;
  } else if (alg.kind == Algorithm::rsa_pkcs1) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

// JWS carries ECDSA signatures as r || s, each the field size; OpenSSL wants DER.
std::optional<std::string> ecdsa_raw_to_der(const std::string& raw, size_t field) {
  if (raw.size() != 2 * field) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(field), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + field, static_cast<int>(field), nullptr);
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::vector<std::string> string_or_list(const json& value) {
  if (value.is_string()) return {value.get<std::string>()};
  std::vector<std::string> out;
  if (value.is_array())
    for (const auto& item : value)
      if (item.is_string()) out.push_back(item.get<std::string>());
  return out;
}

}  // namespace

const Algorithm* find_algorithm(std::string_view name) {
  for (const auto& alg : kAlgorithms)
    if (alg.name == name) return &alg;
  return nullptr;
}

std::vector<std::string> supported_algorithms() {
  std::vector<std::string> out;
  for (const auto& alg : kAlgorithms) out.push_back(alg.name);
  return out;
}

bool Key::fits(const Algorithm& a) const {
  if (kty != a.kty) return false;
  if (a.kind == Algorithm::ecdsa && crv != a.crv) return false;
  if (a.kind == Algorithm::eddsa && crv != "Ed25519" && crv != "Ed448") return false;
  if (alg == "PS*") return a.kind == Algorithm::rsa_pss;
  if (!alg.empty() && alg != a.name) return false;
  if (a.kind == Algorithm::hmac) return !secret.empty() && !pkey;
  return pkey != nullptr && secret.empty();
}

std::optional<std::string> base64url_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

std::string base64url_encode(std::string_view in) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kChars[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kChars[(acc << (6 - bits)) & 0x3F]);
  return out;
}

Key key_from_secret(std::string secret, std::string origin) {
  Key key;
  key.kty = "oct";
  key.secret = std::move(secret);
  key.origin = std::move(origin);
  return key;
}

Key key_from_jwk(const json& jwk, const std::string& origin) {
  if (!jwk.is_object()) throw std::runtime_error("a JWK is not an object");
  Key key;
  key.kty = member(jwk, "kty");
  key.kid = member(jwk, "kid");
  key.alg = member(jwk, "alg");
  key.origin = origin;
  if (key.alg == "none") throw std::runtime_error("JWK with alg none");
  if (key.kty == "oct") {
    key.secret = required_b64(jwk, "k");
  } else if (key.kty == "RSA") {
    const std::string n = required_b64(jwk, "n"), e = required_b64(jwk, "e");
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr));
    BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr));
    if (!bld || !bn_n || !bn_e || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
      throw std::runtime_error("out of memory");
    key.pkey = share(pkey_fromdata("RSA", bld.get()));
    if (EVP_PKEY_get_bits(key.pkey.get()) < kMinRsaBits)
      throw std::runtime_error("RSA key shorter than " + std::to_string(kMinRsaBits) + " bits");
  } else if (key.kty == "EC") {
    key.crv = member(jwk, "crv");
    const size_t field = ec_field_bytes(key.crv);
    if (!field) throw std::runtime_error("unsupported curve \"" + key.crv + "\"");
    const std::string x = required_b64(jwk, "x"), y = required_b64(jwk, "y");
    if (x.size() != field || y.size() != field) throw std::runtime_error("EC coordinates of the wrong size");
    const std::string point = std::string(1, '\x04') + x + y;
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, ec_group_name(key.crv), 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
      throw std::runtime_error("out of memory");
    key.pkey = share(pkey_fromdata("EC", bld.get()));
  } else if (key.kty == "OKP") {
    key.crv = member(jwk, "crv");
    const std::string x = required_b64(jwk, "x");
    int type = 0;
    size_t size = 0;
    if (key.crv == "Ed25519") type = EVP_PKEY_ED25519, size = 32;
    else if (key.crv == "Ed448") type = EVP_PKEY_ED448, size = 57;
    else throw std::runtime_error("unsupported OKP curve \"" + key.crv + "\"");
    if (x.size() != size) throw std::runtime_error("OKP key of the wrong size");
    PkeyPtr p(EVP_PKEY_new_raw_public_key(type, nullptr, reinterpret_cast<const unsigned char*>(x.data()), size));
    if (!p) throw std::runtime_error("OpenSSL rejected the OKP key");
    key.pkey = share(std::move(p));
  } else {
    throw std::runtime_error("unsupported kty \"" + key.kty + "\"");
  }
  return key;
}

std::vector<Key> keys_from_jwks(const json& jwks, const std::string& origin, std::vector<std::string>* skipped) {
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array())
    throw std::runtime_error("not a JWKS (no \"keys\" array)");
  std::vector<Key> keys;
  for (const auto& jwk : jwks["keys"]) {
    try {
      if (jwk.is_object() && jwk.contains("use") && jwk["use"] != "sig") {
        if (skipped) skipped->push_back("a key with use " + jwk["use"].dump());
        continue;
      }
      keys.push_back(key_from_jwk(jwk, origin));
    } catch (const std::exception& e) {
      const std::string kid = jwk.is_object() && jwk.contains("kid") ? jwk["kid"].dump() : "(no kid)";
      if (skipped) skipped->push_back("key " + kid + ": " + e.what());
    }
  }
  return keys;
}

Key key_from_pem(std::string_view pem, const std::string& origin) {
  Key key;
  key.origin = origin;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::runtime_error("out of memory");
  if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) throw std::runtime_error("unreadable certificate");
    PkeyPtr p(X509_get_pubkey(cert.get()));
    if (!p) throw std::runtime_error("certificate without a usable public key");
    key.pkey = share(std::move(p));
  } else {
    if (pem.find("PRIVATE KEY-----") != std::string_view::npos)
      throw std::runtime_error("a private key: give the public key (openssl pkey -pubout)");
    EVP_PKEY* raw = nullptr;
    DecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
    if (!dctx || OSSL_DECODER_from_bio(dctx.get(), bio.get()) != 1 || !raw)
      throw std::runtime_error("not a PEM public key");
    key.pkey = share(PkeyPtr(raw));
  }
  describe(key);
  return key;
}

Token parse_token(std::string_view compact) {
  if (compact.empty() || compact.size() > kMaxTokenSize) throw TokenError("Malformed token");
  const size_t a = compact.find('.');
  const size_t b = a == std::string_view::npos ? a : compact.find('.', a + 1);
  if (b == std::string_view::npos || compact.find('.', b + 1) != std::string_view::npos)
    throw TokenError("Malformed token");
  Token token;
  const auto header = base64url_decode(compact.substr(0, a));
  const auto payload = base64url_decode(compact.substr(a + 1, b - a - 1));
  const auto signature = base64url_decode(compact.substr(b + 1));
  if (!header || !payload || !signature) throw TokenError("Malformed token");
  token.header = json::parse(*header, nullptr, /*allow_exceptions=*/false);
  if (!token.header.is_object()) throw TokenError("Malformed token");
  const auto alg = token.header.find("alg");
  if (alg == token.header.end() || !alg->is_string()) throw TokenError("Malformed token");
  token.alg = alg->get<std::string>();
  std::string lower = token.alg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "none") throw TokenError("Algorithm none is not allowed");
  if (token.header.contains("crit")) throw TokenError("Unsupported critical header parameters");
  if (auto kid = token.header.find("kid"); kid != token.header.end()) {
    if (!kid->is_string()) throw TokenError("Malformed token");
    token.kid = kid->get<std::string>();
  }
  token.payload = json::parse(*payload, nullptr, false);
  if (!token.payload.is_object()) throw TokenError("Malformed token");
  if (signature->empty()) throw TokenError("Malformed token");
  token.signing_input = std::string(compact.substr(0, b));
  token.signature = *signature;
  return token;
}

bool verify_signature(const Algorithm& alg, const Key& key, const Token& token) {
  if (!key.fits(alg)) return false;
  switch (alg.kind) {
    case Algorithm::hmac: {
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      if (!HMAC(digest(alg.bits), key.secret.data(), static_cast<int>(key.secret.size()),
                reinterpret_cast<const unsigned char*>(token.signing_input.data()), token.signing_input.size(), mac,
                &len))
        return false;
      return token.signature.size() == len && CRYPTO_memcmp(mac, token.signature.data(), len) == 0;
    }
    case Algorithm::rsa_pkcs1:
    case Algorithm::rsa_pss:
      return digest_verify(key.pkey.get(), digest(alg.bits), alg, token.signing_input, token.signature);
    case Algorithm::ecdsa: {
      const auto der = ecdsa_raw_to_der(token.signature, ec_field_bytes(alg.crv));
      return der && digest_verify(key.pkey.get(), digest(alg.bits), alg, token.signing_input, *der);
    }
    case Algorithm::eddsa:
      return digest_verify(key.pkey.get(), nullptr, alg, token.signing_input, token.signature);
  }
  return false;
}

void check_claims(const json& payload, const ClaimRules& rules, double now) {
  for (const auto& name : rules.required)
    if (!payload.contains(name)) throw TokenError("Token has no " + name + " claim");
  auto number = [&](const char* name) -> std::optional<double> {
    auto it = payload.find(name);
    if (it == payload.end()) return std::nullopt;
    if (!it->is_number() || !std::isfinite(it->get<double>()))
      throw TokenError(std::string("Invalid ") + name + " claim");
    return it->get<double>();
  };
  const double leeway = rules.leeway_seconds;
  if (auto exp = number("exp"); exp && now >= *exp + leeway) throw TokenError("Token has expired");
  if (auto nbf = number("nbf"); nbf && now + leeway < *nbf) throw TokenError("Token is not yet valid");
  const auto iat = number("iat");
  if (iat && now + leeway < *iat) throw TokenError("Token is not yet valid (issued in the future)");
  if (rules.max_age_seconds > 0) {
    if (!iat) throw TokenError("Token has no iat claim");
    if (now - *iat > rules.max_age_seconds + leeway) throw TokenError("Token has expired");
  }
  if (!rules.issuers.empty()) {
    auto it = payload.find("iss");
    if (it == payload.end() || !it->is_string() ||
        std::find(rules.issuers.begin(), rules.issuers.end(), it->get<std::string>()) == rules.issuers.end())
      throw TokenError("Invalid issuer");
  }
  if (!rules.audiences.empty()) {
    auto it = payload.find("aud");
    bool ok = false;
    if (it != payload.end())
      for (const auto& aud : string_or_list(*it))
        ok |= std::find(rules.audiences.begin(), rules.audiences.end(), aud) != rules.audiences.end();
    if (!ok) throw TokenError("Invalid audience");
  }
}

}  // namespace auth_jwt
