#include "expr/binder.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "expr/aggregate_functions.h"
#include "expr/eval.h"
#include "expr/function.h"

namespace lakepipe::expr {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Where(const SourcePos& pos) {
  if (pos.line <= 0) return "";
  return std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": ";
}

Status BindError(const Expr& e, const std::string& message) {
  return Status::InvalidArgument(Where(e.pos) + message);
}

Status Unsupported(const Expr& e, const std::string& message) {
  return Status::NotSupported(Where(e.pos) + message);
}

std::string JoinNames(const std::vector<std::string>& names, size_t limit = 30) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < limit; ++i) {
    if (i) s += ", ";
    s += names[i];
  }
  if (names.size() > limit) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

bool IsPrimitive(const DataType& t) { return !t.is_nested(); }

}  // namespace

namespace {

// Rank of a numeric type in Spark's widening order.
int NumericRank(TypeId id) {
  switch (id) {
    case TypeId::kByte: return 1;
    case TypeId::kShort: return 2;
    case TypeId::kInt: return 3;
    case TypeId::kLong: return 4;
    case TypeId::kDecimal: return 5;
    case TypeId::kFloat: return 6;
    case TypeId::kDouble: return 7;
    default: return 0;
  }
}

// The decimal an integer type widens to (Spark's DecimalType.forType).
DataType IntegerAsDecimal(TypeId id) {
  switch (id) {
    case TypeId::kByte: return DataType::Decimal(3, 0);
    case TypeId::kShort: return DataType::Decimal(5, 0);
    case TypeId::kInt: return DataType::Decimal(10, 0);
    default: return DataType::Decimal(20, 0);
  }
}

}  // namespace

DataType AsDecimal(const DataType& t) { return t.id() == TypeId::kDecimal ? t : IntegerAsDecimal(t.id()); }

// Spark's DecimalType.adjustPrecisionScale with allowPrecisionLoss (the default).
DataType AdjustedDecimal(int precision, int scale) {
  if (precision <= 38) return DataType::Decimal(precision, scale);
  int int_digits = precision - scale;
  int min_scale = std::min(scale, 6);
  int adjusted = std::max(38 - int_digits, min_scale);
  return DataType::Decimal(38, adjusted);
}

DataType WiderNumeric(const DataType& a, const DataType& b) {
  if (a == b) return a;
  int ra = NumericRank(a.id()), rb = NumericRank(b.id());
  if (a.id() == TypeId::kDecimal || b.id() == TypeId::kDecimal) {
    if (a.is_floating() || b.is_floating()) return DataType::Double();
    DataType da = AsDecimal(a), db = AsDecimal(b);
    int scale = std::max(da.scale(), db.scale());
    int int_digits = std::max(da.precision() - da.scale(), db.precision() - db.scale());
    int precision = std::min(38, int_digits + scale);
    return DataType::Decimal(precision, std::min(scale, precision));
  }
  return ra >= rb ? a : b;
}


bool BoundExpr::ContainsAggregate() const {
  if (kind == BoundKind::kAggregate) return true;
  for (const auto& a : args) {
    if (a.ContainsAggregate()) return true;
  }
  return false;
}

Result<DataType> CommonType(const DataType& a, const DataType& b) {
  if (a.id() == TypeId::kDayTimeInterval && b.id() == TypeId::kDayTimeInterval) {
    return DataType::DayTimeInterval(a.interval_days_only() && b.interval_days_only());
  }
  if (a == b) return a;
  if (a.id() == TypeId::kNull) return b;
  if (b.id() == TypeId::kNull) return a;
  if (a.is_numeric() && b.is_numeric()) return WiderNumeric(a, b);
  auto string_with = [](const DataType& other) -> std::optional<DataType> {
    if (other.is_integer()) return DataType::Long();
    if (other.is_numeric()) return DataType::Double();
    switch (other.id()) {
      case TypeId::kDate:
      case TypeId::kTimestamp:
      case TypeId::kTimestampNtz:
      case TypeId::kBoolean:
      case TypeId::kBinary: return other;
      default: return std::nullopt;
    }
  };
  if (a.id() == TypeId::kString) {
    if (auto t = string_with(b)) return *t;
  }
  if (b.id() == TypeId::kString) {
    if (auto t = string_with(a)) return *t;
  }
  if ((a.id() == TypeId::kDate && b.is_timestamp()) || (b.id() == TypeId::kDate && a.is_timestamp())) {
    return a.id() == TypeId::kDate ? b : a;
  }
  if (a.is_timestamp() && b.is_timestamp()) return DataType::Timestamp();
  return Status::InvalidArgument("no common type for " + a.ToString() + " and " + b.ToString());
}

