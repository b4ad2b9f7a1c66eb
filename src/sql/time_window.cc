#include "sql/time_window.h"

#include <cctype>
#include <string>

#include "sql/lexer.h"

namespace lakepipe::sql {

namespace {
constexpr int64_t kMaxWindowsPerRow = 1000;
}  // namespace

bool IsTimeWindowCall(const expr::Expr& e) {
  return e.kind == expr::ExprKind::kCall && (e.function == "window" || e.function == "session_window");
}

Result<int64_t> ParseDuration(std::string_view text) {
  std::string s = ToLower(std::string(text));
  size_t i = 0;
  auto skip = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a duration (" + why +
                                   "); write e.g. '10 minutes', '1 hour 30 minutes'");
  };
  skip();
  if (s.compare(i, 8, "interval") == 0) i += 8;
  int64_t total = 0;
  int pairs = 0;
  while (true) {
    skip();
    if (i >= s.size()) break;
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (start == i) return bad("expected a number");
    if (i - start > 12) return bad("number too large");
    int64_t n = std::stoll(s.substr(start, i - start));
    skip();
    size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string unit = s.substr(ustart, i - ustart);
    if (unit == "ms") unit = "millisecond";
    if (unit == "us") unit = "microsecond";
    if (unit.size() > 1 && unit.back() == 's') unit.pop_back();
    int64_t micros;
    if (unit == "microsecond") micros = 1;
    else if (unit == "millisecond") micros = 1000;
    else if (unit == "second" || unit == "sec") micros = 1000000;
    else if (unit == "minute" || unit == "min") micros = 60000000;
    else if (unit == "hour") micros = 3600000000LL;
    else if (unit == "day") micros = 86400000000LL;
    else if (unit == "week") micros = 7 * 86400000000LL;
    else return bad(unit.empty() ? "expected a unit" : "unknown unit `" + unit + "`");
    total += n * micros;
    ++pairs;
  }
  if (pairs == 0) return bad("empty");
  return total;
}

Result<TimeWindow> ParseTimeWindow(const expr::Expr& call) {
  const std::string& fn = call.function;
  bool session = fn == "session_window";
  size_t max_args = session ? 2 : 4;
  if (call.args.size() < 2 || call.args.size() > max_args) {
    return Status::InvalidArgument(std::to_string(call.pos.line) + ":" + std::to_string(call.pos.column) + ": " + fn +
                                   (session ? "(time, gap) takes 2 arguments"
                                            : "(time, size[, slide[, start]]) takes 2 to 4 arguments"));
  }
  int64_t d[3] = {0, 0, 0};
  const char* names[] = {session ? "gap" : "size", "slide", "start"};
  for (size_t a = 1; a < call.args.size(); ++a) {
    const expr::Expr& arg = *call.args[a];
    std::string where = std::to_string(arg.pos.line) + ":" + std::to_string(arg.pos.column) + ": " + fn + " " +
                        names[a - 1] + ": ";
    if (arg.kind != expr::ExprKind::kLiteral || arg.literal.is_null() ||
        arg.literal_type.id() != TypeId::kString) {
      return Status::InvalidArgument(where + "write the duration as a string, e.g. '10 minutes'");
    }
    Result<int64_t> v = ParseDuration(arg.literal.string_value());
    if (!v.ok()) return Status::InvalidArgument(where + v.status().message());
    d[a - 1] = *v;
  }
  TimeWindow w;
  w.session = session;
  w.size_micros = d[0];
  w.slide_micros = call.args.size() >= 3 ? d[1] : d[0];
  w.offset_micros = call.args.size() >= 4 ? d[2] : 0;
  std::string where = std::to_string(call.pos.line) + ":" + std::to_string(call.pos.column) + ": " + fn + ": ";
  if (w.size_micros <= 0) return Status::InvalidArgument(where + "the " + names[0] + " must be positive");
  if (w.slide_micros <= 0 || w.slide_micros > w.size_micros) {
    return Status::InvalidArgument(where + "the slide must be positive and at most the window size");
  }
  // Each row is copied into every window that holds it; Spark has no limit, a row in a
  // million windows would exhaust memory here.
  if (!w.session && w.size_micros / w.slide_micros > kMaxWindowsPerRow) {
    return Status::InvalidArgument(where + "a row would belong to " + std::to_string(w.size_micros / w.slide_micros) +
                                   " windows (size / slide); at most " + std::to_string(kMaxWindowsPerRow) +
                                   " are supported");
  }
  if (w.offset_micros >= w.slide_micros) {
    return Status::InvalidArgument(where + "the start offset must be smaller than the slide");
  }
  return w;
}

DataType TimeWindowType() {
  return DataType::Struct({Field{"start", DataType::Timestamp(), true}, Field{"end", DataType::Timestamp(), true}});
}

}  // namespace lakepipe::sql
