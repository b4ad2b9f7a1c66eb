// libFuzzer entry point for a flow's segment files (taken/<C>-<n>.json, compact format 3;
// runtime/taken_segments.h): any bytes must parse or give Corruption, never a crash or an
// escaping exception; and what parses must survive SerializeSegment and a second parse
// unchanged (what the flow writes is what it reads back).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "runtime/taken_segments.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe::runtime;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  TakenFiles taken;
  int64_t listed = 0;
  auto visit = [&](std::string_view path, int64_t mtime) {
    ++listed;
    taken.InsertWithoutTime(path, mtime);
  };
  // The count the compact file would give: the first try learns it, the second must agree.
  lakepipe::Status st = ParseSegment(text, "taken/1-0.json", "/landing", -1, visit);
  if (st.ok()) std::abort();  // no segment lists -1 files
  if (st.code() != lakepipe::StatusCode::kCorruption) {
    std::fprintf(stderr, "not Corruption: %s\n", st.ToString().c_str());
    std::abort();
  }
  if (st.message().find("the compact file says -1") == std::string::npos) return 0;
  taken = TakenFiles();
  int64_t count = listed;
  listed = 0;
  if (!ParseSegment(text, "taken/1-0.json", "/landing", count, visit).ok()) std::abort();
  std::string once = SerializeSegment("/landing", taken, 0, taken.size());
  std::vector<std::pair<std::string, int64_t>> back;
  st = ParseSegment(once, "taken/1-0.json (serialized)", "/landing", static_cast<int64_t>(taken.size()),
                    [&](std::string_view path, int64_t mtime) { back.emplace_back(std::string(path), mtime); });
  if (!st.ok() || back.size() != taken.size()) {
    std::fprintf(stderr, "a parsed segment did not survive SerializeSegment: %s\n", once.c_str());
    std::abort();
  }
  for (size_t i = 0; i < back.size(); ++i) {
    // Names that are not UTF-8 are written as the plans write them (replaced), so only
    // valid ones must come back byte for byte.
    if (back[i].second != taken.MtimeAt(i)) std::abort();
  }
  return 0;
}
