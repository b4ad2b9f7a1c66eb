#include "types/interval.h"

#include <cctype>
#include <vector>

#include "types/datetime.h"

namespace lakepipe {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An exact decimal amount "-1.5" as an integer count of 10^-6 units; false when malformed
// or out of range.
bool ParseAmountMicros(std::string_view text, bool* has_fraction, int64_t* scaled) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  int64_t whole = 0, fraction = 0;
  int digits = 0, fraction_digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
    if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, text[i] - '0', &whole)) return false;
  }
  *has_fraction = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++fraction_digits) {
      if (fraction_digits < 6) fraction = fraction * 10 + (text[i] - '0');
      else if (text[i] != '0') return false;  // finer than a microsecond
      if (text[i] != '0') *has_fraction = true;
    }
  }
  if (i != text.size() || (digits == 0 && fraction_digits == 0)) return false;
  for (int k = fraction_digits; k < 6; ++k) fraction *= 10;
  int64_t v;
  if (__builtin_mul_overflow(whole, 1000000, &v) || __builtin_add_overflow(v, fraction, &v)) return false;
  *scaled = negative ? -v : v;
  return true;
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t b = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

}  // namespace

Result<IntervalUnit> ParseIntervalUnit(std::string_view text) {
  std::string u = Lower(text);
  if (u.size() > 1 && u.back() == 's' && u != "ms" && u != "us") u.pop_back();
  if (u == "year" || u == "yr") return IntervalUnit::kYear;
  if (u == "quarter") return IntervalUnit::kQuarter;
  if (u == "month" || u == "mon") return IntervalUnit::kMonth;
  if (u == "week") return IntervalUnit::kWeek;
  if (u == "day") return IntervalUnit::kDay;
  if (u == "hour" || u == "hr") return IntervalUnit::kHour;
  if (u == "minute" || u == "min") return IntervalUnit::kMinute;
  if (u == "second" || u == "sec") return IntervalUnit::kSecond;
  if (u == "millisecond" || u == "ms") return IntervalUnit::kMillisecond;
  if (u == "microsecond" || u == "us") return IntervalUnit::kMicrosecond;
  return Status::InvalidArgument("unknown interval unit `" + std::string(text) +
                                 "` (use YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND or MICROSECOND)");
}

int64_t MicrosPerUnit(IntervalUnit u) {
  switch (u) {
    case IntervalUnit::kWeek: return 7 * kMicrosPerDay;
    case IntervalUnit::kDay: return kMicrosPerDay;
    case IntervalUnit::kHour: return 3600 * kMicrosPerSecond;
    case IntervalUnit::kMinute: return 60 * kMicrosPerSecond;
    case IntervalUnit::kSecond: return kMicrosPerSecond;
    case IntervalUnit::kMillisecond: return 1000;
    case IntervalUnit::kMicrosecond: return 1;
    default: return 0;
  }
}

int64_t MonthsPerUnit(IntervalUnit u) {
  switch (u) {
    case IntervalUnit::kYear: return 12;
    case IntervalUnit::kQuarter: return 3;
    case IntervalUnit::kMonth: return 1;
    default: return 0;
  }
}

Result<IntervalValue> ParseIntervalText(std::string_view text, std::string_view unit) {
  std::vector<std::string_view> words = Words(text);
  if (!unit.empty()) {
    if (words.size() != 1) {
      return Status::InvalidArgument("interval text '" + std::string(text) + "' with unit " + std::string(unit) +
                                     " must be one number");
    }
    words.push_back(unit);
  }
  if (words.empty() || words.size() % 2 != 0) {
    return Status::InvalidArgument("interval text '" + std::string(text) +
                                   "' must be pairs of a number and a unit, such as '1 day 2 hours'");
  }
  IntervalValue out;
  bool any_ym = false, any_dt = false;
  for (size_t k = 0; k < words.size(); k += 2) {
    LP_ASSIGN_OR_RETURN(IntervalUnit u, ParseIntervalUnit(words[k + 1]));
    bool fraction = false;
    int64_t scaled = 0;  // amount * 10^6
    if (!ParseAmountMicros(words[k], &fraction, &scaled)) {
      return Status::InvalidArgument("interval amount `" + std::string(words[k]) + "` in '" + std::string(text) +
                                     "' is not a number (or is out of range)");
    }
    if (IsYearMonthUnit(u)) {
      any_ym = true;
      if (fraction) return Status::InvalidArgument("interval amount `" + std::string(words[k]) + "` must be whole for " + Lower(words[k + 1]));
      int64_t m;
      if (__builtin_mul_overflow(scaled / 1000000, MonthsPerUnit(u), &m) || __builtin_add_overflow(out.months, m, &out.months) ||
          out.months > INT32_MAX || out.months < INT32_MIN) {
        return Status::InvalidArgument("interval '" + std::string(text) + "' overflows");
      }
    } else {
      any_dt = true;
      // scaled is amount * 10^6; the unit's micros are a multiple of 1 (micros) .. 7 days.
      int64_t per = MicrosPerUnit(u);
      __int128 v = static_cast<__int128>(scaled) * per;
      if (v % 1000000 != 0) {
        return Status::InvalidArgument("interval amount `" + std::string(words[k]) + "` is finer than a microsecond");
      }
      v /= 1000000;
      if (v > INT64_MAX || v < INT64_MIN || __builtin_add_overflow(out.micros, static_cast<int64_t>(v), &out.micros)) {
        return Status::InvalidArgument("interval '" + std::string(text) + "' overflows");
      }
    }
  }
  if (any_ym && any_dt) {
    return Status::NotSupported("interval '" + std::string(text) +
                                "' mixes year/month and day/time units (Spark makes a calendar interval, which is not built "
                                "yet); write two intervals: INTERVAL '1' MONTH + INTERVAL '2' DAY");
  }
  out.year_month = any_ym;
  return out;
}

std::string FormatDayTimeInterval(int64_t micros) {
  bool negative = micros < 0;
  unsigned __int128 m = negative ? static_cast<unsigned __int128>(-(static_cast<__int128>(micros))) : micros;
  uint64_t days = static_cast<uint64_t>(m / kMicrosPerDay);
  uint64_t rest = static_cast<uint64_t>(m % kMicrosPerDay);
  uint64_t hours = rest / (3600ULL * kMicrosPerSecond);
  rest %= 3600ULL * kMicrosPerSecond;
  uint64_t minutes = rest / (60ULL * kMicrosPerSecond);
  rest %= 60ULL * kMicrosPerSecond;
  uint64_t seconds = rest / kMicrosPerSecond;
  uint64_t fraction = rest % kMicrosPerSecond;
  char buf[96];
  snprintf(buf, sizeof(buf), "%s%llu %02llu:%02llu:%02llu", negative ? "-" : "", static_cast<unsigned long long>(days),
           static_cast<unsigned long long>(hours), static_cast<unsigned long long>(minutes),
           static_cast<unsigned long long>(seconds));
  std::string s = buf;
  if (fraction) {
    char f[16];
    snprintf(f, sizeof(f), ".%06llu", static_cast<unsigned long long>(fraction));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    s += fs;
  }
  return "INTERVAL '" + s + "' DAY TO SECOND";
}

std::string FormatYearMonthInterval(int64_t months) {
  bool negative = months < 0;
  int64_t m = negative ? -months : months;
  return "INTERVAL '" + std::string(negative ? "-" : "") + std::to_string(m / 12) + "-" + std::to_string(m % 12) +
         "' YEAR TO MONTH";
}

}  // namespace lakepipe
