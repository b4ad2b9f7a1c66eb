#include "bundle/quartz_cron.h"

#include <cstdint>
#include <vector>

#include "jobs/cron.h"

namespace lakepipe::bundle {
namespace {

// Minute, hour, day-of-month and month fields mean the same in Quartz, except that a step
// over `*` is written from the field's first value ("*/15" -> "0/15").
std::string PlainField(const std::string& field, int first) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '*' && i + 1 < field.size() && field[i + 1] == '/') {
      out += std::to_string(first);
    } else {
      out += field[i];
    }
  }
  return out;
}

// Cron weekdays (bit 0 = Sunday, as CronSchedule parsed them) to Quartz's (1 = Sunday ..
// 7 = Saturday), written as ascending ranges, since a cron range such as 5-7 (Friday to
// Sunday) wraps in Quartz's numbering.
std::string WeekdayField(uint8_t days) {
  std::string out;
  int d = 0;
  while (d < 7) {
    if (((days >> d) & 1) == 0) {
      ++d;
      continue;
    }
    int end = d;
    while (end + 1 < 7 && ((days >> (end + 1)) & 1)) ++end;
    if (!out.empty()) out += ",";
    out += std::to_string(d + 1);
    if (end > d) out += (end == d + 1 ? "," : "-") + std::to_string(end + 1);
    d = end + 1;
  }
  return out;
}

}  // namespace

Result<std::string> CronToQuartz(const std::string& cron) {
  // The parser's fields (macros expanded, names and ranges checked) and weekday set, so
  // this accepts exactly what jobs.yaml accepts.
  LP_ASSIGN_OR_RETURN(jobs::CronSchedule schedule, jobs::CronSchedule::Parse(cron));
  const std::vector<std::string>& f = schedule.fields();
  const std::string& minute = f[0];
  const std::string& hour = f[1];
  const std::string& dom = f[2];
  const std::string& month = f[3];
  bool dom_star = dom == "*";
  bool dow_star = f[4] == "*";
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
    quartz += "? " + PlainField(month, 1) + " " + WeekdayField(schedule.weekdays());
  }
  return quartz;
}

}  // namespace lakepipe::bundle
