#include "expr/eval.h"

#include <cmath>
#include <set>
#include <string_view>

#include "expr/eval_internal.h"
#include "expr/kernel_state.h"

namespace lakepipe::expr {

std::string PositionPrefix(const SourcePos& pos) {
  if (pos.line <= 0) return "";
  return std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": ";
}

Status EvalError(const BoundExpr& e, const std::string& message) {
  return Status::InvalidArgument(PositionPrefix(e.pos) + message + " in `" + e.text + "`");
}

void ValidityBuilder::AndWith(const Column& c) {
  if (!c.has_nulls()) return;
  Materialize();
  const auto& src = c.validity();
  size_t bytes = std::min(bits_.size(), src.size());
  for (size_t i = 0; i < bytes; ++i) bits_[i] &= src[i];
}

void FinishFixed(Column* out, ValidityBuilder* validity) {
  if (validity->all_valid()) return;
  int w = out->type().fixed_width();
  int64_t n = out->size();
  uint8_t* data = out->raw_data().data();
  for (int64_t i = 0; i < n; ++i) {
    if (!validity->IsValid(i)) std::memset(data + i * w, 0, static_cast<size_t>(w));
  }
  out->SetValidity(validity->Take());
}

namespace {

// Calls f with a value of the physical C++ type that holds `id` (string_view for
// string/binary).
template <typename F>
decltype(auto) DispatchPhysical(TypeId id, F&& f) {
  switch (id) {
    case TypeId::kBoolean: return f(uint8_t{});
    case TypeId::kByte: return f(int8_t{});
    case TypeId::kShort: return f(int16_t{});
    case TypeId::kInt:
    case TypeId::kDate: return f(int32_t{});
    case TypeId::kLong:
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: return f(int64_t{});
    case TypeId::kFloat: return f(float{});
    case TypeId::kDouble: return f(double{});
    case TypeId::kDecimal: return f(int128_t{});
    default: return f(std::string_view{});
  }
}

template <typename T>
inline T Load(const Column& c, int64_t i) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return c.GetString(i);
  } else {
    return c.data<T>()[i];
  }
}

// Spark's ordering: NaN equals NaN and is greater than any other value.
template <typename T>
inline int Compare3(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    bool an = std::isnan(a), bn = std::isnan(b);
    if (an || bn) return an == bn ? 0 : (an ? 1 : -1);
    return (a > b) - (a < b);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    int c = a.compare(b);
    return (c > 0) - (c < 0);
  } else {
    return (a > b) - (a < b);
  }
}

Result<ColumnPtr> Broadcast(const Value& v, const DataType& type, int64_t n) {
  if (v.is_null() || type.id() == TypeId::kNull) return MakeColumn(Column::Nulls(type, n));
  Column c(type);
  int w = type.fixed_width();
  if (w > 0) {
    Status st = c.AppendValue(v);
    if (!st.ok()) return Status::Internal("literal " + v.ToString() + " does not match its type: " + st.message());
    std::vector<uint8_t> one(c.raw_data().begin(), c.raw_data().begin() + w);
    c.ResizeFixed(n);
    uint8_t* d = c.raw_data().data();
    for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * w, one.data(), static_cast<size_t>(w));
    return MakeColumn(std::move(c));
  }
  if (type.is_binary_like()) {
    if (v.id() != TypeId::kString && v.id() != TypeId::kBinary) {
      return Status::Internal("literal " + v.ToString() + " is not a string but typed " + type.ToString());
    }
    const std::string& s = v.string_value();
    c.raw_data().reserve(static_cast<size_t>(n) * s.size());
    c.mutable_offsets().reserve(static_cast<size_t>(n + 1));
    for (int64_t i = 0; i < n; ++i) c.AppendString(s);
    return MakeColumn(std::move(c));
  }
  for (int64_t i = 0; i < n; ++i) {
    Status st = c.AppendValue(v);
    if (!st.ok()) return Status::Internal("literal " + v.ToString() + " does not match its type: " + st.message());
  }
  return MakeColumn(std::move(c));
}

void CollectColumns(const BoundExpr& e, std::set<int>* out) {
  if (e.kind == BoundKind::kColumn) out->insert(e.column_index);
  for (const auto& a : e.args) CollectColumns(a, out);
}

