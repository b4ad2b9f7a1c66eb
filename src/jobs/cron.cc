#include "jobs/cron.h"

#include <cctype>
#include <utility>
#include <vector>

namespace lakepipe::jobs {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

struct FieldSpec {
  const char* name;
  int lo, hi;
  const char* const* names;  // names[i] stands for lo + i (nullptr: none)
  int num_names;
};

const char* const kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const char* const kWeekdays[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

Result<int> FieldValue(const FieldSpec& f, const std::string& text, const std::string& field_text) {
  std::string up = Upper(text);
  for (int i = 0; i < f.num_names; ++i) {
    if (up == f.names[i]) return f.lo + i;
  }
  bool digits = !text.empty();
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  int hi = f.hi;
  if (f.names == kWeekdays) hi = 7;  // 7 is Sunday too
  if (!digits || text.size() > 4 || std::stoi(text) < f.lo || std::stoi(text) > hi) {
    return Status::InvalidArgument("cron " + std::string(f.name) + " field '" + field_text + "': '" + text +
                                   "' is not a value from " + std::to_string(f.lo) + " to " + std::to_string(hi) +
                                   (f.num_names > 0 ? " or a name (" + std::string(f.names[0]) + "...)" : ""));
  }
  return std::stoi(text);
}

// The set of a field as a bit mask (bit v for value v).
Result<uint64_t> ParseField(const FieldSpec& f, const std::string& text) {
  uint64_t bits = 0;
  for (const std::string& item : Split(text, ',')) {
    std::string base = item;
    int step = 1;
    size_t slash = item.find('/');
    if (slash != std::string::npos) {
      base = item.substr(0, slash);
      std::string s = item.substr(slash + 1);
      bool digits = !s.empty() && s.size() <= 4;
      for (char c : s) digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (!digits || std::stoi(s) == 0) {
        return Status::InvalidArgument("cron " + std::string(f.name) + " field '" + text + "': step '" + s +
                                       "' is not a positive number");
      }
      step = std::stoi(s);
    }
    int lo, hi;
    if (base == "*") {
      lo = f.lo, hi = f.hi;
    } else {
      size_t dash = base.find('-');
      LP_ASSIGN_OR_RETURN(lo, FieldValue(f, base.substr(0, dash), text));
      if (dash != std::string::npos) {
        LP_ASSIGN_OR_RETURN(hi, FieldValue(f, base.substr(dash + 1), text));
      } else {
        hi = slash != std::string::npos ? f.hi : lo;  // "a/n": from a to the end
      }
      if (hi < lo) {
        return Status::InvalidArgument("cron " + std::string(f.name) + " field '" + text + "': range '" + base +
                                       "' ends before it starts");
      }
    }
    for (int v = lo; v <= hi; v += step) bits |= uint64_t{1} << v;
  }
  return bits;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

constexpr int64_t kSearchSeconds = 8LL * 366 * 86400;

}  // namespace

Result<CronSchedule> CronSchedule::Parse(const std::string& input) {
  std::string text = input;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(text.begin());
  std::string expanded = text;
  if (!text.empty() && text[0] == '@') {
    std::string m = Upper(text);
    if (m == "@HOURLY") {
      expanded = "0 * * * *";
    } else if (m == "@DAILY" || m == "@MIDNIGHT") {
      expanded = "0 0 * * *";
    } else if (m == "@WEEKLY") {
      expanded = "0 0 * * 0";
    } else if (m == "@MONTHLY") {
      expanded = "0 0 1 * *";
    } else if (m == "@YEARLY" || m == "@ANNUALLY") {
      expanded = "0 0 1 1 *";
    } else {
      return Status::InvalidArgument("unknown cron macro '" + text +
                                     "' (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually; "
                                     "@reboot is not a schedule)");
    }
  }
  std::vector<std::string> fields;
  std::string cur;
  for (char c : expanded) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) fields.push_back(cur);
  if (fields.size() != 5) {
    return Status::InvalidArgument("cron '" + text + "' has " + std::to_string(fields.size()) +
                                   " fields; it needs 5: minute hour day-of-month month day-of-week");
  }
  static const FieldSpec kSpecs[] = {{"minute", 0, 59, nullptr, 0},
                                     {"hour", 0, 23, nullptr, 0},
                                     {"day-of-month", 1, 31, nullptr, 0},
                                     {"month", 1, 12, kMonths, 12},
                                     {"day-of-week", 0, 6, kWeekdays, 7}};
  CronSchedule c;
  c.text_ = text;
  uint64_t bits[5];
  for (int i = 0; i < 5; ++i) {
    auto b = ParseField(kSpecs[i], fields[static_cast<size_t>(i)]);
    if (!b.ok()) return b.status().WithContext("cron '" + text + "'");
    bits[i] = *b;
  }
  c.minutes_ = bits[0];
  c.hours_ = static_cast<uint32_t>(bits[1]);
  c.days_ = static_cast<uint32_t>(bits[2]);
  c.months_ = static_cast<uint16_t>(bits[3]);
  c.weekdays_ = static_cast<uint8_t>((bits[4] | (bits[4] >> 7)) & 0x7f);  // 7 -> Sunday
  c.dom_star_ = fields[2][0] == '*';
  c.dow_star_ = fields[4][0] == '*';
  c.by_elapsed_time_ = fields[0][0] == '*' || fields[1][0] == '*';
  c.fields_ = std::move(fields);
  return c;
}

bool CronSchedule::DayMatches(int64_t days) const {
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  if (!((months_ >> m) & 1)) return false;
  bool dom = (days_ >> d) & 1;
  bool dow = (weekdays_ >> WeekdayFromDays(days)) & 1;
  // Vixie cron: with either field `*...` both must match; with both restricted, either.
  return dom_star_ || dow_star_ ? dom && dow : dom || dow;
}

bool CronSchedule::Matches(int64_t local) const {
  int64_t days = FloorDiv(local, 86400);
  int64_t sec = local - days * 86400;
  return ((minutes_ >> ((sec / 60) % 60)) & 1) && ((hours_ >> (sec / 3600)) & 1) && DayMatches(days);
}

Result<int64_t> CronSchedule::Next(int64_t after_utc, const TimeZone& tz) const {
  if (by_elapsed_time_) {
    // Walk real minutes: a repeated hour is walked twice, a skipped one not at all.
    int64_t t = FloorDiv(after_utc, 60) * 60 + 60;
    for (int64_t end = t + kSearchSeconds; t < end;) {
      int64_t local = tz.ToLocal(t);
      int64_t days = FloorDiv(local, 86400);
      int64_t sec = local - days * 86400;
      if (!DayMatches(days)) {
        // To the next local midnight, an hour early in case the offset changes that night.
        int64_t jump = (days + 1) * 86400 - local - 3600;
        t += std::max<int64_t>(60, FloorDiv(jump, 60) * 60);
      } else if (!((hours_ >> (sec / 3600)) & 1)) {
        t += (60 - (sec / 60) % 60) * 60;
      } else if (!((minutes_ >> ((sec / 60) % 60)) & 1)) {
        t += 60;
      } else {
        return t;
      }
    }
  } else {
    // Walk wall-clock minutes: each matching local time runs once.
    int64_t local = FloorDiv(tz.ToLocal(after_utc), 60) * 60 + 60;
    for (int64_t end = local + kSearchSeconds; local < end;) {
      int64_t days = FloorDiv(local, 86400);
      int64_t sec = local - days * 86400;
      if (!DayMatches(days)) {
        local = (days + 1) * 86400;
        continue;
      }
      if (!((hours_ >> (sec / 3600)) & 1)) {
        local = days * 86400 + (sec / 3600 + 1) * 3600;
        continue;
      }
      if (!((minutes_ >> ((sec / 60) % 60)) & 1)) {
        local += 60;
        continue;
      }
      std::vector<int64_t> instants = tz.ToUtc(local);
      int64_t t = instants.empty() ? tz.GapEnd(local) : instants.front();
      if (t > after_utc) return t;
      local += 60;
    }
  }
  return Status::NotFound("cron '" + text_ + "' has no run in the next 8 years (in " + tz.name() + ")");
}

}  // namespace lakepipe::jobs
