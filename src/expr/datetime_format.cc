// Spark datetime patterns (https://spark.apache.org/docs/latest/sql-ref-datetime-pattern.html)
// for to_date/to_timestamp (parsing) and date_format (formatting), UTC only.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "expr/kernel_state.h"
#include "types/datetime.h"

namespace lakepipe::expr {
namespace {

const char* kMonthShort[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char* kMonthLong[] = {"January", "February", "March",     "April",   "May",      "June",
                            "July",    "August",   "September", "October", "November", "December"};
const char* kDayShort[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
const char* kDayLong[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

bool StartsWithIgnoreCase(std::string_view s, size_t at, std::string_view word) {
  if (s.size() - at < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[at + i])) != std::tolower(static_cast<unsigned char>(word[i]))) return false;
  }
  return true;
}

// Reads between min_digits and max_digits digits at *pos.
bool ReadNumber(std::string_view s, size_t* pos, int min_digits, int max_digits, int64_t* out) {
  int64_t v = 0;
  int n = 0;
  while (*pos < s.size() && n < max_digits && std::isdigit(static_cast<unsigned char>(s[*pos]))) {
    v = v * 10 + (s[*pos] - '0');
    ++*pos;
    ++n;
  }
  if (n < min_digits) return false;
  *out = v;
  return true;
}

// Fields that parse as digits (text months, day names and AM/PM do not).
bool IsNumeric(const DatetimeFormat::Field& f) {
  switch (f.letter) {
    case 'y': case 'd': case 'H': case 'h': case 'k': case 'K': case 'm': case 's': case 'S': case 'D':
      return true;
    case 'M': case 'L':
      return f.count <= 2;
    default:
      return false;
  }
}

void MarkAdjacentNumbers(std::vector<DatetimeFormat::Field>* fields) {
  for (size_t i = 0; i < fields->size();) {
    size_t j = i + 1;
    while (j < fields->size() && IsNumeric((*fields)[i]) && IsNumeric((*fields)[j])) ++j;
    for (size_t k = i + 1; k < j; ++k) {
      (*fields)[k].fixed = true;
      (*fields)[i].reserve += (*fields)[k].count;
    }
    i = j;
  }
}

// How many digits field `f` may take at `pos`: a fixed field exactly its count; the head
// of an adjacent run what the run's digits leave after the fields behind it.
int MaxDigits(const DatetimeFormat::Field& f, std::string_view s, size_t pos, int natural_max) {
  if (f.fixed) return f.count;
  if (f.reserve == 0) return natural_max;
  int available = 0;
  while (pos + available < s.size() && std::isdigit(static_cast<unsigned char>(s[pos + available]))) ++available;
  return std::min(natural_max, available - f.reserve);
}

void AppendPadded(std::string* out, int64_t v, int width) {
  if (v < 0) {
    out->push_back('-');
    v = -v;
  }
  char buf[24];
  int len = 0;
  do {
    buf[len++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int i = len; i < width; ++i) out->push_back('0');
  while (len > 0) out->push_back(buf[--len]);
}

}  // namespace

Result<std::shared_ptr<const KernelState>> CompileDatetimeFormat(const std::string& format, bool parsing) {
  auto f = std::make_shared<DatetimeFormat>();
  f->source = format;
  for (size_t i = 0; i < format.size();) {
    char c = format[i];
    if (c == '\'') {
      // Quoted literal; '' is a single quote.
      size_t j = i + 1;
      std::string text;
      if (j < format.size() && format[j] == '\'') {
        f->fields.push_back({0, 0, "'"});
        i = j + 1;
        continue;
      }
      while (j < format.size()) {
        if (format[j] == '\'') {
          if (j + 1 < format.size() && format[j + 1] == '\'') {
            text += '\'';
            j += 2;
            continue;
          }
          break;
        }
        text += format[j++];
      }
      if (j >= format.size()) return Status::InvalidArgument("unterminated quote in datetime pattern '" + format + "'");
      f->fields.push_back({0, 0, text});
      i = j + 1;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < format.size() && format[j] == c) ++j;
      int count = static_cast<int>(j - i);
      switch (c) {
        case 'y': case 'M': case 'L': case 'd': case 'H': case 'h': case 'k': case 'K': case 'm':
        case 's': case 'S': case 'a': case 'E': case 'D': case 'Q': case 'q':
          break;
        default:
          return Status::NotSupported("datetime pattern letter '" + std::string(1, c) + "' in '" + format +
                                      "' (time zones and week-based fields are not supported)");
      }
      if ((c == 'M' || c == 'L') && count > 4) return Status::InvalidArgument("too many pattern letters 'M' in '" + format + "'");
      if (c == 'S' && count > 9) return Status::InvalidArgument("too many pattern letters 'S' in '" + format + "'");
      if (parsing && (c == 'D' || c == 'Q' || c == 'q')) {
        return Status::NotSupported("parsing datetime pattern letter '" + std::string(1, c) + "' in '" + format + "'");
      }
      f->fields.push_back({c, count, ""});
      i = j;
      continue;
    }
    if (c == '[' || c == ']' || c == '{' || c == '}' || c == '#') {
      return Status::NotSupported("datetime pattern character '" + std::string(1, c) + "' in '" + format + "'");
    }
    if (!f->fields.empty() && f->fields.back().letter == 0 && format[i - 1] != '\'') {
      f->fields.back().text += c;
    } else {
      f->fields.push_back({0, 0, std::string(1, c)});
    }
    ++i;
  }
  if (parsing) MarkAdjacentNumbers(&f->fields);
  return std::shared_ptr<const KernelState>(f);
}

std::optional<int64_t> ParseWithFormat(const DatetimeFormat& format, std::string_view s) {
  int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, micros = 0;
  int pm = -1;  // -1 unset, 0 AM, 1 PM
  bool hour12 = false;
  size_t pos = 0;
  for (const auto& f : format.fields) {
    if (f.letter == 0) {
      if (s.compare(pos, f.text.size(), f.text) != 0 || s.size() - pos < f.text.size()) return std::nullopt;
      pos += f.text.size();
      continue;
    }
    int64_t v = 0;
    auto Number = [&](int min_digits, int max_digits, int64_t* out) {
      int most = MaxDigits(f, s, pos, max_digits);
      return ReadNumber(s, &pos, f.fixed ? most : min_digits, most, out);
    };
    switch (f.letter) {
      case 'y':
        if (f.count == 2) {
          if (!Number(2, 2, &v)) return std::nullopt;
          year = 2000 + v;
        } else {
          if (!Number(f.count == 1 ? 1 : f.count, 9, &v)) return std::nullopt;
          year = v;
        }
        break;
      case 'M':
      case 'L':
        if (f.count <= 2) {
          if (!Number(f.count, 2, &v)) return std::nullopt;
          month = v;
        } else {
          bool found = false;
          for (int m = 0; m < 12 && !found; ++m) {
            const char* name = f.count == 3 ? kMonthShort[m] : kMonthLong[m];
            if (StartsWithIgnoreCase(s, pos, name)) {
              month = m + 1;
              pos += std::strlen(name);
              found = true;
            }
          }
          if (!found) return std::nullopt;
        }
        break;
      case 'd':
        if (!Number(f.count, 2, &day)) return std::nullopt;
        break;
      case 'H':
      case 'k':
        if (!Number(f.count, 2, &hour)) return std::nullopt;
        if (f.letter == 'k' && hour == 24) hour = 0;
        break;
      case 'h':
      case 'K':
        if (!Number(f.count, 2, &hour)) return std::nullopt;
        hour12 = true;
        break;
      case 'm':
        if (!Number(f.count, 2, &minute)) return std::nullopt;
        break;
      case 's':
        if (!Number(f.count, 2, &second)) return std::nullopt;
        break;
      case 'S': {
        size_t start = pos;
        if (!Number(1, f.count, &v)) return std::nullopt;
        int digits = static_cast<int>(pos - start);
        for (int i = digits; i < 6; ++i) v *= 10;
        for (int i = 6; i < digits; ++i) v /= 10;
        micros = v;
        break;
      }
      case 'a':
        if (StartsWithIgnoreCase(s, pos, "AM")) {
          pm = 0;
        } else if (StartsWithIgnoreCase(s, pos, "PM")) {
          pm = 1;
        } else {
          return std::nullopt;
        }
        pos += 2;
        break;
      case 'E': {
        bool found = false;
        for (int d = 0; d < 7 && !found; ++d) {
          const char* name = f.count >= 4 ? kDayLong[d] : kDayShort[d];
          if (StartsWithIgnoreCase(s, pos, name)) {
            pos += std::strlen(name);
            found = true;
          }
        }
        if (!found) return std::nullopt;
        break;
      }
      default: return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  if (hour12) {
    if (hour < 1 || hour > 12) {
      if (!(hour == 0)) return std::nullopt;
    }
    if (pm == 1 && hour < 12) hour += 12;
    if (pm == 0 && hour == 12) hour = 0;
  } else if (pm == 1 && hour < 12) {
    hour += 12;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  if (!IsValidCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day))) return std::nullopt;
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * kMicrosPerDay + ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond + micros;
}

void FormatWithFormat(const DatetimeFormat& format, int64_t t, std::string* out) {
  int64_t days = FloorDiv(t, kMicrosPerDay);
  int64_t in_day = t - days * kMicrosPerDay;
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, &year, &month, &day);
  int64_t hour = in_day / (3600 * kMicrosPerSecond);
  int64_t minute = in_day / (60 * kMicrosPerSecond) % 60;
  int64_t second = in_day / kMicrosPerSecond % 60;
  int64_t micros = in_day % kMicrosPerSecond;
  int weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday; 0 = Monday
  for (const auto& f : format.fields) {
    switch (f.letter) {
      case 0: out->append(f.text); break;
      case 'y':
        if (f.count == 2) {
          AppendPadded(out, ((year % 100) + 100) % 100, 2);
        } else {
          AppendPadded(out, year, f.count);
        }
        break;
      case 'M':
      case 'L':
        if (f.count <= 2) {
          AppendPadded(out, month, f.count);
        } else {
          out->append(f.count == 3 ? kMonthShort[month - 1] : kMonthLong[month - 1]);
        }
        break;
      case 'd': AppendPadded(out, day, f.count); break;
      case 'D': AppendPadded(out, days - DaysFromCivil(year, 1, 1) + 1, f.count); break;
      case 'H': AppendPadded(out, hour, f.count); break;
      case 'k': AppendPadded(out, hour == 0 ? 24 : hour, f.count); break;
      case 'h': AppendPadded(out, hour % 12 == 0 ? 12 : hour % 12, f.count); break;
      case 'K': AppendPadded(out, hour % 12, f.count); break;
      case 'm': AppendPadded(out, minute, f.count); break;
      case 's': AppendPadded(out, second, f.count); break;
      case 'S': {
        std::string frac;
        AppendPadded(&frac, micros, 6);
        if (f.count <= 6) {
          out->append(frac, 0, static_cast<size_t>(f.count));
        } else {
          out->append(frac);
          out->append(static_cast<size_t>(f.count - 6), '0');
        }
        break;
      }
      case 'a': out->append(hour < 12 ? "AM" : "PM"); break;
      case 'E': out->append(f.count >= 4 ? kDayLong[weekday] : kDayShort[weekday]); break;
      case 'Q':
      case 'q': AppendPadded(out, (month - 1) / 3 + 1, f.count); break;
      default: break;
    }
  }
}

namespace {
std::string_view Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}
}  // namespace