// True when evaluating `e` may raise an ANSI error, so it must only see the rows a
// conditional (CASE/IF/COALESCE/AND/OR) actually sends to it.
bool CanFail(const BoundExpr& e) {
  static const std::set<std::string> kSafe = {
      "=", "<>", "<", "<=", ">", ">=", "<=>", "and", "or", "not", "is_null", "is_not_null", "in",
      "like", "ilike", "rlike", "case", "coalesce", "nullif", "if", "concat", "concat_ws", "upper",
      "lower", "trim", "ltrim", "rtrim", "length", "substring", "replace", "lpad", "rpad",
      "regexp_replace", "year", "month", "day", "dayofweek", "dayofyear", "quarter", "weekofyear",
      "hour", "minute", "second", "date_format", "greatest", "least", "get_field", "try_add",
      "try_subtract", "try_multiply", "try_divide", "try_mod", "try_to_timestamp", "try_to_date",
      "sqrt", "power", "datediff", "months_between", "date_trunc", "trunc", "md5", "sha1", "sha2"};
  switch (e.kind) {
    case BoundKind::kLiteral:
    case BoundKind::kColumn: break;
    case BoundKind::kCast: {
      if (e.try_cast) break;
      const DataType& from = e.args[0].type;
      const DataType& to = e.type;
      bool widening = (from.is_integer() && (to.is_integer() ? to.fixed_width() >= from.fixed_width() : to.is_floating())) ||
                       to.id() == TypeId::kString || from.id() == TypeId::kNull ||
                       (from.id() == TypeId::kDate && to.is_timestamp()) || (from.is_timestamp() && to.id() == TypeId::kDate) ||
                       (from.is_floating() && to.id() == TypeId::kDouble);
      if (!widening) return true;
      break;
    }
    case BoundKind::kCall:
      if (!kSafe.count(e.function)) return true;
      break;
    case BoundKind::kAggregate: return true;
  }
  for (const auto& a : e.args) {
    if (CanFail(a)) return true;
  }
  return false;
}

// The batch restricted to `rows` (only the columns `e` reads are gathered).
RecordBatch SubBatch(const BoundExpr& e, const RecordBatch& batch, const std::vector<int32_t>& rows) {
  std::set<int> used;
  CollectColumns(e, &used);
  std::vector<ColumnPtr> cols(batch.num_columns());
  for (int i : used) cols[static_cast<size_t>(i)] = MakeColumn(batch.column(static_cast<size_t>(i)).Take(rows));
  return RecordBatch(batch.schema(), std::move(cols), static_cast<int64_t>(rows.size()));
}

Result<ColumnPtr> EvaluateOnRows(const BoundExpr& e, const RecordBatch& batch, const std::vector<int32_t>& rows) {
  if (static_cast<int64_t>(rows.size()) == batch.num_rows()) return Evaluate(e, batch);
  return Evaluate(e, SubBatch(e, batch, rows));
}

// Builds a column of n rows where row i comes from pieces[source[i]] at offset index[i].
Result<ColumnPtr> Assemble(const DataType& type, int64_t n, const std::vector<ColumnPtr>& pieces,
                           const std::vector<int32_t>& piece_of_row, const std::vector<int32_t>& index_in_piece) {
  Column all(type);
  std::vector<int64_t> base(pieces.size());
  for (size_t p = 0; p < pieces.size(); ++p) {
    base[p] = all.size();
    if (pieces[p]) all.AppendRange(*pieces[p], 0, pieces[p]->size());
  }
  std::vector<int32_t> take(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int32_t p = piece_of_row[static_cast<size_t>(i)];
    take[static_cast<size_t>(i)] = p < 0 ? -1 : static_cast<int32_t>(base[static_cast<size_t>(p)] + index_in_piece[static_cast<size_t>(i)]);
  }
  // Rows with no piece (-1) are NULL: point them at an appended null.
  bool need_null = false;
  for (int32_t t : take) need_null |= t < 0;
  if (need_null) {
    int32_t null_at = static_cast<int32_t>(all.size());
    all.AppendNull();
    for (int32_t& t : take) {
      if (t < 0) t = null_at;
    }
  }
  return MakeColumn(all.Take(take));
}

const uint8_t* BoolData(const Column& c) { return c.data<uint8_t>(); }

// ---- arithmetic ------------------------------------------------------------------------

std::string ValueText(const Column& c, int64_t i) { return c.GetValue(i).ToString(); }

