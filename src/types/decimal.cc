#include "types/decimal.h"

#include <algorithm>

namespace lakepipe {

int128_t Pow10(int n) {
  int128_t v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

std::string Int128ToString(int128_t v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  // Work with the unsigned magnitude so that the minimum value does not overflow.
  unsigned __int128 u = neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string s;
  while (u > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (neg) s.push_back('-');
  std::reverse(s.begin(), s.end());
  return s;
}

int DecimalDigits(int128_t v) {
  unsigned __int128 u = v < 0 ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  int n = 1;
  while (u >= 10) {
    u /= 10;
    ++n;
  }
  return n;
}

std::string FormatDecimal(int128_t unscaled, int scale) {
  std::string digits = Int128ToString(unscaled);
  bool neg = !digits.empty() && digits[0] == '-';
  if (neg) digits.erase(0, 1);
  if (scale > 0) {
    if (static_cast<int>(digits.size()) <= scale)
      digits.insert(0, static_cast<size_t>(scale - static_cast<int>(digits.size()) + 1), '0');
    digits.insert(digits.size() - static_cast<size_t>(scale), ".");
  }
  return neg ? "-" + digits : digits;
}

Result<int128_t> ParseDecimal(std::string_view text, int precision, int scale) {
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  auto bad = [&](const char* why) {
    return Status::InvalidArgument(std::string(why) + ": '" + std::string(text) + "'");
  };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  // Collect digits with the position of the decimal point, then apply any exponent.
  std::string digits;
  int frac_digits = 0;
  bool seen_point = false, any = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      any = true;
      if (digits.empty() && c == '0' && !seen_point) continue;  // leading zeros
      digits.push_back(c);
      if (seen_point) ++frac_digits;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any) return bad("not a decimal number");
  int exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    int e = 0;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && e < 1000) e = e * 10 + (s[i++] - '0');
    if (i == start) return bad("not a decimal number");
    exponent = eneg ? -e : e;
  }
  if (i != s.size()) return bad("not a decimal number");
  // value = digits * 10^(exponent - frac_digits); we want value * 10^scale.
  int shift = scale + exponent - frac_digits;
  if (static_cast<int>(digits.size()) + shift > 38 + 1) return bad("decimal out of range");
  int128_t v = 0;
  int keep = static_cast<int>(digits.size()) + std::min(shift, 0);
  bool round_up = false;
  // 39 digits pass the check above but may not fit int128: any overflow is beyond every
  // precision (at most 38 digits), so it is refused as such.
  auto too_big = [&] { return bad("decimal does not fit its precision"); };
  for (int k = 0; k < static_cast<int>(digits.size()); ++k) {
    if (k < keep) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, digits[static_cast<size_t>(k)] - '0', &v)) {
        return too_big();
      }
    } else if (k == keep) {
      round_up = digits[static_cast<size_t>(k)] >= '5';
      break;
    }
  }
  for (int k = 0; k < shift; ++k) {
    if (__builtin_mul_overflow(v, 10, &v)) return too_big();
  }
  if (round_up) ++v;
  if (DecimalDigits(v) > precision && v != 0) return too_big();
  return neg ? -v : v;
}

}  // namespace lakepipe
