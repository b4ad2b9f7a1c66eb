// libFuzzer entry point for TZif files (time zones, RFC 8536, read from /usr/share/zoneinfo):
// any bytes give a TimeZone or a Corruption status; a zone that loads answers offsets,
// local-to-UTC mappings and gap ends around the year 2026 without crashing, and every
// instant ToUtc gives reads back as the local time asked for.
#include <cstddef>
#include <cstdint>
#include <string>

#include "jobs/time_zone.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe::jobs;
  auto tz = TimeZone::FromTzif("fuzz", std::string(reinterpret_cast<const char*>(data), size));
  if (!tz.ok()) return 0;
  for (int64_t t = 1'767'225'600; t < 1'798'761'600; t += 86400 * 7 + 3599) {  // 2026, weekly
    int64_t local = tz->ToLocal(t);
    for (int64_t u : tz->ToUtc(local)) {
      if (tz->ToLocal(u) != local) __builtin_trap();
    }
    if (tz->ToUtc(local).empty()) (void)tz->GapEnd(local);
  }
  return 0;
}
