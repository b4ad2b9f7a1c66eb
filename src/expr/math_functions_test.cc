// RoundDouble against a reference that rounds the shortest decimal text of the value as
// text and parses the result back (what RoundDouble did before its fast path): the two
// must agree bit for bit, halves, ties to even, negative digits and long values included.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "expr/eval_internal.h"

namespace lakepipe::expr {
namespace {

double ReferenceRound(double v, int digits, bool half_even) {
  if (!std::isfinite(v)) return v;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exponent = std::stoi(sci.substr(e + 1));
  std::string mantissa;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') mantissa += sci[i];
  int keep = exponent + 1 + digits;
  if (keep >= static_cast<int>(mantissa.size())) return v;
  if (keep < 0) return negative ? -0.0 : 0.0;
  std::string kept = mantissa.substr(0, static_cast<size_t>(keep));
  int first = mantissa[static_cast<size_t>(keep)] - '0';
  bool rest = mantissa.find_first_not_of('0', static_cast<size_t>(keep) + 1) != std::string::npos;
  bool odd = !kept.empty() && (kept.back() - '0') % 2 == 1;
  bool up = first > 5 || (first == 5 && (rest || !half_even || odd));
  // Add one to the decimal text.
  if (kept.empty()) kept = "0";
  if (up) {
    int i = static_cast<int>(kept.size()) - 1;
    while (i >= 0 && kept[static_cast<size_t>(i)] == '9') kept[static_cast<size_t>(i--)] = '0';
    if (i < 0) kept.insert(kept.begin(), '1');
    else ++kept[static_cast<size_t>(i)];
  }
  std::string text = kept + "e" + std::to_string(-digits);
  double out = 0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return negative ? -out : out;
}

void ExpectSame(double v, int digits, bool half_even) {
  double want = ReferenceRound(v, digits, half_even);
  double got = RoundDouble(v, digits, half_even);
  ASSERT_EQ(std::memcmp(&want, &got, sizeof want), 0)
      << "round(" << v << ", " << digits << (half_even ? ", half even" : "") << "): " << got << " not " << want;
}

TEST(RoundDouble, EqualsRoundingTheDecimalText) {
  for (double v : {0.0, -0.0, 2.5, -2.5, 1.005, 0.125, 0.375, 37.019999999999996, 1e-320, 5e-324, 1.7976931348623157e308,
                   123456789012345.67, 9007199254740993.0, 0.5, 0.05, 0.0049999999999999999, 99.995, -99.995}) {
    for (int d = -5; d <= 10; ++d) {
      ExpectSame(v, d, false);
      ExpectSame(v, d, true);
    }
  }
  std::mt19937_64 rng(15);
  std::uniform_real_distribution<double> price(0, 1000);
  for (int i = 0; i < 200000; ++i) {
    // Prices times quantities (the orders pipeline's line totals), and values of any scale.
    double v = std::round(price(rng) * 100) / 100 * static_cast<double>(rng() % 200 + 1);
    if (i % 2) v = -v;
    ExpectSame(v, 2, false);
    ExpectSame(v, 2, true);
    uint64_t bits = rng();
    double any;
    std::memcpy(&any, &bits, sizeof any);
    ExpectSame(any, static_cast<int>(rng() % 40) - 20, i % 3 == 0);
    // Any scale and digits of the fast path, and decimal halves (x.xx5 and its neighbours).
    double scaled = price(rng) * std::pow(10.0, static_cast<int>(rng() % 18) - 6);
    ExpectSame(scaled, static_cast<int>(rng() % 16), i % 2 == 0);
    int d = static_cast<int>(rng() % 8);
    double half = (static_cast<double>(rng() % 1000000) + 0.5) / std::pow(10.0, d);
    ExpectSame(half, d, i % 2 == 0);
    ExpectSame(std::nextafter(half, 0.0), d, false);
    ExpectSame(std::nextafter(half, 1e300), d, true);
  }
}

}  // namespace
}  // namespace lakepipe::expr
