#include "jobs/time_zone.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lakepipe::jobs {

int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int WeekdayFromDays(int64_t days) {
  int64_t w = (days + 4) % 7;  // 1970-01-01 was a Thursday
  return static_cast<int>(w < 0 ? w + 7 : w);
}

int DaysInMonth(int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

class Bytes {
 public:
  Bytes(const std::string& s, size_t at) : s_(&s), at_(at) {}
  bool Has(size_t n) const { return at_ + n <= s_->size(); }
  int64_t Be(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>((*s_)[at_ + i]);
    at_ += n;
    if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  void Skip(size_t n) { at_ += n; }
  size_t at() const { return at_; }

 private:
  const std::string* s_;
  size_t at_;
};

// POSIX TZ string pieces (the TZif footer).
struct TzText {
  const std::string& s;
  size_t i = 0;
  bool Done() const { return i >= s.size(); }
  char Peek() const { return i < s.size() ? s[i] : '\0'; }

  bool Name(std::string* out) {
    size_t start = i;
    if (Peek() == '<') {
      size_t close = s.find('>', i);
      if (close == std::string::npos) return false;
      *out = s.substr(i + 1, close - i - 1);
      i = close + 1;
      return true;
    }
    while (std::isalpha(static_cast<unsigned char>(Peek()))) ++i;
    *out = s.substr(start, i - start);
    return i - start >= 3;
  }
  // [+-]hh[:mm[:ss]] in seconds (sign as written).
  bool Time(int64_t* out) {
    int sign = 1;
    if (Peek() == '+' || Peek() == '-') sign = s[i++] == '-' ? -1 : 1;
    int64_t parts[3] = {0, 0, 0};
    for (int p = 0; p < 3; ++p) {
      if (!std::isdigit(static_cast<unsigned char>(Peek()))) return false;
      int64_t v = 0;
      for (int digits = 0; std::isdigit(static_cast<unsigned char>(Peek())); ++digits) {
        if (digits == 3) return false;  // hours go to 167 (RFC 8536), minutes and seconds to 59
        v = v * 10 + (s[i++] - '0');
      }
      parts[p] = v;
      if (Peek() != ':') break;
      ++i;
    }
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return true;
  }
  bool Number(int* out) {
    if (!std::isdigit(static_cast<unsigned char>(Peek()))) return false;
    int v = 0;
    for (int digits = 0; std::isdigit(static_cast<unsigned char>(Peek())); ++digits) {
      if (digits == 4) return false;
      v = v * 10 + (s[i++] - '0');
    }
    *out = v;
    return true;
  }
};

}  // namespace

TimeZone::TimeZone() = default;

Result<TimeZone> TimeZone::Load(const std::string& name) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "Z") {
    TimeZone utc;
    utc.name_ = name.empty() ? "UTC" : name;
    return utc;
  }
  bool ok = name.front() != '/' && name.find("..") == std::string::npos;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' || c == '+')) ok = false;
  }
  if (!ok) return Status::InvalidArgument("'" + name + "' is not a time zone name (like Europe/Paris or UTC)");
  const char* dir = std::getenv("TZDIR");
  std::string folder = dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo";
  std::ifstream in(folder + "/" + name, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("unknown time zone '" + name + "': no file " + folder + "/" + name +
                                   " (Debian package tzdata; names like Europe/Paris, America/New_York, UTC)");
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  return FromTzif(name, bytes.str());
}

