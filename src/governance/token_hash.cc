#include "governance/token_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace lakepipe::governance {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kDigestBytes = 32;
constexpr std::string_view kPrefix = "sha256:";

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Unhex(std::string_view hex, size_t bytes, std::string* out) {
  if (hex.size() != bytes * 2) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

std::string Digest(std::string_view salt, std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
            EVP_DigestUpdate(ctx, token.data(), token.size()) == 1 && EVP_DigestFinal_ex(ctx, md, &len) == 1;
  EVP_MD_CTX_free(ctx);
  // A digest that cannot be computed matches nothing (an empty string never equals a
  // 32-byte digest).
  return ok ? std::string(reinterpret_cast<const char*>(md), len) : std::string();
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Status::IOError("the OS random number generator failed (OpenSSL RAND_bytes)");
  }
  return out;
}

}  // namespace

Result<TokenHash> ParseTokenHash(std::string_view text) {
  const std::string expected = "expected sha256:<32 hex digits of salt>:<64 hex digits of digest> (from `lakepipe token hash`)";
  if (text.substr(0, kPrefix.size()) != kPrefix) return Status::InvalidArgument("not a token hash: " + expected);
  std::string_view rest = text.substr(kPrefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return Status::InvalidArgument("token hash without a digest: " + expected);
  TokenHash h;
  if (!Unhex(rest.substr(0, colon), kSaltBytes, &h.salt)) {
    return Status::InvalidArgument("token hash salt is not 32 hex digits: " + expected);
  }
  if (!Unhex(rest.substr(colon + 1), kDigestBytes, &h.digest)) {
    return Status::InvalidArgument("token hash digest is not 64 hex digits: " + expected);
  }
  return h;
}

std::string FormatTokenHash(const TokenHash& hash) {
  return std::string(kPrefix) + Hex(hash.salt) + ":" + Hex(hash.digest);
}

Result<TokenHash> HashToken(std::string_view token) {
  TokenHash h;
  LP_ASSIGN_OR_RETURN(h.salt, RandomBytes(kSaltBytes));
  h.digest = Digest(h.salt, token);
  if (h.digest.size() != kDigestBytes) return Status::Internal("SHA-256 failed (OpenSSL)");
  return h;
}

bool TokenHashMatches(const TokenHash& hash, std::string_view token) {
  std::string digest = Digest(hash.salt, token);
  if (digest.size() != kDigestBytes || hash.digest.size() != kDigestBytes) return false;
  return CRYPTO_memcmp(digest.data(), hash.digest.data(), kDigestBytes) == 0;
}

Result<std::string> NewToken() {
  LP_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(32));
  return "lp_" + Hex(bytes);
}

}  // namespace lakepipe::governance
