#include "types/datetime.h"

#include <cstdio>

namespace lakepipe {

// Howard Hinnant's civil-date algorithms (public domain description), restated.
int32_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int32_t>(era * 146097 + static_cast<int64_t>(doe) - 719468);
}

void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  *year = y + (m <= 2);
  *month = m;
  *day = d;
}

bool IsValidCivil(int64_t year, unsigned month, unsigned day) {
  if (month < 1 || month > 12 || day < 1) return false;
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  unsigned max = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= max;
}

std::string FormatDate(int32_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[32];
  if (y >= 0 && y <= 9999) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  } else {
    std::snprintf(buf, sizeof buf, "%lld-%02u-%02u", static_cast<long long>(y), m, d);
  }
  return buf;
}

namespace {
void SplitMicros(int64_t micros, int32_t* days, int64_t* micros_of_day) {
  int64_t d = FloorDiv(micros, kMicrosPerDay);
  *days = static_cast<int32_t>(d);
  *micros_of_day = micros - d * kMicrosPerDay;
}
}  // namespace

std::string FormatTimestamp(int64_t micros) {
  int32_t days;
  int64_t tod;
  SplitMicros(micros, &days, &tod);
  int64_t secs = tod / kMicrosPerSecond;
  int64_t frac = tod % kMicrosPerSecond;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %02lld:%02lld:%02lld", FormatDate(days).c_str(),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  std::string out = buf;
  if (frac != 0) {
    char f[8];
    std::snprintf(f, sizeof f, "%06lld", static_cast<long long>(frac));
    std::string fs = f;
    while (!fs.empty() && fs.back() == '0') fs.pop_back();
    out += "." + fs;
  }
  return out;
}

std::string FormatTimestampIso(int64_t micros) {
  int32_t days;
  int64_t tod;
  SplitMicros(micros, &days, &tod);
  int64_t secs = tod / kMicrosPerSecond;
  int64_t millis = tod % kMicrosPerSecond / 1000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%03lldZ", FormatDate(days).c_str(),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60), static_cast<long long>(millis));
  return buf;
}

namespace {

// Reads 1..max_digits digits at *pos.
bool ReadNumber(std::string_view s, size_t* pos, int max_digits, int64_t* out) {
  int64_t v = 0;
  int n = 0;
  while (*pos < s.size() && n < max_digits && s[*pos] >= '0' && s[*pos] <= '9') {
    v = v * 10 + (s[*pos] - '0');
    ++*pos;
    ++n;
  }
  *out = v;
  return n > 0;
}

bool ParseDatePart(std::string_view s, size_t* pos, int32_t* days) {
  int64_t y, m, d;
  bool neg = false;
  if (*pos < s.size() && (s[*pos] == '-' || s[*pos] == '+')) {
    neg = s[*pos] == '-';
    ++*pos;
  }
  if (!ReadNumber(s, pos, 6, &y)) return false;
  if (neg) y = -y;
  if (*pos >= s.size() || s[*pos] != '-') return false;
  ++*pos;
  if (!ReadNumber(s, pos, 2, &m)) return false;
  if (*pos >= s.size() || s[*pos] != '-') return false;
  ++*pos;
  if (!ReadNumber(s, pos, 2, &d)) return false;
  if (!IsValidCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d))) return false;
  *days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<int32_t> ParseDate(std::string_view text) {
  std::string_view s = Trim(text);
  size_t pos = 0;
  int32_t days;
  if (!ParseDatePart(s, &pos, &days) || pos != s.size()) {
    return Status::InvalidArgument("not a date (yyyy-mm-dd): '" + std::string(text) + "'");
  }
  return days;
}

Result<int64_t> ParseTimestamp(std::string_view text) {
  std::string_view s = Trim(text);
  auto bad = [&]() {
    return Status::InvalidArgument("not a timestamp (yyyy-mm-dd hh:mm:ss[.ffffff][Z|+hh:mm]): '" +
                                   std::string(text) + "'");
  };
  size_t pos = 0;
  int32_t days;
  if (!ParseDatePart(s, &pos, &days)) return bad();
  int64_t micros = static_cast<int64_t>(days) * kMicrosPerDay;
  if (pos == s.size()) return micros;
  if (s[pos] != 'T' && s[pos] != ' ') return bad();
  ++pos;
  int64_t hh, mm, ss = 0, frac = 0;
  if (!ReadNumber(s, &pos, 2, &hh) || pos >= s.size() || s[pos] != ':') return bad();
  ++pos;
  if (!ReadNumber(s, &pos, 2, &mm)) return bad();
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!ReadNumber(s, &pos, 2, &ss)) return bad();
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int digits = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 6) {
          frac = frac * 10 + (s[pos] - '0');
          ++digits;
        }
        ++pos;
      }
      if (digits == 0) return bad();
      while (digits++ < 6) frac *= 10;
    }
  }
  if (hh > 23 || mm > 59 || ss > 60) return bad();
  micros += ((hh * 60 + mm) * 60 + ss) * kMicrosPerSecond + frac;
  if (pos < s.size()) {
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int64_t oh, om = 0;
      if (!ReadNumber(s, &pos, 2, &oh)) return bad();
      if (pos < s.size() && s[pos] == ':') ++pos;
      ReadNumber(s, &pos, 2, &om);
      micros -= sign * (oh * 3600 + om * 60) * kMicrosPerSecond;
    } else if (s.substr(pos) == " UTC") {
      pos = s.size();
    }
  }
  if (pos != s.size()) return bad();
  return micros;
}

}  // namespace lakepipe