Result<TimeZone> TimeZone::FromTzif(const std::string& name, const std::string& data) {
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("time zone file of " + name + " is not a valid TZif file: " + what);
  };
  if (data.size() < 44 || data.compare(0, 4, "TZif") != 0) return corrupt("no TZif header");
  TimeZone tz;
  tz.name_ = name;
  char version = data[4];
  Bytes b(data, 20);
  int64_t isutcnt = b.Be(4), isstdcnt = b.Be(4), leapcnt = b.Be(4), timecnt = b.Be(4), typecnt = b.Be(4),
          charcnt = b.Be(4);
  size_t time_size = 4;
  auto counts_ok = [&] {
    const int64_t kMax = 1 << 24;
    return timecnt >= 0 && timecnt < kMax && typecnt > 0 && typecnt <= 256 && charcnt >= 0 && charcnt < kMax &&
           leapcnt >= 0 && leapcnt < kMax && isstdcnt >= 0 && isstdcnt <= typecnt && isutcnt >= 0 &&
           isutcnt <= typecnt;
  };
  if (!counts_ok()) return corrupt("bad counts");
  if (version >= '2') {
    // Skip the version 1 data block; use the 64-bit one that follows.
    size_t v1 = static_cast<size_t>(timecnt * 4 + timecnt + typecnt * 6 + charcnt + leapcnt * 8 + isstdcnt + isutcnt);
    if (!b.Has(v1 + 44)) return corrupt("truncated after the version 1 data");
    b.Skip(v1);
    Bytes h(data, b.at());
    h.Skip(20);
    isutcnt = h.Be(4), isstdcnt = h.Be(4), leapcnt = h.Be(4), timecnt = h.Be(4), typecnt = h.Be(4),
    charcnt = h.Be(4);
    b = Bytes(data, h.at());
    time_size = 8;
  }
  if (!counts_ok()) return corrupt("bad counts");
  size_t need = static_cast<size_t>(timecnt) * (time_size + 1) + static_cast<size_t>(typecnt) * 6 +
                static_cast<size_t>(charcnt) + static_cast<size_t>(leapcnt) * (time_size + 4) +
                static_cast<size_t>(isstdcnt + isutcnt);
  if (!b.Has(need)) return corrupt("truncated data block");
  std::vector<int64_t> times(static_cast<size_t>(timecnt));
  for (auto& t : times) t = b.Be(time_size);
  std::vector<int> idx(static_cast<size_t>(timecnt));
  for (auto& i : idx) i = static_cast<int>(b.Be(1));
  std::vector<int32_t> type_offsets(static_cast<size_t>(typecnt));
  for (auto& o : type_offsets) {
    o = static_cast<int32_t>(b.Be(4));
    b.Skip(2);  // isdst, desigidx
  }
  for (size_t k = 0; k < times.size(); ++k) {
    if (idx[k] >= typecnt) return corrupt("transition type out of range");
    if (k > 0 && times[k] <= times[k - 1]) return corrupt("transitions not ascending");
    tz.transitions_.push_back(times[k]);
    tz.offsets_.push_back(type_offsets[static_cast<size_t>(idx[k])]);
  }
  tz.initial_offset_ = type_offsets[0];
  b.Skip(static_cast<size_t>(charcnt) + static_cast<size_t>(leapcnt) * (time_size + 4) +
         static_cast<size_t>(isstdcnt + isutcnt));
  if (time_size == 8 && b.at() < data.size() && data[b.at()] == '\n') {
    size_t end = data.find('\n', b.at() + 1);
    if (end == std::string::npos) return corrupt("unterminated footer");
    std::string footer = data.substr(b.at() + 1, end - b.at() - 1);
    if (!footer.empty()) {
      TzText t{footer};
      std::string std_name, dst_name;
      int64_t std_off = 0;
      if (!t.Name(&std_name) || !t.Time(&std_off)) return corrupt("bad footer '" + footer + "'");
      tz.has_rule_ = true;
      tz.std_offset_ = static_cast<int32_t>(-std_off);  // POSIX counts west of Greenwich
      if (!t.Done()) {
        if (!t.Name(&dst_name)) return corrupt("bad footer '" + footer + "'");
        tz.rule_has_dst_ = true;
        tz.dst_offset_ = tz.std_offset_ + 3600;
        if (t.Peek() != ',' && !t.Done()) {
          int64_t dst_off = 0;
          if (!t.Time(&dst_off)) return corrupt("bad footer '" + footer + "'");
          tz.dst_offset_ = static_cast<int32_t>(-dst_off);
        }
        auto rule_date = [&](RuleDate* rd) {
          if (t.Peek() == 'M') {
            ++t.i;
            rd->kind = 'M';
            if (!t.Number(&rd->a) || t.Peek() != '.') return false;
            ++t.i;
            if (!t.Number(&rd->b) || t.Peek() != '.') return false;
            ++t.i;
            if (!t.Number(&rd->c)) return false;
            if (rd->a < 1 || rd->a > 12 || rd->b < 1 || rd->b > 5 || rd->c > 6) return false;
          } else if (t.Peek() == 'J') {
            ++t.i;
            rd->kind = 'J';
            if (!t.Number(&rd->a) || rd->a < 1 || rd->a > 365) return false;
          } else {
            rd->kind = 'N';
            if (!t.Number(&rd->a) || rd->a > 365) return false;
          }
          rd->time = 7200;
          if (t.Peek() == '/') {
            ++t.i;
            if (!t.Time(&rd->time)) return false;
          }
          return true;
        };
        if (t.Peek() == ',') {
          ++t.i;
          if (!rule_date(&tz.start_) || t.Peek() != ',') return corrupt("bad footer rule '" + footer + "'");
          ++t.i;
          if (!rule_date(&tz.end_) || !t.Done()) return corrupt("bad footer rule '" + footer + "'");
        } else {
          // No rule given: POSIX leaves it to the implementation; the US rule, as glibc.
          tz.start_ = RuleDate{'M', 3, 2, 0, 7200};
          tz.end_ = RuleDate{'M', 11, 1, 0, 7200};
        }
      }
    }
  }
  return tz;
}