BoundExpr CastTo(BoundExpr bound, const DataType& to) {
  if (bound.type == to) return bound;
  BoundExpr cast;
  cast.kind = BoundKind::kCast;
  cast.type = to;
  cast.nullable = bound.nullable;
  cast.pos = bound.pos;
  cast.text = bound.text;
  bool fold = bound.kind == BoundKind::kLiteral;
  cast.args.push_back(std::move(bound));
  if (fold) {
    // Constant-fold casts of literals so kernels see typed literals; a literal that does
    // not convert stays a cast and fails (ANSI) when evaluated.
    auto v = EvaluateConstant(cast);
    if (v.ok()) {
      BoundExpr lit;
      lit.kind = BoundKind::kLiteral;
      lit.type = to;
      lit.literal = *v;
      lit.nullable = v->is_null();
      lit.pos = cast.pos;
      lit.text = cast.text;
      return lit;
    }
  }
  return cast;
}

bool CastSupported(const DataType& from, const DataType& to) {
  if (from == to || from.id() == TypeId::kNull) return true;
  if (!IsPrimitive(from) || !IsPrimitive(to)) return false;
  auto scalar = [](const DataType& t) {
    return t.is_numeric() || t.id() == TypeId::kBoolean || t.id() == TypeId::kString ||
           t.id() == TypeId::kDate || t.is_timestamp();
  };
  if (to.id() == TypeId::kString) return true;
  if (from.is_interval() || to.is_interval()) return from.id() == TypeId::kString && to.is_interval();
  if (from.id() == TypeId::kString) return scalar(to) || to.id() == TypeId::kBinary;
  if (from.id() == TypeId::kBinary || to.id() == TypeId::kBinary) return false;
  if (from.is_numeric() || from.id() == TypeId::kBoolean) {
    return to.is_numeric() || to.id() == TypeId::kBoolean || to.is_timestamp();
  }
  if (from.id() == TypeId::kDate) return to.is_timestamp();
  if (from.is_timestamp()) return to.is_timestamp() || to.id() == TypeId::kDate || to.is_numeric();
  return false;
}

namespace {

class Binder {
 public:
  Binder(const Schema& input, const BindContext& ctx) : input_(input), ctx_(ctx) {}

  Result<BoundExpr> Bind(const Expr& e, bool inside_aggregate) {
    switch (e.kind) {
      case ExprKind::kLiteral: {
        BoundExpr b = Base(e, BoundKind::kLiteral);
        b.literal = e.literal;
        b.type = e.literal.is_null() && e.literal_type.id() == TypeId::kNull ? DataType::Null() : e.literal_type;
        b.nullable = e.literal.is_null();
        return b;
      }
      case ExprKind::kColumn: return BindColumn(e);
      case ExprKind::kCast: {
        LP_ASSIGN_OR_RETURN(BoundExpr arg, Bind(*e.args[0], inside_aggregate));
        if (!CastSupported(arg.type, e.cast_type)) {
          return BindError(e, "cannot cast " + arg.type.ToString() + " to " + e.cast_type.ToString() +
                                  " in `" + e.ToString() + "`");
        }
        BoundExpr b = Base(e, BoundKind::kCast);
        b.type = e.cast_type;
        b.try_cast = e.try_cast;
        b.nullable = arg.nullable || e.try_cast || arg.type.id() == TypeId::kString;
        bool fold = arg.kind == BoundKind::kLiteral && e.cast_type.is_interval();
        b.args.push_back(std::move(arg));
        if (fold) {
          // INTERVAL literals arrive as casts of their text: parse once, here, so a bad
          // literal fails at bind time and kernels see a constant.
          auto v = EvaluateConstant(b);
          if (!v.ok()) return v.status();
          BoundExpr lit = Base(e, BoundKind::kLiteral);
          lit.type = b.type;
          lit.literal = *v;
          lit.nullable = v->is_null();
          return lit;
        }
        return b;
      }
      case ExprKind::kCall: return BindCall(e, inside_aggregate);
    }
    return BindError(e, "unknown expression kind");
  }

 private:
  BoundExpr Base(const Expr& e, BoundKind kind) {
    BoundExpr b;
    b.kind = kind;
    b.pos = e.pos;
    b.text = e.ToString();
    return b;
  }

