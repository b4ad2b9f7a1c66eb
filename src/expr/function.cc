#include "expr/function.h"

#include <algorithm>

namespace lakepipe::expr {

const FunctionRegistry& FunctionRegistry::Get() {
  static const FunctionRegistry* registry = [] {
    auto* r = new FunctionRegistry();
    RegisterArithmeticFunctions(r);
    RegisterComparisonFunctions(r);
    RegisterConditionalFunctions(r);
    RegisterStringFunctions(r);
    RegisterDatetimeFunctions(r);
    RegisterStructFunctions(r);
    RegisterIntervalFunctions(r);
    RegisterMathFunctions(r);
    RegisterNestedFunctions(r);
    RegisterJsonFunctions(r);
    return r;
  }();
  return *registry;
}

const ScalarFunction* FunctionRegistry::Find(std::string_view name) const {
  if (auto a = aliases_.find(name); a != aliases_.end()) name = a->second;
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : &it->second;
}

std::vector<std::string> FunctionRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, f] : functions_) {
    if (!f.internal) names.push_back(name);
  }
  for (const auto& [alias, target] : aliases_) names.push_back(alias);
  std::sort(names.begin(), names.end());
  return names;
}

void FunctionRegistry::Add(ScalarFunction f) {
  // A duplicate or kernel-less entry is a programming error caught by every test run.
  if (functions_.count(f.name) || (!f.kernel && !f.lazy) || !f.bind) std::abort();
  std::string name = f.name;
  functions_.emplace(std::move(name), std::move(f));
}

void FunctionRegistry::AddAlias(std::string alias, std::string target) {
  if (aliases_.count(alias) || functions_.count(alias)) std::abort();
  aliases_.emplace(std::move(alias), std::move(target));
}

namespace {

std::string Where(const SourcePos& pos) {
  if (pos.line <= 0) return "";
  return std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": ";
}

}  // namespace

Status CallBinder::Error(const std::string& message) const {
  return Status::InvalidArgument(Where(expr_.pos) + message);
}

Status CallBinder::Unsupported(const std::string& message) const {
  return Status::NotSupported(Where(expr_.pos) + message);
}

Status CallBinder::CoerceToCommon(size_t from, size_t step, DataType* common_out) {
  BoundExpr& b = bound_;
  DataType common = DataType::Null();
  for (size_t i = from; i < b.args.size(); i += step) {
    auto c = CommonType(common, b.args[i].type);
    if (!c.ok()) {
      return Error("`" + expr_.function + "` arguments have incompatible types (" + common.ToString() + " and " +
                   b.args[i].type.ToString() + ") in `" + expr_.ToString() + "`");
    }
    common = *c;
  }
  for (size_t i = from; i < b.args.size(); i += step) b.args[i] = CastTo(std::move(b.args[i]), common);
  if (common_out) *common_out = common;
  return Status::OK();
}

Status CallBinder::ExpectType(size_t i, const DataType& want) {
  BoundExpr& b = bound_;
  const DataType& have = b.args[i].type;
  if (have == want) return Status::OK();
  bool ok = have.id() == TypeId::kNull || CastSupported(have, want);
  // Spark refuses implicit casts between unrelated kinds (a date where a number is wanted).
  if (want.is_numeric() && !(have.is_numeric() || have.id() == TypeId::kString || have.id() == TypeId::kNull)) ok = false;
  if (want.id() == TypeId::kBoolean && !(have.id() == TypeId::kString || have.id() == TypeId::kNull)) ok = false;
  if (want.id() == TypeId::kDate && !(have.id() == TypeId::kString || have.is_timestamp() || have.id() == TypeId::kNull)) ok = false;
  if (want.is_timestamp() && !(have.id() == TypeId::kString || have.id() == TypeId::kDate || have.is_timestamp() || have.id() == TypeId::kNull)) ok = false;
  if (!ok) {
    return Error("argument " + std::to_string(i + 1) + " of `" + expr_.function + "` must be " + want.ToString() +
                 ", got " + have.ToString() + " in `" + expr_.ToString() + "`");
  }
  b.args[i] = CastTo(std::move(b.args[i]), want);
  return Status::OK();
}

Status CallBinder::ExpectAll(size_t from, const DataType& want) {
  for (size_t i = from; i < bound_.args.size(); ++i) LP_RETURN_IF_ERROR(ExpectType(i, want));
  return Status::OK();
}

Status CallBinder::ExpectLiteral(size_t i) const {
  if (bound_.args[i].kind != BoundKind::kLiteral) {
    return Unsupported("argument " + std::to_string(i + 1) + " of `" + expr_.function + "` must be a constant in `" +
                       expr_.ToString() + "`");
  }
  return Status::OK();
}

Status CallBinder::Rebind(std::string_view name) {
  const ScalarFunction* fn = FunctionRegistry::Get().Find(name);
  if (!fn) return Status::Internal("no registered function `" + std::string(name) + "`");
  bound_.kind = BoundKind::kCall;
  bound_.fn = fn;
  bound_.function = fn->name;
  // Most functions are NULL when an argument is; bind steps that differ override it.
  bound_.nullable = false;
  for (const auto& a : bound_.args) bound_.nullable |= a.nullable;
  return fn->bind(*this);
}

void CallBinder::BecomeCast(size_t i, const DataType& to, bool try_cast) {
  BoundExpr cast;
  cast.kind = BoundKind::kCast;
  cast.type = to;
  cast.try_cast = try_cast;
  cast.pos = bound_.pos;
  cast.text = bound_.text;
  cast.nullable = true;
  cast.args.push_back(std::move(bound_.args[i]));
  bound_ = std::move(cast);
}

void CallBinder::BecomeLiteral(Value v, const DataType& type) {
  bound_.kind = BoundKind::kLiteral;
  bound_.fn = nullptr;
  bound_.function.clear();
  bound_.args.clear();
  bound_.nullable = v.is_null();
  bound_.literal = std::move(v);
  bound_.type = type;
}

}  // namespace lakepipe::expr
