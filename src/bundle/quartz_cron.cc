#include "bundle/quartz_cron.h"

#include <cctype>
#include <set>
#include <sstream>
#include <vector>

#include "jobs/cron.h"

namespace lakepipe::bundle {
namespace {

std::vector<std::string> SplitFields(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
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

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The macros of jobs/cron.h, as their five fields.
std::string ExpandMacro(const std::string& text) {
  if (text == "@hourly") return "0 * * * *";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  return text;
}

// Minute, hour, day-of-month and month fields mean the same in Quartz, except that a step
// over `*` is written from the field's first value ("*/15" -> "0/15").
std::string PlainField(const std::string& field, int first) {
  std::string out;
  for (const std::string& item : Split(field, ',')) {
    if (!out.empty()) out += ",";
    if (item.rfind("*/", 0) == 0) {
      out += std::to_string(first) + item.substr(1);
    } else {
      out += item;
    }
  }
  return out;
}

int WeekdayValue(const std::string& text) {
  static const char* const kNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
  std::string up = Upper(text);
  for (int i = 0; i < 7; ++i) {
    if (up == kNames[i]) return i;
  }
  return std::stoi(text) % 7;  // 7 is Sunday too; checked by CronSchedule::Parse
}

// Cron weekdays (0 or 7 = Sunday) to Quartz's (1 = Sunday .. 7 = Saturday): the field is
// expanded to its set of days and written back as ascending ranges, since a cron range such
// as 5-7 (Friday to Sunday) wraps in Quartz's numbering.
std::string WeekdayField(const std::string& field) {
  std::set<int> days;  // cron numbering 0..6
  for (const std::string& item : Split(field, ',')) {
    std::string base = item;
    int step = 1;
    size_t slash = item.find('/');
    if (slash != std::string::npos) {
      base = item.substr(0, slash);
      step = std::stoi(item.substr(slash + 1));
    }
    int lo = 0, hi = 6;
    if (base != "*") {
      size_t dash = base.find('-');
      std::string lo_text = base.substr(0, dash);
      lo = WeekdayValue(lo_text);
      if (dash != std::string::npos) {
        std::string hi_text = base.substr(dash + 1);
        hi = Upper(hi_text) == "SUN" || hi_text == "7" ? 7 : WeekdayValue(hi_text);
      } else {
        hi = slash != std::string::npos ? 6 : lo;
      }
    }
    for (int d = lo; d <= hi; d += step) days.insert(d % 7);
  }
  std::string out;
  auto it = days.begin();
  while (it != days.end()) {
    int start = *it, end = *it;
    auto next = std::next(it);
    while (next != days.end() && *next == end + 1) {
      end = *next;
      ++next;
    }
    if (!out.empty()) out += ",";
    out += std::to_string(start + 1);
    if (end > start) out += (end == start + 1 ? "," : "-") + std::to_string(end + 1);
    it = next;
  }
  return out;
}

}  // namespace

Result<std::string> CronToQuartz(const std::string& cron) {
  LP_ASSIGN_OR_RETURN(jobs::CronSchedule checked, jobs::CronSchedule::Parse(cron));
  (void)checked;
  std::vector<std::string> f = SplitFields(ExpandMacro(cron));
  if (f.size() != 5) {
    return Status::InvalidArgument("cron '" + cron + "' does not have five fields");
  }
  const std::string& minute = f[0];
  const std::string& hour = f[1];
  const std::string& dom = f[2];
  const std::string& month = f[3];
  const std::string& dow = f[4];
  bool dom_star = dom == "*";
  bool dow_star = dow == "*";
  if (!dom_star && !dow_star) {
    return Status::NotSupported("cron '" + cron +
                                "' restricts both the day of the month and the day of the week, which cron runs "
                                "on a day matching either; a Quartz expression cannot say that (split it into "
                                "two schedules)");
  }
  std::string quartz = "0 " + PlainField(minute, 0) + " " + PlainField(hour, 0) + " ";
  if (dow_star) {
    quartz += PlainField(dom, 1) + " " + PlainField(month, 1) + " ?";
  } else {
    quartz += "? " + PlainField(month, 1) + " " + WeekdayField(dow);
  }
  return quartz;
}

}  // namespace lakepipe::bundle
