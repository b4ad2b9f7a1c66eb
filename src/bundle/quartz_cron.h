// Conversion of lakepipe's 5-field cron schedules (jobs.yaml, jobs/cron.h) to the Quartz
// expressions Databricks jobs take (`schedule.quartz_cron_expression`): seconds first,
// and exactly one of day-of-month / day-of-week written `?`.
//
//   "0 6 * * *"      -> "0 0 6 * * ?"
//   "*/15 8-18 * * 1-5" -> "0 0/15 8-18 ? * 2-6"   (Quartz weekdays: 1 = Sunday .. 7 = Saturday)
//
// Refused (NotSupported, saying why): a schedule that restricts both day-of-month and
// day-of-week, which cron runs on a day matching either and Quartz cannot say.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace lakepipe::bundle {

// `cron` is checked with jobs::CronSchedule::Parse first, so its errors are the same as
// jobs.yaml's (InvalidArgument naming the field).
Result<std::string> CronToQuartz(const std::string& cron);

}  // namespace lakepipe::bundle