template <typename T, typename Op>
Result<ColumnPtr> BinaryNumeric(const BoundExpr& e, const Column& a, const Column& b, bool try_mode, Op op,
                                const char* what) {
  int64_t n = a.size();
  Column out(e.type);
  out.ResizeFixed(n);
  ValidityBuilder validity(n);
  validity.AndWith(a);
  validity.AndWith(b);
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  using R = decltype(op(x[0], y[0], nullptr));
  static_assert(std::is_same_v<R, bool>);
  auto* r = out.data<typename std::remove_pointer_t<decltype(out.data<T>())>>();
  bool any_fail = false;
  for (int64_t i = 0; i < n; ++i) any_fail |= !op(x[i], y[i], &r[i]);
  if (any_fail) {
    for (int64_t i = 0; i < n; ++i) {
      T tmp;
      if (validity.IsValid(i) && !op(x[i], y[i], &tmp)) {
        if (!try_mode) {
          return EvalError(e, std::string(what) + " (" + ValueText(a, i) + ", " + ValueText(b, i) + ")");
        }
        validity.SetNull(i);
      }
    }
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

const char* kOverflow = "[ARITHMETIC_OVERFLOW] overflow; use the try_ form of the operator to get NULL instead";
const char* kDivideByZero = "[DIVIDE_BY_ZERO] division by zero; use try_divide to get NULL instead";

template <typename T>
Result<ColumnPtr> IntegerArithmetic(const BoundExpr& e, char op, const Column& a, const Column& b, bool try_mode) {
  switch (op) {
    case '+': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { return !__builtin_add_overflow(x, y, r ? r : &x); }, kOverflow);
    case '-': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { return !__builtin_sub_overflow(x, y, r ? r : &x); }, kOverflow);
    case '*': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { return !__builtin_mul_overflow(x, y, r ? r : &x); }, kOverflow);
    case '%':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        T v = y == -1 ? 0 : static_cast<T>(x % y);
        if (r) *r = v;
        return true;
      }, kDivideByZero);
    case 'd':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        if (y == -1 && x == std::numeric_limits<T>::min()) { if (r) *r = 0; return false; }
        if (r) *r = static_cast<T>(x / y);
        return true;
      }, "[DIVIDE_BY_ZERO] division by zero or overflow in integral division");
  }
  return Status::Internal("bad integer operator");
}

template <typename T>
Result<ColumnPtr> FloatArithmetic(const BoundExpr& e, char op, const Column& a, const Column& b, bool try_mode) {
  switch (op) {
    case '+': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { if (r) *r = x + y; return true; }, kOverflow);
    case '-': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { if (r) *r = x - y; return true; }, kOverflow);
    case '*': return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) { if (r) *r = x * y; return true; }, kOverflow);
    case '/':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        if (r) *r = x / y;
        return true;
      }, kDivideByZero);
    case '%':
      return BinaryNumeric<T>(e, a, b, try_mode, [](T x, T y, T* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        if (r) *r = std::fmod(x, y);
        return true;
      }, kDivideByZero);
  }
  return Status::Internal("bad float operator");
}

Result<ColumnPtr> DecimalArithmetic(const BoundExpr& e, char op, const Column& a, const Column& b, bool try_mode) {
  int s1 = a.type().scale(), s2 = b.type().scale();
  int rs = e.type.scale(), rp = e.type.precision();
  switch (op) {
    case '+':
    case '-': {
      int s = std::max(s1, s2);
      int128_t fa = Pow10(s - s1), fb = Pow10(s - s2);
      bool sub = op == '-';
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        int128_t xs, ys, v;
        if (__builtin_mul_overflow(x, fa, &xs) || __builtin_mul_overflow(y, fb, &ys)) return false;
        if (sub ? __builtin_sub_overflow(xs, ys, &v) : __builtin_add_overflow(xs, ys, &v)) return false;
        if (s != rs) v = RescaleDecimal(v, s, rs);
        if (r) *r = v;
        return FitsPrecision(v, rp);
      }, "[NUMERIC_VALUE_OUT_OF_RANGE] decimal overflow");
    }
    case '*': {
      int s = s1 + s2;
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        int128_t v;
        if (__builtin_mul_overflow(x, y, &v)) return false;
        if (s != rs) v = RescaleDecimal(v, s, rs);
        if (r) *r = v;
        return FitsPrecision(v, rp);
      }, "[NUMERIC_VALUE_OUT_OF_RANGE] decimal overflow");
    }
    case '/': {
      // x/10^s1 / (y/10^s2) at scale rs: x * 10^(rs + s2 - s1 + 1) / y, then round the
      // extra digit half up.
      int shift = rs + s2 - s1 + 1;
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        int128_t num;
        if (shift >= 0) {
          if (shift > 38 || __builtin_mul_overflow(x, Pow10(shift), &num)) return false;
        } else {
          num = x / Pow10(-shift);
        }
        int128_t q = num / y;
        int128_t v = q >= 0 ? (q + 5) / 10 : (q - 5) / 10;
        if (r) *r = v;
        return FitsPrecision(v, rp);
      }, "[DIVIDE_BY_ZERO] division by zero or decimal overflow");
    }
    case '%': {
      int s = std::max(s1, s2);
      int128_t fa = Pow10(s - s1), fb = Pow10(s - s2);
      return BinaryNumeric<int128_t>(e, a, b, try_mode, [=](int128_t x, int128_t y, int128_t* r) {
        if (y == 0) { if (r) *r = 0; return false; }
        int128_t v = (x * fa) % (y * fb);
        if (s != rs) v = RescaleDecimal(v, s, rs);
        if (r) *r = v;
        return true;
      }, kDivideByZero);
    }
  }
  return Status::Internal("bad decimal operator");
}

