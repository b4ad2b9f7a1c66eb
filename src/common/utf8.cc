#include "common/utf8.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lakepipe {
namespace {

// Length of the valid sequence starting at p (1..4), or 0 when the byte at p does not start
// one. Ranges from the Unicode standard, table 3-7 (well-formed byte sequences).
size_t ValidSequenceLength(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t left = static_cast<size_t>(end - p);
  auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(p[2])) return 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : 0xBF;  // no surrogates
    return p[1] >= lo && p[1] <= hi ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(p[2]) || !cont(p[3])) return 0;
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return p[1] >= lo && p[1] <= hi ? 4 : 0;
  }
  return 0;
}

}  // namespace

size_t FirstInvalidUtf8(std::string_view s) {
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* p = begin;
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII runs, 32 bytes at a time with SSE2 (then 8): most text is ASCII, and a reader
    // checks a whole chunk of values in one call.
#if defined(__SSE2__)
    while (end - p >= 32) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
      if (_mm_movemask_epi8(_mm_or_si128(a, b)) != 0) break;
      p += 32;
    }
#endif
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ULL) != 0) break;
      p += 8;
    }
    // Byte by byte up to the next multi-byte sequence (short values end here).
    while (p < end && *p < 0x80) ++p;
    if (p >= end) break;
    size_t n = ValidSequenceLength(p, end);
    if (n == 0) return static_cast<size_t>(p - begin);
    p += n;
  }
  return std::string_view::npos;
}

int64_t AppendRepairedUtf8(std::string_view s, std::string* out) {
  size_t bad = FirstInvalidUtf8(s);
  if (bad == std::string_view::npos) {
    out->append(s);
    return 0;
  }
  out->append(s.substr(0, bad));
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + bad;
  const auto* end = reinterpret_cast<const unsigned char*>(s.data()) + s.size();
  int64_t replaced = 0;
  while (p < end) {
    size_t n = ValidSequenceLength(p, end);
    if (n == 0) {
      out->append("\xEF\xBF\xBD");
      ++replaced;
      ++p;
    } else {
      out->append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  return replaced;
}

std::string RepairUtf8(std::string_view s, int64_t* replaced) {
  std::string out;
  out.reserve(s.size() + 8);
  int64_t n = AppendRepairedUtf8(s, &out);
  if (replaced != nullptr) *replaced = n;
  return out;
}

void AppendHex(std::string_view s, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 15]);
  }
}

}  // namespace lakepipe