int64_t TimeZone::RuleOffsetAt(int64_t utc) const {
  if (!rule_has_dst_) return std_offset_;
  int64_t y;
  int m, d;
  CivilFromDays(FloorDiv(utc + std_offset_, 86400), &y, &m, &d);
  auto day_of = [y](const RuleDate& rd) -> int64_t {
    if (rd.kind == 'M') {
      int64_t first = DaysFromCivil(y, rd.a, 1);
      int64_t day = first + (rd.c - WeekdayFromDays(first) + 7) % 7 + 7 * (rd.b - 1);
      while (day >= first + DaysInMonth(y, rd.a)) day -= 7;
      return day;
    }
    int64_t jan1 = DaysFromCivil(y, 1, 1);
    if (rd.kind == 'J') {
      bool leap = DaysInMonth(y, 2) == 29;
      return jan1 + rd.a - 1 + (leap && rd.a >= 60 ? 1 : 0);
    }
    return jan1 + rd.a;
  };
  // Start is given in standard time, end in daylight time (both local, as in effect).
  int64_t start = day_of(start_) * 86400 + start_.time - std_offset_;
  int64_t end = day_of(end_) * 86400 + end_.time - dst_offset_;
  bool dst = start < end ? (utc >= start && utc < end) : !(utc >= end && utc < start);
  return dst ? dst_offset_ : std_offset_;
}

int64_t TimeZone::OffsetAt(int64_t utc) const {
  if (transitions_.empty()) return has_rule_ ? RuleOffsetAt(utc) : initial_offset_;
  if (utc < transitions_.front()) return initial_offset_;
  size_t i = static_cast<size_t>(std::upper_bound(transitions_.begin(), transitions_.end(), utc) -
                                 transitions_.begin()) - 1;
  if (i + 1 == transitions_.size() && has_rule_) return RuleOffsetAt(utc);
  return offsets_[i];
}

std::vector<int64_t> TimeZone::ToUtc(int64_t local) const {
  // Offsets lie within +-26 h, so an instant for `local` lies within a day of it; the
  // offsets a day before and after cover any single transition in that window.
  std::vector<int64_t> out;
  for (int64_t o : {OffsetAt(local - 86400), OffsetAt(local), OffsetAt(local + 86400)}) {
    int64_t t = local - o;
    if (OffsetAt(t) == o && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t TimeZone::GapEnd(int64_t local) const {
  int64_t before = OffsetAt(local - 86400), after = OffsetAt(local + 86400);
  int64_t lo = local - std::max(before, after), hi = local - std::min(before, after);
  int64_t lo_offset = OffsetAt(lo);
  // The first instant in (lo, hi] whose offset differs from lo's: the transition.
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (OffsetAt(mid) == lo_offset) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return hi;
}

}  // namespace lakepipe::jobs