Result<ColumnPtr> Arithmetic(const BoundExpr& e, const std::vector<ColumnPtr>& args) {
  const std::string& fn = e.function;
  bool try_mode = fn.rfind("try_", 0) == 0;
  char op = '+';
  if (fn == "-" || fn == "try_subtract") op = '-';
  else if (fn == "*" || fn == "try_multiply") op = '*';
  else if (fn == "/" || fn == "try_divide") op = '/';
  else if (fn == "%" || fn == "try_mod") op = '%';
  else if (fn == "div") op = 'd';
  const Column& a = *args[0];
  const Column& b = *args[1];
  switch (a.type().id()) {
    case TypeId::kByte: return IntegerArithmetic<int8_t>(e, op, a, b, try_mode);
    case TypeId::kShort: return IntegerArithmetic<int16_t>(e, op, a, b, try_mode);
    case TypeId::kInt: return IntegerArithmetic<int32_t>(e, op, a, b, try_mode);
    case TypeId::kLong: return IntegerArithmetic<int64_t>(e, op, a, b, try_mode);
    case TypeId::kFloat: return FloatArithmetic<float>(e, op, a, b, try_mode);
    case TypeId::kDouble: return FloatArithmetic<double>(e, op, a, b, try_mode);
    case TypeId::kDecimal: return DecimalArithmetic(e, op, a, b, try_mode);
    case TypeId::kNull: return MakeColumn(Column::Nulls(e.type, a.size()));
    default: return EvalError(e, "arithmetic on " + a.type().ToString());
  }
}

