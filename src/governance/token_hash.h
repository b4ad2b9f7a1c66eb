// Token hashes: how pipeline.yaml / governance.yaml store a principal's bearer token, so
// that the files never hold a usable token (docs/governance.md, "Token hashes").
//
// Text form: `sha256:<salt, 32 hex digits>:<SHA-256(salt bytes || token), 64 hex digits>`.
// Tokens are random (lakepipe token new: 32 random bytes), not passwords, so one salted
// SHA-256 is enough: a slow key-derivation function would add its cost to every request
// and protect nothing a 256-bit random token does not. The salt keeps equal tokens from
// having equal hashes across files.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace lakepipe::governance {

struct TokenHash {
  std::string salt;    // raw bytes (16)
  std::string digest;  // raw bytes (32)
};

// Parses the text form; InvalidArgument saying what is wrong (never echoing the text,
// which may be a token pasted by mistake).
Result<TokenHash> ParseTokenHash(std::string_view text);
std::string FormatTokenHash(const TokenHash& hash);

// Hashes `token` with a fresh random salt.
Result<TokenHash> HashToken(std::string_view token);
// Whether `token` hashes to `hash`. Compares digests in constant time; the time depends
// on the token's length only (SHA-256 of it), not on how much of it matches.
bool TokenHashMatches(const TokenHash& hash, std::string_view token);

// A new random token: "lp_" and 64 hex digits (32 bytes from the OS's CSPRNG).
Result<std::string> NewToken();

// Minimum length of a token (as server.tokens requires).
inline constexpr size_t kMinTokenLength = 16;

}  // namespace lakepipe::governance
