#include "expr/aggregate_functions.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "expr/binder.h"

namespace lakepipe::expr {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Fn(const BoundExpr& call) { return "aggregate `" + call.function + "`"; }

// The first argument, with a NULL literal typed as `fallback` (Spark types it so).
DataType ValueType(BoundExpr* call, const DataType& fallback) {
  if (call->args[0].type.id() == TypeId::kNull) call->args[0] = CastTo(std::move(call->args[0]), fallback);
  return call->args[0].type;
}

bool Primitive(const DataType& t) { return !t.is_nested() && t.id() != TypeId::kNull; }

// Argument `i` must be a constant of `type` (after coercion): a bound-time parameter
// such as percentile's percentage or first's ignoreNulls.
Status ConstantArg(BoundExpr* call, size_t i, const DataType& type, const char* what) {
  BoundExpr& a = call->args[i];
  if (a.type.id() == TypeId::kString && type.is_numeric()) {
    return Status::InvalidArgument("the " + std::string(what) + " of " + Fn(*call) + " must be a " +
                                   type.ToString() + " constant, got a string");
  }
  a = CastTo(std::move(a), type);
  if (a.kind != BoundKind::kLiteral || a.literal.is_null()) {
    return Status::InvalidArgument("the " + std::string(what) + " of " + Fn(*call) + " must be a non-NULL " +
                                   type.ToString() + " constant, got `" + a.text + "`");
  }
  return Status::OK();
}

Status Numeric(BoundExpr* call, DataType* t) {
  *t = ValueType(call, DataType::Double());
  if (t->id() == TypeId::kString) {
    call->args[0] = CastTo(std::move(call->args[0]), DataType::Double());
    *t = DataType::Double();
  }
  if (!t->is_numeric()) {
    return Status::InvalidArgument(Fn(*call) + " needs a numeric argument, got " + t->ToString());
  }
  return Status::OK();
}

Status BindCount(BoundExpr* call) {
  if (call->args.size() > 1) {
    return Status::NotSupported(call->distinct ? "count(DISTINCT ...) over several columns"
                                               : "count with several arguments");
  }
  call->type = DataType::Long();
  call->nullable = false;
  return Status::OK();
}

Status BindSum(BoundExpr* call) {
  DataType t;
  LP_RETURN_IF_ERROR(Numeric(call, &t));
  if (t.is_integer()) call->type = DataType::Long();
  else if (t.id() == TypeId::kDecimal) call->type = DataType::Decimal(std::min(38, t.precision() + 10), t.scale());
  else call->type = DataType::Double();
  return Status::OK();
}

Status BindAvg(BoundExpr* call) {
  DataType t;
  LP_RETURN_IF_ERROR(Numeric(call, &t));
  if (t.id() == TypeId::kDecimal) {
    call->type = DataType::Decimal(std::min(38, t.precision() + 4), std::min(38, t.scale() + 4));
  } else {
    call->type = DataType::Double();
  }
  return Status::OK();
}

Status BindMinMax(BoundExpr* call) {
  DataType t = ValueType(call, DataType::Double());
  if (!Primitive(t)) return Status::NotSupported(call->function + " over " + t.ToString());
  call->type = t;
  return Status::OK();
}

// stddev/variance family and percentile: double in, double out.
Status BindDoubleStat(BoundExpr* call) {
  DataType t;
  LP_RETURN_IF_ERROR(Numeric(call, &t));
  call->args[0] = CastTo(std::move(call->args[0]), DataType::Double());
  call->type = DataType::Double();
  return Status::OK();
}

Status BindCountIf(BoundExpr* call) {
  DataType t = ValueType(call, DataType::Boolean());
  if (t.id() != TypeId::kBoolean) {
    return Status::InvalidArgument(Fn(*call) + " needs a boolean argument, got " + t.ToString());
  }
  call->type = DataType::Long();
  call->nullable = false;
  return Status::OK();
}

// first, last, any_value: (x [, ignoreNulls]).
Status BindFirstLast(BoundExpr* call) {
  DataType t = ValueType(call, DataType::String());
  if (!Primitive(t)) return Status::NotSupported(call->function + " over " + t.ToString());
  if (call->args.size() == 2) LP_RETURN_IF_ERROR(ConstantArg(call, 1, DataType::Boolean(), "second argument (ignoreNulls)"));
  call->type = t;
  return Status::OK();
}

Status BindMaxBy(BoundExpr* call) {
  DataType t = ValueType(call, DataType::String());
  if (!Primitive(t)) return Status::NotSupported(call->function + " returning " + t.ToString());
  if (call->args[1].type.id() == TypeId::kNull) call->args[1] = CastTo(std::move(call->args[1]), DataType::Long());
  if (!Primitive(call->args[1].type)) {
    return Status::NotSupported(call->function + " ordered by " + call->args[1].type.ToString());
  }
  call->type = t;
  return Status::OK();
}

Status BindCollect(BoundExpr* call) {
  DataType t = ValueType(call, DataType::String());
  if (!Primitive(t)) return Status::NotSupported(call->function + " over " + t.ToString());
  call->type = DataType::Array(t, false);
  call->nullable = false;
  return Status::OK();
}

Status BindApproxCountDistinct(BoundExpr* call) {
  DataType t = ValueType(call, DataType::String());
  if (!Primitive(t)) return Status::NotSupported(call->function + " over " + t.ToString());
  if (call->args.size() == 2) {
    LP_RETURN_IF_ERROR(ConstantArg(call, 1, DataType::Double(), "relative standard deviation"));
    double rsd = call->args[1].literal.double_value();
    // Spark: p = ceil(2 log2(1.106 / rsd)) must be at least 4 (and at most 18 here).
    if (!(rsd > 0) || 2 * std::log2(1.106 / rsd) <= 3) {
      return Status::InvalidArgument(Fn(*call) + ": HLL++ requires at least 4 bits for addressing; use a "
                                     "relative standard deviation of at most 0.39, got " + call->args[1].text);
    }
    if (std::ceil(2 * std::log2(1.106 / rsd)) > 18) {
      return Status::InvalidArgument(Fn(*call) + ": a relative standard deviation below 0.0043 (more than "
                                     "2^18 registers) is not supported, got " + call->args[1].text);
    }
  }
  call->type = DataType::Long();
  call->nullable = false;
  return Status::OK();
}

Status Percentage(BoundExpr* call) {
  LP_RETURN_IF_ERROR(ConstantArg(call, 1, DataType::Double(), "percentage"));
  double p = call->args[1].literal.double_value();
  if (!(p >= 0 && p <= 1)) {
    return Status::InvalidArgument("the percentage of " + Fn(*call) + " must be between 0.0 and 1.0, got " +
                                   call->args[1].text);
  }
  return Status::OK();
}

Status BindPercentile(BoundExpr* call) {
  if (call->args.size() > 1 && call->args[1].type.id() == TypeId::kArray) {
    return Status::NotSupported("not built yet: " + call->function + " with an array of percentages; call it once per percentage");
  }
  if (call->args.size() == 3) {
    return Status::NotSupported("not built yet: the frequency argument of percentile");
  }
  LP_RETURN_IF_ERROR(BindDoubleStat(call));
  return Percentage(call);
}

Status BindPercentileApprox(BoundExpr* call) {
  if (call->args.size() > 1 && call->args[1].type.id() == TypeId::kArray) {
    return Status::NotSupported("not built yet: " + call->function + " with an array of percentages; call it once per percentage");
  }
  DataType t = ValueType(call, DataType::Double());
  if (t.id() == TypeId::kString) {
    call->args[0] = CastTo(std::move(call->args[0]), DataType::Double());
    t = DataType::Double();
  }
  if (!(t.is_numeric() || t.id() == TypeId::kDate || t.is_timestamp())) {
    return Status::InvalidArgument(Fn(*call) + " needs a numeric, date or timestamp argument, got " + t.ToString());
  }
  LP_RETURN_IF_ERROR(Percentage(call));
  if (call->args.size() == 3) {
    LP_RETURN_IF_ERROR(ConstantArg(call, 2, DataType::Int(), "accuracy"));
    if (call->args[2].literal.int_value() <= 0) {
      return Status::InvalidArgument("the accuracy of " + Fn(*call) + " must be a positive integer, got " + call->args[2].text);
    }
  }
  call->type = t;
  return Status::OK();
}

const std::vector<AggregateSignature>& Registry() {
  static const std::vector<AggregateSignature> kAll = {
      {"count", 0, 1, true, false, BindCount},
      {"sum", 1, 1, false, false, BindSum},
      {"avg", 1, 1, false, false, BindAvg},
      {"min", 1, 1, false, false, BindMinMax},
      {"max", 1, 1, false, false, BindMinMax},
      {"count_if", 1, 1, false, false, BindCountIf},
      {"any_value", 1, 2, false, true, BindFirstLast},
      {"first", 1, 2, false, true, BindFirstLast},
      {"last", 1, 2, false, true, BindFirstLast},
      {"max_by", 2, 2, false, true, BindMaxBy},
      {"min_by", 2, 2, false, true, BindMaxBy},
      {"collect_list", 1, 1, false, true, BindCollect},
      {"collect_set", 1, 1, false, false, BindCollect},
      {"approx_count_distinct", 1, 2, false, false, BindApproxCountDistinct},
      {"percentile", 2, 3, false, false, BindPercentile},
      {"percentile_approx", 2, 3, false, false, BindPercentileApprox},
      {"stddev_samp", 1, 1, false, false, BindDoubleStat},
      {"stddev_pop", 1, 1, false, false, BindDoubleStat},
      {"var_samp", 1, 1, false, false, BindDoubleStat},
      {"var_pop", 1, 1, false, false, BindDoubleStat},
  };
  return kAll;
}

const std::map<std::string, std::string, std::less<>>& Aliases() {
  static const std::map<std::string, std::string, std::less<>> kAliases = {
      {"mean", "avg"},
      {"std", "stddev_samp"},
      {"stddev", "stddev_samp"},
      {"variance", "var_samp"},
      {"approx_percentile", "percentile_approx"},
      {"first_value", "first"},
      {"last_value", "last"},
      {"array_agg", "collect_list"},
  };
  return kAliases;
}

}  // namespace