template <typename T>
Result<ColumnPtr> NegateOrAbs(const BoundExpr& e, const Column& a, bool abs) {
  int64_t n = a.size();
  Column out(e.type);
  out.ResizeFixed(n);
  ValidityBuilder validity(n);
  validity.AndWith(a);
  const T* x = a.data<T>();
  T* r = out.data<T>();
  for (int64_t i = 0; i < n; ++i) {
    T v = x[i];
    if constexpr (std::is_integral_v<T> || std::is_same_v<T, int128_t>) {
      if constexpr (!std::is_same_v<T, int128_t>) {
        if (v == std::numeric_limits<T>::min() && (!abs || v < 0)) {
          if (validity.IsValid(i)) return EvalError(e, std::string(kOverflow) + " (" + ValueText(a, i) + ")");
        }
      }
      r[i] = abs ? (v < 0 ? static_cast<T>(-v) : v) : static_cast<T>(-v);
    } else {
      r[i] = abs ? std::fabs(v) : -v;
    }
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> Unary(const BoundExpr& e, const Column& a) {
  bool abs = e.function == "abs";
  switch (a.type().id()) {
    case TypeId::kByte: return NegateOrAbs<int8_t>(e, a, abs);
    case TypeId::kShort: return NegateOrAbs<int16_t>(e, a, abs);
    case TypeId::kInt: return NegateOrAbs<int32_t>(e, a, abs);
    case TypeId::kLong: return NegateOrAbs<int64_t>(e, a, abs);
    case TypeId::kFloat: return NegateOrAbs<float>(e, a, abs);
    case TypeId::kDouble: return NegateOrAbs<double>(e, a, abs);
    case TypeId::kDecimal: return NegateOrAbs<int128_t>(e, a, abs);
    default: return MakeColumn(Column::Nulls(e.type, a.size()));
  }
}

// ---- comparison ------------------------------------------------------------------------

template <typename T>
void CompareLoop(const std::string& fn, const Column& a, const Column& b, uint8_t* r, int64_t n) {
  auto run = [&](auto pred) {
    for (int64_t i = 0; i < n; ++i) r[i] = pred(Compare3<T>(Load<T>(a, i), Load<T>(b, i))) ? 1 : 0;
  };
  if (fn == "=" || fn == "<=>") run([](int c) { return c == 0; });
  else if (fn == "<>") run([](int c) { return c != 0; });
  else if (fn == "<") run([](int c) { return c < 0; });
  else if (fn == "<=") run([](int c) { return c <= 0; });
  else if (fn == ">") run([](int c) { return c > 0; });
  else run([](int c) { return c >= 0; });
}

Result<ColumnPtr> Comparison(const BoundExpr& e, const Column& a, const Column& b) {
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  if (a.type().id() == TypeId::kNull) {
    std::memset(r, 1, static_cast<size_t>(n));
  } else {
    DispatchPhysical(a.type().id(), [&](auto tag) {
      using T = decltype(tag);
      CompareLoop<T>(e.function, a, b, r, n);
      return 0;
    });
  }
  ValidityBuilder validity(n);
  if (e.function == "<=>") {
    if (a.has_nulls() || b.has_nulls() || a.type().id() == TypeId::kNull) {
      for (int64_t i = 0; i < n; ++i) {
        bool an = a.IsNull(i) || a.type().id() == TypeId::kNull, bn = b.IsNull(i) || b.type().id() == TypeId::kNull;
        if (an || bn) r[i] = an && bn;
      }
    }
  } else {
    validity.AndWith(a);
    validity.AndWith(b);
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

// ---- boolean ---------------------------------------------------------------------------

Result<ColumnPtr> AndOr(bool is_and, const Column& a, const Column& b) {
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  const uint8_t* x = BoolData(a);
  const uint8_t* y = BoolData(b);
  ValidityBuilder validity(n);
  if (!a.has_nulls() && !b.has_nulls()) {
    if (is_and) {
      for (int64_t i = 0; i < n; ++i) r[i] = x[i] & y[i];
    } else {
      for (int64_t i = 0; i < n; ++i) r[i] = x[i] | y[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      bool av = a.IsValid(i), bv = b.IsValid(i);
      if (is_and) {
        if ((av && !x[i]) || (bv && !y[i])) { r[i] = 0; continue; }
        r[i] = 1;
      } else {
        if ((av && x[i]) || (bv && y[i])) { r[i] = 1; continue; }
        r[i] = 0;
      }
      if (!av || !bv) validity.SetNull(i);
    }
  }
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> Not(const Column& a) {
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  const uint8_t* x = BoolData(a);
  for (int64_t i = 0; i < n; ++i) r[i] = x[i] ^ 1;
  ValidityBuilder validity(n);
  validity.AndWith(a);
  FinishFixed(&out, &validity);
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> NullTest(bool want_null, const Column& a) {
  int64_t n = a.size();
  Column out(DataType::Boolean());
  out.ResizeFixed(n);
  uint8_t* r = out.data<uint8_t>();
  bool void_type = a.type().id() == TypeId::kNull;
  for (int64_t i = 0; i < n; ++i) r[i] = ((void_type || a.IsNull(i)) == want_null) ? 1 : 0;
  return MakeColumn(std::move(out));
}

// ---- conditionals ----------------------------------------------------------------------

std::vector<int32_t> AllRows(int64_t n) {
  std::vector<int32_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  return rows;
}

// Searched CASE: each condition only sees the rows no earlier branch took; each result
// only the rows its condition chose (so an ANSI error in an untaken branch does not fire).
Result<ColumnPtr> Case(const BoundExpr& e, const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  size_t pairs = e.args.size() / 2;
  bool has_else = e.args.size() % 2 == 1;
  bool any_can_fail = false;
  for (const auto& a : e.args) any_can_fail |= CanFail(a);
  if (!any_can_fail) {
    // Nothing can raise: evaluate every branch over the whole batch and pick per row,
    // avoiding the gathers of the lazy path.
    std::vector<ColumnPtr> values;
    std::vector<int32_t> piece_of_row(static_cast<size_t>(n), -1), index_in_piece(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) index_in_piece[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    std::vector<uint8_t> decided(static_cast<size_t>(n), 0);
    for (size_t p = 0; p < pairs; ++p) {
      LP_ASSIGN_OR_RETURN(ColumnPtr cond, Evaluate(e.args[2 * p], batch));
      LP_ASSIGN_OR_RETURN(ColumnPtr value, Evaluate(e.args[2 * p + 1], batch));
      const uint8_t* c = BoolData(*cond);
      bool void_cond = cond->type().id() == TypeId::kNull;
      for (int64_t i = 0; i < n; ++i) {
        if (!decided[static_cast<size_t>(i)] && !void_cond && cond->IsValid(i) && c[i]) {
          decided[static_cast<size_t>(i)] = 1;
          piece_of_row[static_cast<size_t>(i)] = static_cast<int32_t>(values.size());
        }
      }
      values.push_back(value);
    }
    if (has_else) {
      LP_ASSIGN_OR_RETURN(ColumnPtr value, Evaluate(e.args.back(), batch));
      for (int64_t i = 0; i < n; ++i) {
        if (!decided[static_cast<size_t>(i)]) piece_of_row[static_cast<size_t>(i)] = static_cast<int32_t>(values.size());
      }
      values.push_back(value);
    }
    for (auto& v : values) {
      if (v->type().id() == TypeId::kNull && e.type.id() != TypeId::kNull) v = nullptr;
    }
    for (int64_t i = 0; i < n; ++i) {
      int32_t p = piece_of_row[static_cast<size_t>(i)];
      if (p >= 0 && !values[static_cast<size_t>(p)]) piece_of_row[static_cast<size_t>(i)] = -1;
    }
    return Assemble(e.type, n, values, piece_of_row, index_in_piece);
  }
  std::vector<int32_t> remaining = AllRows(n);
  std::vector<ColumnPtr> pieces;
  std::vector<int32_t> piece_of_row(static_cast<size_t>(n), -1), index_in_piece(static_cast<size_t>(n), 0);
  for (size_t p = 0; p < pairs && !remaining.empty(); ++p) {
    LP_ASSIGN_OR_RETURN(ColumnPtr cond, EvaluateOnRows(e.args[2 * p], batch, remaining));
    std::vector<int32_t> taken, rest;
    const uint8_t* c = BoolData(*cond);
    for (size_t i = 0; i < remaining.size(); ++i) {
      if (cond->IsValid(static_cast<int64_t>(i)) && c[i]) {
        taken.push_back(remaining[i]);
      } else {
        rest.push_back(remaining[i]);
      }
    }
    if (!taken.empty()) {
      LP_ASSIGN_OR_RETURN(ColumnPtr value, EvaluateOnRows(e.args[2 * p + 1], batch, taken));
      for (size_t i = 0; i < taken.size(); ++i) {
        piece_of_row[static_cast<size_t>(taken[i])] = static_cast<int32_t>(pieces.size());
        index_in_piece[static_cast<size_t>(taken[i])] = static_cast<int32_t>(i);
      }
      pieces.push_back(value);
    }
    remaining = std::move(rest);
  }
  if (has_else && !remaining.empty()) {
    LP_ASSIGN_OR_RETURN(ColumnPtr value, EvaluateOnRows(e.args.back(), batch, remaining));
    for (size_t i = 0; i < remaining.size(); ++i) {
      piece_of_row[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(pieces.size());
      index_in_piece[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(i);
    }
    pieces.push_back(value);
  }
  if (pieces.size() == 1 && piece_of_row[0] == 0 && pieces[0]->size() == n) {
    bool all = true;
    for (int32_t p : piece_of_row) all &= p == 0;
    if (all) return pieces[0];
  }
  return Assemble(e.type, n, pieces, piece_of_row, index_in_piece);
}

// COALESCE: each argument only sees the rows still NULL.
Result<ColumnPtr> Coalesce(const BoundExpr& e, const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  std::vector<int32_t> remaining = AllRows(n);
  std::vector<ColumnPtr> pieces;
  std::vector<int32_t> piece_of_row(static_cast<size_t>(n), -1), index_in_piece(static_cast<size_t>(n), 0);
  for (size_t a = 0; a < e.args.size() && !remaining.empty(); ++a) {
    LP_ASSIGN_OR_RETURN(ColumnPtr value, EvaluateOnRows(e.args[a], batch, remaining));
    if (a == 0 && !value->has_nulls() && value->type().id() != TypeId::kNull) return value;
    std::vector<int32_t> rest;
    bool void_type = value->type().id() == TypeId::kNull;
    for (size_t i = 0; i < remaining.size(); ++i) {
      if (!void_type && value->IsValid(static_cast<int64_t>(i))) {
        piece_of_row[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(pieces.size());
        index_in_piece[static_cast<size_t>(remaining[i])] = static_cast<int32_t>(i);
      } else {
        rest.push_back(remaining[i]);
      }
    }
    pieces.push_back(void_type ? nullptr : value);
    remaining = std::move(rest);
  }
  return Assemble(e.type, n, pieces, piece_of_row, index_in_piece);
}

Result<ColumnPtr> GreatestLeast(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  bool greatest = e.function == "greatest";
  std::vector<int32_t> best(static_cast<size_t>(n), -1);
  DispatchPhysical(e.type.id(), [&](auto tag) {
    using T = decltype(tag);
    for (size_t a = 0; a < args.size(); ++a) {
      const Column& c = *args[a];
      if (c.type().id() == TypeId::kNull) continue;
      for (int64_t i = 0; i < n; ++i) {
        if (c.IsNull(i)) continue;
        int32_t& b = best[static_cast<size_t>(i)];
        if (b < 0) { b = static_cast<int32_t>(a); continue; }
        int cmp = Compare3<T>(Load<T>(c, i), Load<T>(*args[static_cast<size_t>(b)], i));
        if (greatest ? cmp > 0 : cmp < 0) b = static_cast<int32_t>(a);
      }
    }
    return 0;
  });
  std::vector<int32_t> index(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) index[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  return Assemble(e.type, n, args, best, index);
}

Result<ColumnPtr> NullIf(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  BoundExpr eq = e;
  eq.function = "=";
  LP_ASSIGN_OR_RETURN(ColumnPtr equal, Comparison(eq, *args[0], *args[1]));
  Column out = *args[0];
  const uint8_t* q = BoolData(*equal);
  for (int64_t i = 0; i < n; ++i) {
    if (equal->IsValid(i) && q[i]) out.SetNull(i);
  }
  if (out.type().is_binary_like() && out.has_nulls()) {
    // SetNull keeps the bytes of a variable-width value; rebuild so nulls hold empty ranges.
    Column clean(out.type());
    clean.AppendRange(out, 0, 0);
    for (int64_t i = 0; i < n; ++i) {
      if (out.IsNull(i)) clean.AppendNull(); else clean.AppendString(out.GetString(i));
    }
    return MakeColumn(std::move(clean));
  }
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> In(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  // x IN (v1, ..., vk) == (x = v1) OR ... OR (x = vk), three-valued.
  BoundExpr eq = e;
  eq.function = "=";
  ColumnPtr acc;
  for (size_t i = 1; i < args.size(); ++i) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, Comparison(eq, *args[0], *args[i]));
    if (!acc) {
      acc = c;
    } else {
      LP_ASSIGN_OR_RETURN(acc, AndOr(false, *acc, *c));
    }
  }
  return acc;
}

Result<ColumnPtr> GetField(const BoundExpr& e, const Column& s) {
  Column child = s.child(static_cast<size_t>(e.column_index));
  if (s.has_nulls()) {
    for (int64_t i = 0; i < s.size(); ++i) {
      if (s.IsNull(i)) child.SetNull(i);
    }
  }
  return MakeColumn(std::move(child));
}

// Lazy AND/OR: the right side only sees rows the left side did not decide (Spark
// short-circuits, so `b <> 0 AND a / b > 1` does not divide by zero).
Result<ColumnPtr> LazyAndOr(const BoundExpr& e, const RecordBatch& batch) {
  bool is_and = e.function == "and";
  int64_t n = batch.num_rows();
  LP_ASSIGN_OR_RETURN(ColumnPtr left, Evaluate(e.args[0], batch));
  if (!CanFail(e.args[1])) {
    LP_ASSIGN_OR_RETURN(ColumnPtr right, Evaluate(e.args[1], batch));
    return AndOr(is_and, *left, *right);
  }
  std::vector<int32_t> undecided;
  const uint8_t* l = BoolData(*left);
  for (int64_t i = 0; i < n; ++i) {
    bool decided = left->IsValid(i) && (is_and ? l[i] == 0 : l[i] == 1);
    if (!decided) undecided.push_back(static_cast<int32_t>(i));
  }
  if (undecided.empty()) return left;
  LP_ASSIGN_OR_RETURN(ColumnPtr part, EvaluateOnRows(e.args[1], batch, undecided));
  // Spread the right side back over all rows; decided rows get a neutral value.
  Column right(DataType::Boolean());
  right.ResizeFixed(n);
  uint8_t* r = right.data<uint8_t>();
  std::memset(r, is_and ? 1 : 0, static_cast<size_t>(n));
  ValidityBuilder validity(n);
  const uint8_t* p = BoolData(*part);
  for (size_t i = 0; i < undecided.size(); ++i) {
    if (part->IsNull(static_cast<int64_t>(i))) {
      validity.SetNull(undecided[i]);
    } else {
      r[undecided[i]] = p[i];
    }
  }
  FinishFixed(&right, &validity);
  return AndOr(is_and, *left, right);
}

Result<ColumnPtr> If(const BoundExpr& e, const RecordBatch& batch) {
  BoundExpr as_case = e;
  as_case.function = "case";
  return Case(as_case, batch);
}

}  // namespace

Result<ColumnPtr> Evaluate(const BoundExpr& e, const RecordBatch& batch) {
  int64_t n = batch.num_rows();
  switch (e.kind) {
    case BoundKind::kLiteral: return Broadcast(e.literal, e.type, n);
    case BoundKind::kColumn: {
      if (e.column_index < 0 || static_cast<size_t>(e.column_index) >= batch.num_columns() ||
          !batch.column_ptr(static_cast<size_t>(e.column_index))) {
        return Status::Internal("column #" + std::to_string(e.column_index) + " of `" + e.text + "` is not in the batch");
      }
      const ColumnPtr& c = batch.column_ptr(static_cast<size_t>(e.column_index));
      if (c->type() != e.type) {
        return Status::InvalidArgument(PositionPrefix(e.pos) + "column `" + e.text + "` is " + c->type().ToString() +
                                       " in the batch but was bound as " + e.type.ToString());
      }
      return c;
    }
    case BoundKind::kCast: {
      LP_ASSIGN_OR_RETURN(ColumnPtr in, Evaluate(e.args[0], batch));
      return CastColumn(e, *in, e.type, e.try_cast);
    }
    case BoundKind::kAggregate:
      return Status::InvalidArgument(PositionPrefix(e.pos) + "aggregate `" + e.text + "` outside an aggregation");
    case BoundKind::kCall: break;
  }
  const std::string& fn = e.function;
  if (fn == "case") return Case(e, batch);
  if (fn == "if") return If(e, batch);
  if (fn == "coalesce") return Coalesce(e, batch);
  if (fn == "and" || fn == "or") return LazyAndOr(e, batch);
  std::vector<ColumnPtr> args;
  args.reserve(e.args.size());
  for (const auto& a : e.args) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, Evaluate(a, batch));
    args.push_back(std::move(c));
  }
  if (fn == "+" || fn == "-" || fn == "*" || fn == "/" || fn == "%" || fn == "div" || fn == "try_add" ||
      fn == "try_subtract" || fn == "try_multiply" || fn == "try_divide" || fn == "try_mod") {
    return Arithmetic(e, args);
  }
  if (fn == "negate" || fn == "abs") return Unary(e, *args[0]);
  if (fn == "=" || fn == "<>" || fn == "<" || fn == "<=" || fn == ">" || fn == ">=" || fn == "<=>") {
    return Comparison(e, *args[0], *args[1]);
  }
  if (fn == "not") return Not(*args[0]);
  if (fn == "is_null") return NullTest(true, *args[0]);
  if (fn == "is_not_null") return NullTest(false, *args[0]);
  if (fn == "in") return In(e, args, n);
  if (fn == "nullif") return NullIf(e, args, n);
  if (fn == "greatest" || fn == "least") return GreatestLeast(e, args, n);
  if (fn == "get_field") return GetField(e, *args[0]);
  auto r = EvalStringFunction(e, args, n);
  if (r.ok() || r.status().code() != StatusCode::kNotFound) return r;
  r = EvalDatetimeFunction(e, args, n);
  if (r.ok() || r.status().code() != StatusCode::kNotFound) return r;
  r = EvalMathFunction(e, args, n);
  if (r.ok() || r.status().code() != StatusCode::kNotFound) return r;
  return Status::NotSupported(PositionPrefix(e.pos) + "function `" + fn + "` has no kernel");
}

Result<std::vector<int32_t>> EvaluateSelection(const BoundExpr& predicate, const RecordBatch& batch) {
  if (predicate.type.id() != TypeId::kBoolean && predicate.type.id() != TypeId::kNull) {
    return Status::InvalidArgument(PositionPrefix(predicate.pos) + "predicate `" + predicate.text + "` is " +
                                   predicate.type.ToString() + ", not boolean");
  }
  LP_ASSIGN_OR_RETURN(ColumnPtr c, Evaluate(predicate, batch));
  std::vector<int32_t> rows;
  if (c->type().id() == TypeId::kNull) return rows;
  int64_t n = c->size();
  rows.reserve(static_cast<size_t>(n));
  const uint8_t* v = BoolData(*c);
  if (!c->has_nulls()) {
    for (int64_t i = 0; i < n; ++i) {
      if (v[i]) rows.push_back(static_cast<int32_t>(i));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      if (v[i] && c->IsValid(i)) rows.push_back(static_cast<int32_t>(i));
    }
  }
  return rows;
}

Result<Value> EvaluateConstant(const BoundExpr& expr) {
  RecordBatch one(Schema(), {}, 1);
  LP_ASSIGN_OR_RETURN(ColumnPtr c, Evaluate(expr, one));
  return c->GetValue(0);
}

}  // namespace lakepipe::expr
