// Decimal values as 128-bit unscaled integers, with Spark's text forms. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lakepipe {

using int128_t = __int128;

// 10^n for 0 <= n <= 38.
int128_t Pow10(int n);
// "-12.30" for (-1230, scale 2).
std::string FormatDecimal(int128_t unscaled, int scale);
// Parses "12.3", "-0.5", "1e3" into an unscaled value with `scale` digits after the point,
// rounding half up; InvalidArgument if not a number or if it needs more than `precision`
// digits.
Result<int128_t> ParseDecimal(std::string_view text, int precision, int scale);
// Number of decimal digits of |v| (0 has 1).
int DecimalDigits(int128_t v);
std::string Int128ToString(int128_t v);

}  // namespace lakepipe
