#include "runtime/state_memory.h"

#include <cctype>
#include <map>
#include <mutex>
#include <string>

#include "state/seen_key_store.h"

namespace lakepipe::runtime {

Result<int64_t> SeenKeysMemoryBytes(const sql::PipelineSettings& settings) {
  static const std::string kKey = "lakepipe.seenKeysMemory";
  auto it = settings.configuration.find(kKey);
  if (it == settings.configuration.end()) return state::SeenKeyStore::kDefaultMemoryBudgetBytes;
  const std::string& v = it->second;
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  int shift = -1;
  if (digits == v.size()) {
    shift = 0;
  } else if (digits + 1 == v.size()) {
    switch (std::tolower(static_cast<unsigned char>(v.back()))) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      default: break;
    }
  }
  // At most 12 digits: 999 GiB fits in an int64 with room to spare.
  if (shift < 0 || digits == 0 || digits > 12 || std::stoll(v.substr(0, digits)) < 1) {
    return Status::InvalidArgument(settings.settings_file + ": configuration " + kKey + " is '" + v +
                                   "'; it must be a whole number of bytes, at least 1, optionally with k, m or g "
                                   "(KiB, MiB, GiB), e.g. 64m (the default)");
  }
  return std::stoll(v.substr(0, digits)) << shift;
}

Result<std::shared_ptr<MemoryBudget>> SeenKeysBudget(const sql::PipelineSettings& settings) {
  LP_ASSIGN_OR_RETURN(const int64_t bytes, SeenKeysMemoryBytes(settings));
  // One per pipeline: keyed by its settings file (and the bytes, so that a changed setting
  // takes effect once the old stores are closed). Entries are a few per process.
  static std::mutex mu;
  static auto* budgets = new std::map<std::string, std::weak_ptr<MemoryBudget>>();
  const std::string key = settings.settings_file + "\n" + std::to_string(bytes);
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = budgets->begin(); it != budgets->end();) {
    it = it->second.expired() ? budgets->erase(it) : std::next(it);
  }
  std::weak_ptr<MemoryBudget>& slot = (*budgets)[key];
  std::shared_ptr<MemoryBudget> budget = slot.lock();
  if (budget == nullptr) {
    budget = std::make_shared<MemoryBudget>(bytes);
    slot = budget;
  }
  return budget;
}

}  // namespace lakepipe::runtime