  Result<BoundExpr> BindColumn(const Expr& e) {
    int begin = 0, end = static_cast<int>(input_.size());
    if (!e.qualifier.empty()) {
      std::string q = Lower(e.qualifier);
      bool found = false;
      std::vector<std::string> known;
      for (const auto& r : ctx_.qualifiers) {
        known.push_back(r.qualifier);
        if (Lower(r.qualifier) == q) {
          begin = r.begin;
          end = r.end;
          found = true;
        }
      }
      if (!found) {
        // A struct column used as `s.x`: rewrite as get_field.
        int struct_index = input_.FindField(e.qualifier);
        if (struct_index >= 0) {
          auto field = Expr::Call("get_field",
                                  {Expr::Column(e.qualifier, "", e.pos),
                                   Expr::Literal(Value::String(e.name), DataType::String(), e.pos)},
                                  e.pos);
          return Bind(*field, false);
        }
        return BindError(e, "table or alias `" + e.qualifier + "` not found in `" + e.ToString() +
                                "`; available: " + (known.empty() ? "(none)" : JoinNames(known)));
      }
    }
    std::string want = Lower(e.name);
    std::vector<int> matches;
    std::vector<int> exact;
    for (int i = begin; i < end && i < static_cast<int>(input_.size()); ++i) {
      const std::string& n = input_.field(i).name;
      if (Lower(n) == want) {
        matches.push_back(i);
        if (n == e.name) exact.push_back(i);
      }
    }
    if (matches.empty()) {
      std::vector<std::string> names;
      for (int i = begin; i < end && i < static_cast<int>(input_.size()); ++i) names.push_back(input_.field(i).name);
      return BindError(e, "column `" + e.ToString() + "` not found; available: " +
                              (names.empty() ? "(none)" : JoinNames(names)));
    }
    int index = matches[0];
    if (matches.size() > 1) {
      if (exact.size() == 1) {
        index = exact[0];
      } else {
        return BindError(e, "column `" + e.ToString() + "` is ambiguous (" + std::to_string(matches.size()) +
                                " input columns have that name); qualify it with a table alias");
      }
    }
    BoundExpr b = Base(e, BoundKind::kColumn);
    b.column_index = index;
    b.type = input_.field(index).type;
    b.nullable = input_.field(index).nullable;
    return b;
  }

  Result<BoundExpr> BindCall(const Expr& e, bool inside_aggregate) {
    std::string name = Lower(e.function);
    if (const AggregateSignature* agg = FindAggregate(name)) return BindAggregate(e, *agg, inside_aggregate);
    const ScalarFunction* fn = FunctionRegistry::Get().Find(name);
    if (!fn || fn->internal) {
      return Unsupported(e, "function `" + e.function + "` is not supported (docs/functions.md lists what is)");
    }
    int n = static_cast<int>(e.args.size());
    if (n < fn->min_args || (fn->max_args >= 0 && n > fn->max_args)) {
      return BindError(e, "function `" + e.function + "` takes " + ArityText(fn->min_args, fn->max_args) +
                              " arguments, got " + std::to_string(n) + " in `" + e.ToString() + "`");
    }
    BoundExpr b = Base(e, BoundKind::kCall);
    LP_RETURN_IF_ERROR(BindArgs(e, inside_aggregate, &b));
    CallBinder call(e, b, ctx_);
    LP_RETURN_IF_ERROR(call.Rebind(fn->name));
    return b;
  }

  Status BindArgs(const Expr& e, bool inside_aggregate, BoundExpr* b) {
    for (const auto& a : e.args) {
      LP_ASSIGN_OR_RETURN(BoundExpr arg, Bind(*a, inside_aggregate));
      b->args.push_back(std::move(arg));
    }
    return Status::OK();
  }

  // Aggregates are typed by their registry entry (expr/aggregate_functions.h).
  Result<BoundExpr> BindAggregate(const Expr& e, const AggregateSignature& signature, bool inside_aggregate) {
    if (!ctx_.allow_aggregates) {
      return BindError(e, "aggregate `" + e.ToString() + "` is not allowed here (only in SELECT/HAVING of a grouped query)");
    }
    if (inside_aggregate) return BindError(e, "aggregate `" + e.ToString() + "` nested inside another aggregate");
    BoundExpr b = Base(e, BoundKind::kAggregate);
    b.distinct = e.distinct;
    LP_RETURN_IF_ERROR(BindArgs(e, true, &b));
    if (e.filter) {
      LP_ASSIGN_OR_RETURN(BoundExpr f, Bind(*e.filter, true));
      if (f.type.id() == TypeId::kNull) f = CastTo(std::move(f), DataType::Boolean());
      if (f.type.id() != TypeId::kBoolean) {
        return BindError(e, "FILTER (WHERE `" + e.filter->ToString() + "`) is " + f.type.ToString() + ", not boolean");
      }
      b.filter = std::make_shared<const BoundExpr>(std::move(f));
    }
    Status st = BindAggregateCall(signature, &b);
    if (!st.ok()) {
      std::string msg = st.message() + " in `" + e.ToString() + "`";
      return st.code() == StatusCode::kNotSupported ? Unsupported(e, msg) : BindError(e, msg);
    }
    return b;
  }

  static std::string ArityText(int min, int max) {
    if (min == max) return std::to_string(min);
    if (max < 0) return "at least " + std::to_string(min);
    return std::to_string(min) + " to " + std::to_string(max);
  }

  const Schema& input_;
  const BindContext& ctx_;
};

}  // namespace

Result<BoundExpr> Bind(const Expr& expr, const Schema& input, const BindContext& context) {
  Binder binder(input, context);
  return binder.Bind(expr, false);
}

std::vector<std::string> SupportedFunctions() {
  std::vector<std::string> names = FunctionRegistry::Get().Names();
  for (const auto& agg : AggregateFunctionNames()) names.push_back(agg);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace lakepipe::expr
