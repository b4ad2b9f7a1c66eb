// UTF-8 checking and repair for text that comes from outside (files, SQL, paths).
//
// Owns the one definition of "valid UTF-8" lakepipe uses (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) and the one repair rule: every byte that does not
// start a valid sequence becomes U+FFFD, so a repaired string has one U+FFFD per bad byte
// and the repair is stable (repairing twice changes nothing). Readers rescue such values
// (docs/file-formats.md); the Parquet writer repairs whatever still reaches a STRING column.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lakepipe {

// Offset of the first byte that does not start a valid UTF-8 sequence; npos when valid.
size_t FirstInvalidUtf8(std::string_view s);
inline bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == std::string_view::npos; }

// Appends `s` to `out` with each invalid byte replaced by U+FFFD; returns how many bytes
// were replaced.
int64_t AppendRepairedUtf8(std::string_view s, std::string* out);
std::string RepairUtf8(std::string_view s, int64_t* replaced = nullptr);

// Appends the bytes of `s` as lowercase hex, two digits a byte.
void AppendHex(std::string_view s, std::string* out);

}  // namespace lakepipe