const AggregateSignature* FindAggregate(std::string_view name) {
  std::string n = Lower(name);
  if (auto it = Aliases().find(n); it != Aliases().end()) n = it->second;
  for (const auto& s : Registry()) {
    if (s.name == n) return &s;
  }
  return nullptr;
}

bool IsAggregateFunction(std::string_view name) { return FindAggregate(name) != nullptr; }

std::vector<std::string> AggregateFunctionNames() {
  std::vector<std::string> names;
  for (const auto& s : Registry()) names.emplace_back(s.name);
  for (const auto& [alias, target] : Aliases()) names.push_back(alias);
  std::sort(names.begin(), names.end());
  return names;
}

Status BindAggregateCall(const AggregateSignature& signature, BoundExpr* call) {
  call->function = std::string(signature.name);
  int n = static_cast<int>(call->args.size());
  if (n < signature.min_args || n > signature.max_args) {
    std::string want = signature.min_args == signature.max_args
                           ? std::to_string(signature.min_args)
                           : std::to_string(signature.min_args) + " to " + std::to_string(signature.max_args);
    return Status::InvalidArgument(Fn(*call) + " takes " + want + " argument" + (signature.max_args == 1 ? "" : "s") +
                                   ", got " + std::to_string(n));
  }
  if (call->distinct && !signature.allows_distinct) {
    return Status::NotSupported("DISTINCT in `" + call->function + "` (only count(DISTINCT x) is supported)");
  }
  call->nullable = true;
  return signature.bind(call);
}

}  // namespace lakepipe::expr
