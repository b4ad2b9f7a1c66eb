// Status and Result<T>: how every module reports failure across its boundary.
//
// A Status is either OK or carries a code and a one-line human message that names the
// thing at fault (file, line, column, field). Result<T> holds a T or a non-OK Status.
// Both are [[nodiscard]]: an ignored error is a compile warning. Value types; not
// synchronised, like any value.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lakepipe {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  // the caller's input is wrong (bad SQL, bad option, bad schema)
  kNotFound,         // a file, table, column or version does not exist
  kAlreadyExists,    // put-if-absent lost: a file or commit version is already there
  kCorruption,       // stored data is malformed (bad Parquet footer, bad Delta log line)
  kNotSupported,     // valid input that lakepipe does not implement (names the feature)
  kIOError,          // the operating system refused (EIO, permission)
  kNoSpace,          // ENOSPC: kept apart so callers can say "disk full"
  kConflict,         // a concurrent writer committed something incompatible
  kAborted,          // stopped on purpose (FAIL UPDATE expectation, shutdown)
  kInternal,         // a bug in lakepipe
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status NotSupported(std::string m) { return {StatusCode::kNotSupported, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  // Maps an errno value from a failed system call on `what` (usually a path).
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsAlreadyExists() const { return code_ == StatusCode::kAlreadyExists; }
  bool IsConflict() const { return code_ == StatusCode::kConflict; }

  // "Corruption: <message>", or "OK".
  std::string ToString() const;
  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {           // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T ValueOr(T fallback) const { return ok() ? std::get<T>(v_) : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lakepipe

#define LP_CONCAT_INNER(a, b) a##b
#define LP_CONCAT(a, b) LP_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define LP_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::lakepipe::Status _lp_st = (expr);              \
    if (!_lp_st.ok()) return _lp_st;                 \
  } while (0)

// `lhs = value of rexpr`, or returns its Status from the enclosing function.
#define LP_ASSIGN_OR_RETURN(lhs, rexpr) \
  LP_ASSIGN_OR_RETURN_IMPL(LP_CONCAT(_lp_res_, __LINE__), lhs, rexpr)
#define LP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                             \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
