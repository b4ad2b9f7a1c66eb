#include "common/interval_text.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace lakepipe {

namespace {

int64_t UnitMicros(std::string unit) {
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 's') unit.pop_back();
  if (unit == "microsecond") return 1;
  if (unit == "millisecond") return 1000;
  if (unit == "second") return 1000000;
  if (unit == "minute") return 60LL * 1000000;
  if (unit == "hour") return 3600LL * 1000000;
  if (unit == "day") return 86400LL * 1000000;
  if (unit == "week") return 7 * 86400LL * 1000000;
  return 0;
}

}  // namespace

Result<int64_t> ParseIntervalMicros(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("`" + std::string(text) +
                                   "` is not an interval such as '1 second', '5 minutes' or 'interval 30 days'");
  };
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  size_t i = 0;
  if (!words.empty()) {
    std::string first = words[0];
    for (auto& c : first) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (first == "interval") i = 1;
  }
  if (i >= words.size() || (words.size() - i) % 2 != 0) return bad();
  double total = 0;
  for (; i < words.size(); i += 2) {
    const std::string& n = words[i];
    char* end = nullptr;
    double amount = std::strtod(n.c_str(), &end);
    if (n.empty() || end != n.c_str() + n.size() || !std::isfinite(amount) || amount < 0) return bad();
    int64_t unit = UnitMicros(words[i + 1]);
    if (unit == 0) return bad();
    total += amount * static_cast<double>(unit);
  }
  if (total > 9.0e18) return bad();
  return static_cast<int64_t>(std::llround(total));
}

}  // namespace lakepipe