std::optional<int32_t> CastStringToDate(std::string_view text) {
  std::string_view s = Trim(text);
  size_t cut = s.find_first_of(" T");
  if (cut != std::string_view::npos) s = s.substr(0, cut);
  // yyyy, yyyy-[m]m, yyyy-[m]m-[d]d
  size_t pos = 0;
  bool negative = false;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) {
    negative = s[pos] == '-';
    ++pos;
  }
  int64_t year = 0, month = 1, day = 1;
  size_t start = pos;
  if (!ReadNumber(s, &pos, 4, 7, &year) || pos - start < 4) return std::nullopt;
  if (negative) year = -year;
  if (pos < s.size()) {
    if (s[pos++] != '-') return std::nullopt;
    if (!ReadNumber(s, &pos, 1, 2, &month)) return std::nullopt;
    if (pos < s.size()) {
      if (s[pos++] != '-') return std::nullopt;
      if (!ReadNumber(s, &pos, 1, 2, &day)) return std::nullopt;
      if (pos != s.size()) return std::nullopt;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  if (!IsValidCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day))) return std::nullopt;
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

std::optional<int64_t> CastStringToTimestamp(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return std::nullopt;
  // A bare date (or yyyy / yyyy-mm) is midnight.
  if (s.find_first_of(" T:") == std::string_view::npos) {
    auto d = CastStringToDate(s);
    if (!d) return std::nullopt;
    return static_cast<int64_t>(*d) * kMicrosPerDay;
  }
  auto r = ParseTimestamp(s);
  if (!r.ok()) return std::nullopt;
  return *r;
}

}  // namespace lakepipe::expr
