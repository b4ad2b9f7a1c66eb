#include "expr/datetime_parser.h"

#include <memory>

#include "expr/kernel_state.h"

namespace lakepipe::expr {

Result<DatetimeParser> CompileDatetimeParser(const std::string& pattern) {
  LP_ASSIGN_OR_RETURN(std::shared_ptr<const KernelState> state, CompileDatetimeFormat(pattern, /*parsing=*/true));
  auto format = std::static_pointer_cast<const DatetimeFormat>(state);
  return DatetimeParser([format](std::string_view text) { return ParseWithFormat(*format, text); });
}

}  // namespace lakepipe::expr
