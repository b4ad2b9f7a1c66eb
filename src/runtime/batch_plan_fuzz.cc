// libFuzzer entry point for a flow's stored batch plans (offsets/<N>, offsets/<C>.compact):
// any bytes must parse into a BatchPlan or give Corruption, never a crash or an escaping
// exception; and a plan that parses must survive Serialize and a second parse unchanged
// (what the flow writes is what it reads back).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "runtime/batch_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe::runtime;
  auto plan = ParseBatchPlan(std::string_view(reinterpret_cast<const char*>(data), size), "offsets/0");
  if (!plan.ok()) return 0;
  std::string once = plan->Serialize();
  auto again = ParseBatchPlan(once, "offsets/0 (serialized)");
  if (!again.ok() || again->Serialize() != once) {
    std::fprintf(stderr, "a parsed plan did not survive Serialize: %s\n", once.c_str());
    std::abort();
  }
  return 0;
}
