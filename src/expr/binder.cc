#include "expr/binder.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "expr/aggregate_functions.h"
#include "expr/eval.h"
#include "expr/kernel_state.h"

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

bool IsPrimitive(const DataType& t) { return !t.is_nested(); }

}  // namespace

bool BoundExpr::ContainsAggregate() const {
  if (kind == BoundKind::kAggregate) return true;
  for (const auto& a : args) {
    if (a.ContainsAggregate()) return true;
  }
  return false;
}

Result<DataType> CommonType(const DataType& a, const DataType& b) {
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

namespace {

bool CastSupported(const DataType& from, const DataType& to) {
  if (from == to || from.id() == TypeId::kNull) return true;
  if (!IsPrimitive(from) || !IsPrimitive(to)) return false;
  auto scalar = [](const DataType& t) {
    return t.is_numeric() || t.id() == TypeId::kBoolean || t.id() == TypeId::kString ||
           t.id() == TypeId::kDate || t.is_timestamp();
  };
  if (to.id() == TypeId::kString) return true;
  if (from.id() == TypeId::kString) return scalar(to) || to.id() == TypeId::kBinary;
  if (from.id() == TypeId::kBinary || to.id() == TypeId::kBinary) return false;
  if (from.is_numeric() || from.id() == TypeId::kBoolean) {
    return to.is_numeric() || to.id() == TypeId::kBoolean || to.is_timestamp();
  }
  if (from.id() == TypeId::kDate) return to.is_timestamp();
  if (from.is_timestamp()) return to.is_timestamp() || to.id() == TypeId::kDate || to.is_numeric();
  return false;
}

const std::map<std::string, std::string>& Aliases() {
  static const std::map<std::string, std::string> kAliases = {
      {"substr", "substring"},     {"iff", "if"},
      {"dayofmonth", "day"},       {"char_length", "length"},
      {"character_length", "length"}, {"len", "length"},
      {"ceiling", "ceil"},         {"pow", "power"},
      {"now", "current_timestamp"}, {"nvl", "coalesce"},
      {"ifnull", "coalesce"},      {"!=", "<>"},
      {"ucase", "upper"},          {"lcase", "lower"},
      {"mod", "%"},                {"try_sum", "sum"},
      {"date_diff", "datediff"},   {"week", "weekofyear"},
      {"sha", "sha1"},
  };
  return kAliases;
}

// Every scalar function and its accepted argument counts [min, max] (-1 = unbounded).
const std::map<std::string, std::pair<int, int>>& Arity() {
  static const std::map<std::string, std::pair<int, int>> kArity = {
      {"+", {2, 2}}, {"-", {2, 2}}, {"*", {2, 2}}, {"/", {2, 2}}, {"%", {2, 2}},
      {"div", {2, 2}}, {"negate", {1, 1}}, {"try_add", {2, 2}}, {"try_subtract", {2, 2}},
      {"try_multiply", {2, 2}}, {"try_divide", {2, 2}}, {"try_mod", {2, 2}},
      {"=", {2, 2}}, {"<>", {2, 2}}, {"<", {2, 2}}, {"<=", {2, 2}}, {">", {2, 2}},
      {">=", {2, 2}}, {"<=>", {2, 2}}, {"and", {2, 2}}, {"or", {2, 2}}, {"not", {1, 1}},
      {"is_null", {1, 1}}, {"is_not_null", {1, 1}}, {"isnull", {1, 1}}, {"isnotnull", {1, 1}},
      {"in", {2, -1}}, {"like", {2, 3}}, {"ilike", {2, 3}}, {"rlike", {2, 2}},
      {"regexp", {2, 2}}, {"regexp_like", {2, 2}},
      {"case", {2, -1}}, {"coalesce", {1, -1}}, {"nullif", {2, 2}}, {"if", {3, 3}},
      {"||", {2, 2}}, {"concat", {1, -1}}, {"concat_ws", {1, -1}}, {"upper", {1, 1}},
      {"lower", {1, 1}}, {"trim", {1, 2}}, {"ltrim", {1, 2}}, {"rtrim", {1, 2}},
      {"substring", {2, 3}}, {"length", {1, 1}}, {"regexp_replace", {3, 3}},
      {"split_part", {3, 3}}, {"replace", {2, 3}}, {"lpad", {2, 3}}, {"rpad", {2, 3}},
      {"to_date", {1, 2}}, {"to_timestamp", {1, 2}}, {"try_to_timestamp", {1, 2}},
      {"try_to_date", {1, 2}},
      {"date_trunc", {2, 2}}, {"trunc", {2, 2}}, {"year", {1, 1}}, {"month", {1, 1}},
      {"day", {1, 1}}, {"dayofweek", {1, 1}}, {"dayofyear", {1, 1}}, {"hour", {1, 1}},
      {"minute", {1, 1}}, {"second", {1, 1}}, {"quarter", {1, 1}}, {"weekofyear", {1, 1}},
      {"current_timestamp", {0, 0}}, {"current_date", {0, 0}}, {"date_format", {2, 2}},
      {"datediff", {2, 2}}, {"date_add", {2, 2}}, {"date_sub", {2, 2}},
      {"months_between", {2, 3}}, {"round", {1, 2}}, {"bround", {1, 2}}, {"floor", {1, 1}},
      {"ceil", {1, 1}}, {"abs", {1, 1}}, {"sqrt", {1, 1}}, {"power", {2, 2}},
      {"greatest", {2, -1}}, {"least", {2, -1}}, {"get_field", {2, 2}},
      {"md5", {1, 1}}, {"sha1", {1, 1}}, {"sha2", {2, 2}},
  };
  return kArity;
}

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
        b.args.push_back(std::move(arg));
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
        if (struct_index >= 0 && input_.field(struct_index).type.id() == TypeId::kStruct) {
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
    std::string fn = Lower(e.function);
    if (auto it = Aliases().find(fn); it != Aliases().end()) fn = it->second;
    if (const AggregateSignature* agg = FindAggregate(fn)) return BindAggregate(e, *agg, inside_aggregate);
    auto arity = Arity().find(fn);
    if (arity == Arity().end()) {
      return Unsupported(e, "function `" + e.function + "` is not supported (docs/functions.md lists what is)");
    }
    int n = static_cast<int>(e.args.size());
    if (n < arity->second.first || (arity->second.second >= 0 && n > arity->second.second)) {
      return BindError(e, "function `" + e.function + "` takes " + ArityText(arity->second) +
                              " arguments, got " + std::to_string(n) + " in `" + e.ToString() + "`");
    }
    BoundExpr b = Base(e, BoundKind::kCall);
    b.function = fn;
    for (const auto& a : e.args) {
      LP_ASSIGN_OR_RETURN(BoundExpr arg, Bind(*a, inside_aggregate));
      b.args.push_back(std::move(arg));
    }
    Status st = Type(e, b);
    if (!st.ok()) return st;
    return b;
  }

  static std::string ArityText(std::pair<int, int> a) {
    if (a.first == a.second) return std::to_string(a.first);
    if (a.second < 0) return "at least " + std::to_string(a.first);
    return std::to_string(a.first) + " to " + std::to_string(a.second);
  }

  // Aggregates are typed by their registry entry (expr/aggregate_functions.h).
  Result<BoundExpr> BindAggregate(const Expr& e, const AggregateSignature& signature, bool inside_aggregate) {
    if (!ctx_.allow_aggregates) {
      return BindError(e, "aggregate `" + e.ToString() + "` is not allowed here (only in SELECT/HAVING of a grouped query)");
    }
    if (inside_aggregate) return BindError(e, "aggregate `" + e.ToString() + "` nested inside another aggregate");
    BoundExpr b = Base(e, BoundKind::kAggregate);
    b.distinct = e.distinct;
    for (const auto& a : e.args) {
      LP_ASSIGN_OR_RETURN(BoundExpr arg, Bind(*a, true));
      b.args.push_back(std::move(arg));
    }
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

  // Coerces every argument in [from, to) (step) to one common type.
  Status CoerceToCommon(const Expr& e, BoundExpr& b, size_t from, size_t step, DataType* common_out) {
    DataType common = DataType::Null();
    for (size_t i = from; i < b.args.size(); i += step) {
      auto c = CommonType(common, b.args[i].type);
      if (!c.ok()) {
        return BindError(e, "`" + e.function + "` arguments have incompatible types (" + common.ToString() +
                                " and " + b.args[i].type.ToString() + ") in `" + e.ToString() + "`");
      }
      common = *c;
    }
    for (size_t i = from; i < b.args.size(); i += step) b.args[i] = CastTo(std::move(b.args[i]), common);
    if (common_out) *common_out = common;
    return Status::OK();
  }

  Status ExpectType(const Expr& e, BoundExpr& b, size_t i, const DataType& want) {
    const DataType& have = b.args[i].type;
    if (have == want) return Status::OK();
    bool ok = have.id() == TypeId::kNull || CastSupported(have, want);
    // Spark refuses implicit casts between unrelated kinds (a date where a number is wanted).
    if (want.is_numeric() && !(have.is_numeric() || have.id() == TypeId::kString || have.id() == TypeId::kNull)) ok = false;
    if (want.id() == TypeId::kBoolean && !(have.id() == TypeId::kString || have.id() == TypeId::kNull)) ok = false;
    if (want.id() == TypeId::kDate && !(have.id() == TypeId::kString || have.is_timestamp() || have.id() == TypeId::kNull)) ok = false;
    if (want.is_timestamp() && !(have.id() == TypeId::kString || have.id() == TypeId::kDate || have.is_timestamp() || have.id() == TypeId::kNull)) ok = false;
    if (!ok) {
      return BindError(e, "argument " + std::to_string(i + 1) + " of `" + e.function + "` must be " +
                              want.ToString() + ", got " + have.ToString() + " in `" + e.ToString() + "`");
    }
    b.args[i] = CastTo(std::move(b.args[i]), want);
    return Status::OK();
  }

  Status ExpectAll(const Expr& e, BoundExpr& b, size_t from, const DataType& want) {
    for (size_t i = from; i < b.args.size(); ++i) LP_RETURN_IF_ERROR(ExpectType(e, b, i, want));
    return Status::OK();
  }

  Status ExpectLiteral(const Expr& e, const BoundExpr& b, size_t i) {
    if (b.args[i].kind != BoundKind::kLiteral) {
      return Unsupported(e, "argument " + std::to_string(i + 1) + " of `" + e.function +
                                "` must be a constant in `" + e.ToString() + "`");
    }
    return Status::OK();
  }

  bool AnyNullable(const BoundExpr& b) {
    for (const auto& a : b.args) {
      if (a.nullable) return true;
    }
    return false;
  }

  // The argument types and the result type of scalar function b.function.
  Status Type(const Expr& e, BoundExpr& b) {
    const std::string& fn = b.function;
    b.nullable = AnyNullable(b);
    if (fn == "+" || fn == "-" || fn == "try_add" || fn == "try_subtract") {
      // date +/- integer days.
      bool sub = fn == "-" || fn == "try_subtract";
      if (b.args[0].type.id() == TypeId::kDate && (b.args[1].type.is_integer() || b.args[1].type.id() == TypeId::kNull)) {
        b.function = sub ? "date_sub" : "date_add";
        return Type(e, b);
      }
      if (!sub && b.args[1].type.id() == TypeId::kDate && b.args[0].type.is_integer()) {
        std::swap(b.args[0], b.args[1]);
        b.function = "date_add";
        return Type(e, b);
      }
    }
    if (fn == "+" || fn == "-" || fn == "*" || fn == "%" || fn == "try_add" || fn == "try_subtract" ||
        fn == "try_multiply" || fn == "try_mod" || fn == "/" || fn == "try_divide" || fn == "div") {
      for (size_t i = 0; i < 2; ++i) {
        DataType t = b.args[i].type;
        if (t.id() == TypeId::kString || t.id() == TypeId::kNull) {
          DataType other = b.args[1 - i].type;
          b.args[i] = CastTo(std::move(b.args[i]), other.is_numeric() && t.id() == TypeId::kNull ? other : DataType::Double());
        } else if (!t.is_numeric()) {
          return BindError(e, "`" + e.function + "` needs numbers, got " + t.ToString() + " (" +
                                  b.args[i].text + ") in `" + e.ToString() + "`");
        }
      }
      const DataType& a = b.args[0].type;
      const DataType& c = b.args[1].type;
      bool decimal = (a.id() == TypeId::kDecimal || c.id() == TypeId::kDecimal) && !a.is_floating() && !c.is_floating();
      bool divide = fn == "/" || fn == "try_divide";
      if (fn == "div") {
        // Integral division: bigint.
        DataType w = WiderNumeric(a, c);
        if (!w.is_integer()) return Unsupported(e, "`div` over " + w.ToString());
        b.args[0] = CastTo(std::move(b.args[0]), DataType::Long());
        b.args[1] = CastTo(std::move(b.args[1]), DataType::Long());
        b.type = DataType::Long();
        b.nullable = true;
        return Status::OK();
      }
      if (decimal) {
        DataType da = AsDecimal(a), dc = AsDecimal(c);
        int p1 = da.precision(), s1 = da.scale(), p2 = dc.precision(), s2 = dc.scale();
        if (fn == "*" || fn == "try_multiply") {
          b.type = AdjustedDecimal(p1 + p2 + 1, s1 + s2);
        } else if (divide) {
          int s = std::max(6, s1 + p2 + 1);
          b.type = AdjustedDecimal(p1 - s1 + s2 + s, s);
        } else if (fn == "%" || fn == "try_mod") {
          int s = std::max(s1, s2);
          b.type = AdjustedDecimal(std::min(p1 - s1, p2 - s2) + s, s);
        } else {
          int s = std::max(s1, s2);
          b.type = AdjustedDecimal(std::max(p1 - s1, p2 - s2) + s + 1, s);
        }
        b.args[0] = CastTo(std::move(b.args[0]), da);
        b.args[1] = CastTo(std::move(b.args[1]), dc);
      } else if (divide) {
        b.args[0] = CastTo(std::move(b.args[0]), DataType::Double());
        b.args[1] = CastTo(std::move(b.args[1]), DataType::Double());
        b.type = DataType::Double();
      } else {
        DataType w = WiderNumeric(a, c);
        b.args[0] = CastTo(std::move(b.args[0]), w);
        b.args[1] = CastTo(std::move(b.args[1]), w);
        b.type = w;
      }
      if (divide || fn == "%" || fn.rfind("try_", 0) == 0) b.nullable = true;
      return Status::OK();
    }
    if (fn == "negate" || fn == "abs") {
      if (b.args[0].type.id() == TypeId::kString || b.args[0].type.id() == TypeId::kNull) {
        b.args[0] = CastTo(std::move(b.args[0]), DataType::Double());
      }
      if (!b.args[0].type.is_numeric()) return BindError(e, "`" + e.function + "` needs a number in `" + e.ToString() + "`");
      b.type = b.args[0].type;
      return Status::OK();
    }
    if (fn == "=" || fn == "<>" || fn == "<" || fn == "<=" || fn == ">" || fn == ">=" || fn == "<=>") {
      LP_RETURN_IF_ERROR(CoerceToCommon(e, b, 0, 1, nullptr));
      if (b.args[0].type.is_nested()) return Unsupported(e, "comparing " + b.args[0].type.ToString() + " values");
      b.type = DataType::Boolean();
      if (fn == "<=>") b.nullable = false;
      return Status::OK();
    }
    if (fn == "and" || fn == "or" || fn == "not") {
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::Boolean()));
      b.type = DataType::Boolean();
      return Status::OK();
    }
    if (fn == "is_null" || fn == "is_not_null" || fn == "isnull" || fn == "isnotnull") {
      b.function = (fn == "is_null" || fn == "isnull") ? "is_null" : "is_not_null";
      b.type = DataType::Boolean();
      b.nullable = false;
      return Status::OK();
    }
    if (fn == "in") {
      LP_RETURN_IF_ERROR(CoerceToCommon(e, b, 0, 1, nullptr));
      b.type = DataType::Boolean();
      return Status::OK();
    }
    if (fn == "like" || fn == "ilike" || fn == "rlike" || fn == "regexp" || fn == "regexp_like") {
      if (fn != "like" && fn != "ilike") b.function = "rlike";
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::String()));
      b.type = DataType::Boolean();
      LP_RETURN_IF_ERROR(PreparePattern(e, b));
      return Status::OK();
    }
    if (fn == "case") {
      size_t n = b.args.size();
      size_t pairs = n / 2;
      for (size_t i = 0; i < pairs; ++i) LP_RETURN_IF_ERROR(ExpectType(e, b, 2 * i, DataType::Boolean()));
      DataType common = DataType::Null();
      for (size_t i = 1; i < n; i += 2) {
        auto c = CommonType(common, b.args[i].type);
        if (!c.ok()) return BindError(e, "CASE branches have incompatible types (" + common.ToString() + " and " + b.args[i].type.ToString() + ") in `" + e.ToString() + "`");
        common = *c;
      }
      if (n % 2 == 1) {
        auto c = CommonType(common, b.args[n - 1].type);
        if (!c.ok()) return BindError(e, "CASE branches have incompatible types (" + common.ToString() + " and " + b.args[n - 1].type.ToString() + ") in `" + e.ToString() + "`");
        common = *c;
      }
      bool nullable = n % 2 == 0;
      for (size_t i = 1; i < n; i += 2) {
        b.args[i] = CastTo(std::move(b.args[i]), common);
        nullable |= b.args[i].nullable;
      }
      if (n % 2 == 1) {
        b.args[n - 1] = CastTo(std::move(b.args[n - 1]), common);
        nullable |= b.args[n - 1].nullable;
      }
      b.type = common;
      b.nullable = nullable;
      return Status::OK();
    }
    if (fn == "coalesce" || fn == "greatest" || fn == "least") {
      LP_RETURN_IF_ERROR(CoerceToCommon(e, b, 0, 1, &b.type));
      if (fn == "coalesce") {
        b.nullable = true;
        for (const auto& a : b.args) {
          if (!a.nullable) b.nullable = false;
        }
      } else {
        // Spark's greatest/least skip NULLs: NULL only when all are NULL.
        b.nullable = true;
      }
      return Status::OK();
    }
    if (fn == "nullif") {
      LP_RETURN_IF_ERROR(CoerceToCommon(e, b, 0, 1, &b.type));
      b.nullable = true;
      return Status::OK();
    }
    if (fn == "if") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::Boolean()));
      LP_RETURN_IF_ERROR(CoerceToCommon(e, b, 1, 1, &b.type));
      b.nullable = b.args[1].nullable || b.args[2].nullable;
      return Status::OK();
    }
    if (fn == "||" || fn == "concat" || fn == "upper" || fn == "lower" || fn == "trim" || fn == "ltrim" ||
        fn == "rtrim") {
      if (fn == "||") b.function = "concat";
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::String()));
      b.type = DataType::String();
      return Status::OK();
    }
    if (fn == "concat_ws") {
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::String()));
      b.type = DataType::String();
      b.nullable = b.args[0].nullable;
      return Status::OK();
    }
    if (fn == "length") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::String()));
      b.type = DataType::Int();
      return Status::OK();
    }
    if (fn == "substring") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 1, DataType::Int()));
      b.type = DataType::String();
      return Status::OK();
    }
    if (fn == "regexp_replace") {
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::String()));
      b.type = DataType::String();
      LP_RETURN_IF_ERROR(PreparePattern(e, b));
      return Status::OK();
    }
    if (fn == "split_part") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectType(e, b, 2, DataType::Int()));
      b.type = DataType::String();
      return Status::OK();
    }
    if (fn == "replace") {
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::String()));
      b.type = DataType::String();
      return Status::OK();
    }
    if (fn == "lpad" || fn == "rpad") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::Int()));
      if (b.args.size() == 3) LP_RETURN_IF_ERROR(ExpectType(e, b, 2, DataType::String()));
      b.type = DataType::String();
      return Status::OK();
    }
    if (fn == "to_date" || fn == "to_timestamp" || fn == "try_to_timestamp" || fn == "try_to_date") {
      bool date = fn == "to_date" || fn == "try_to_date";
      bool try_form = fn.rfind("try_", 0) == 0;
      DataType target = date ? DataType::Date() : DataType::Timestamp();
      if (b.args.size() == 1 || b.args[0].type.id() != TypeId::kString) {
        // Without a format (or for a date/timestamp input) this is CAST(x AS DATE|TIMESTAMP).
        if (b.args.size() == 2 && b.args[0].type.id() != TypeId::kString) b.args.pop_back();
        const DataType& from = b.args[0].type;
        if (!(from.id() == TypeId::kString || from.id() == TypeId::kDate || from.is_timestamp() || from.id() == TypeId::kNull)) {
          return BindError(e, "`" + e.function + "` needs a string, date or timestamp, got " + from.ToString() + " in `" + e.ToString() + "`");
        }
        BoundExpr cast;
        cast.kind = BoundKind::kCast;
        cast.type = target;
        cast.try_cast = try_form;
        cast.pos = b.pos;
        cast.text = b.text;
        cast.nullable = true;
        cast.args.push_back(std::move(b.args[0]));
        b = std::move(cast);
        return Status::OK();
      }
      LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 1));
      b.type = target;
      b.nullable = true;
      LP_RETURN_IF_ERROR(PrepareDatetimeFormat(e, b, 1, /*parsing=*/true));
      return Status::OK();
    }
    if (fn == "date_format") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::Timestamp()));
      LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 1));
      b.type = DataType::String();
      LP_RETURN_IF_ERROR(PrepareDatetimeFormat(e, b, 1, /*parsing=*/false));
      return Status::OK();
    }
    if (fn == "date_trunc") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 0));
      LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::Timestamp()));
      b.type = DataType::Timestamp();
      return Status::OK();
    }
    if (fn == "trunc") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::Date()));
      LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::String()));
      LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 1));
      b.type = DataType::Date();
      b.nullable = true;
      return Status::OK();
    }
    if (fn == "year" || fn == "month" || fn == "day" || fn == "dayofweek" || fn == "dayofyear" ||
        fn == "quarter" || fn == "weekofyear") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::Date()));
      b.type = DataType::Int();
      return Status::OK();
    }
    if (fn == "hour" || fn == "minute" || fn == "second") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::Timestamp()));
      b.type = DataType::Int();
      return Status::OK();
    }
    if (fn == "current_timestamp" || fn == "current_date") {
      int64_t now = ctx_.current_timestamp_micros.value_or(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
      b.kind = BoundKind::kLiteral;
      b.nullable = false;
      if (fn == "current_date") {
        b.type = DataType::Date();
        b.literal = Value::Date(static_cast<int32_t>(FloorDivide(now, 86400000000LL)));
      } else {
        b.type = DataType::Timestamp();
        b.literal = Value::Timestamp(now);
      }
      b.function.clear();
      return Status::OK();
    }
    if (fn == "datediff") {
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::Date()));
      b.type = DataType::Int();
      return Status::OK();
    }
    if (fn == "date_add" || fn == "date_sub") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::Date()));
      if (!(b.args[1].type.is_integer() || b.args[1].type.id() == TypeId::kNull || b.args[1].type.id() == TypeId::kString)) {
        return BindError(e, "argument 2 of `" + e.function + "` must be an integer, got " + b.args[1].type.ToString() + " in `" + e.ToString() + "`");
      }
      b.args[1] = CastTo(std::move(b.args[1]), DataType::Int());
      b.type = DataType::Date();
      return Status::OK();
    }
    if (fn == "months_between") {
      LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::Timestamp()));
      LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::Timestamp()));
      if (b.args.size() == 3) LP_RETURN_IF_ERROR(ExpectType(e, b, 2, DataType::Boolean()));
      b.type = DataType::Double();
      return Status::OK();
    }
    if (fn == "round" || fn == "bround") {
      if (b.args[0].type.id() == TypeId::kString || b.args[0].type.id() == TypeId::kNull) {
        b.args[0] = CastTo(std::move(b.args[0]), DataType::Double());
      }
      if (!b.args[0].type.is_numeric()) return BindError(e, "`" + e.function + "` needs a number in `" + e.ToString() + "`");
      int digits = 0;
      if (b.args.size() == 2) {
        LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::Int()));
        LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 1));
        if (b.args[1].literal.is_null()) return BindError(e, "the scale of `" + e.function + "` must not be NULL");
        digits = static_cast<int>(b.args[1].literal.int_value());
      }
      const DataType& t = b.args[0].type;
      if (t.id() == TypeId::kDecimal) {
        int new_scale = std::max(0, std::min(digits, t.scale()));
        int int_digits = t.precision() - t.scale();
        b.type = DataType::Decimal(std::min(38, int_digits + new_scale + 1), new_scale);
      } else {
        b.type = t;
      }
      return Status::OK();
    }
    if (fn == "floor" || fn == "ceil") {
      if (b.args[0].type.id() == TypeId::kString || b.args[0].type.id() == TypeId::kNull) {
        b.args[0] = CastTo(std::move(b.args[0]), DataType::Double());
      }
      const DataType& t = b.args[0].type;
      if (!t.is_numeric()) return BindError(e, "`" + e.function + "` needs a number in `" + e.ToString() + "`");
      if (t.id() == TypeId::kDecimal) {
        b.type = DataType::Decimal(std::min(38, t.precision() - t.scale() + 1), 0);
      } else {
        b.args[0] = CastTo(std::move(b.args[0]), t.is_integer() ? DataType::Long() : DataType::Double());
        b.type = DataType::Long();
      }
      return Status::OK();
    }
    if (fn == "sqrt" || fn == "power") {
      LP_RETURN_IF_ERROR(ExpectAll(e, b, 0, DataType::Double()));
      b.type = DataType::Double();
      return Status::OK();
    }
    if (fn == "md5" || fn == "sha1" || fn == "sha2") {
      if (b.args[0].type.id() != TypeId::kBinary) LP_RETURN_IF_ERROR(ExpectType(e, b, 0, DataType::String()));
      if (fn == "sha2") {
        LP_RETURN_IF_ERROR(ExpectType(e, b, 1, DataType::Int()));
        LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 1));
        b.nullable = true;
      }
      b.type = DataType::String();
      return Status::OK();
    }
    if (fn == "get_field") {
      const DataType& t = b.args[0].type;
      LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 1));
      if (t.id() != TypeId::kStruct) return BindError(e, "`" + e.ToString() + "`: " + t.ToString() + " has no fields");
      std::string want = Lower(b.args[1].literal.string_value());
      std::vector<std::string> names;
      for (size_t i = 0; i < t.fields().size(); ++i) {
        names.push_back(t.fields()[i].name);
        if (Lower(t.fields()[i].name) == want) {
          b.type = t.fields()[i].type;
          b.column_index = static_cast<int>(i);
          b.nullable = true;
          return Status::OK();
        }
      }
      return BindError(e, "field `" + b.args[1].literal.string_value() + "` not found in `" + b.args[0].text +
                              "`; available: " + JoinNames(names));
    }
    return Unsupported(e, "function `" + e.function + "` is not supported");
  }

  static int64_t FloorDivide(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

  Status PreparePattern(const Expr& e, BoundExpr& b) {
    // The pattern is argument 2; compile once when it is a constant.
    if (b.args[1].kind != BoundKind::kLiteral || b.args[1].literal.is_null()) return Status::OK();
    std::string escape = "\\";
    if (b.function == "like" || b.function == "ilike") {
      if (b.args.size() == 3) {
        LP_RETURN_IF_ERROR(ExpectLiteral(e, b, 2));
        escape = b.args[2].literal.is_null() ? "" : b.args[2].literal.string_value();
        if (escape.size() != 1) return BindError(e, "the LIKE escape must be one character in `" + e.ToString() + "`");
      }
    }
    auto state = CompilePattern(b.function, b.args[1].literal.string_value(), escape[0]);
    if (!state.ok()) return BindError(e, state.status().message() + " in `" + e.ToString() + "`");
    b.state = *state;
    return Status::OK();
  }

  Status PrepareDatetimeFormat(const Expr& e, BoundExpr& b, size_t arg, bool parsing) {
    if (b.args[arg].literal.is_null()) return Status::OK();
    auto state = CompileDatetimeFormat(b.args[arg].literal.string_value(), parsing);
    if (!state.ok()) {
      std::string msg = state.status().message() + " in `" + e.ToString() + "`";
      return state.status().code() == StatusCode::kNotSupported ? Unsupported(e, msg) : BindError(e, msg);
    }
    b.state = *state;
    return Status::OK();
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
  std::vector<std::string> names;
  for (const auto& [name, arity] : Arity()) names.push_back(name);
  for (const auto& [alias, target] : Aliases()) names.push_back(alias);
  for (auto& agg : AggregateFunctionNames()) names.push_back(agg);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace lakepipe::expr
