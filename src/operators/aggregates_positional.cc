// Aggregates whose result depends on the order of the rows: first, last, any_value,
// max_by, min_by (ties keep the earlier row), collect_list. Merge treats the merged state
// as coming after the current one, which is the order of an incremental view's batches.
#include <algorithm>

#include "operators/aggregates_internal.h"

namespace lakepipe::operators::internal {
namespace {

bool IgnoreNulls(const expr::BoundExpr& call) {
  return call.args.size() > 1 && call.args[1].is_literal() && !call.args[1].literal.is_null() &&
         call.args[1].literal.bool_value();
}

// first / any_value (keep the first row's value) and last (keep the latest). State:
// `$value` and `$set` (whether a row was seen: a NULL value is a result too unless
// ignoreNulls).
class FirstLastAccumulator : public Accumulator {
 public:
  FirstLastAccumulator(DataType type, bool last, bool ignore_nulls)
      : values_(std::move(type)), last_(last), ignore_nulls_(ignore_nulls) {}
  void Resize(int32_t g) override { values_.Resize(g); }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& c = *args[0];
    bool all_null = c.type().id() == TypeId::kNull;
    for (int64_t i = 0; i < n; ++i) {
      if (ignore_nulls_ && (all_null || c.IsNull(i))) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      if (!last_ && values_.has(k)) continue;
      values_.Set(k, c, i);
    }
    return Status::OK();
  }
  Status Finish(int32_t g, Column* out) const override {
    for (int32_t k = 0; k < g; ++k) values_.AppendTo(static_cast<size_t>(k), out);
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$value", values_.type(), true}, Field{name + "$set", DataType::Boolean(), false}};
  }
  void Export(int32_t g, std::vector<Column>* out) const override {
    Column value(values_.type()), set(DataType::Boolean());
    for (int32_t k = 0; k < g; ++k) {
      values_.AppendTo(static_cast<size_t>(k), &value);
      set.AppendBool(values_.has(static_cast<size_t>(k)));
    }
    out->push_back(std::move(value));
    out->push_back(std::move(set));
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& value = *s[0];
    const uint8_t* set = s[1]->data<uint8_t>();
    for (int64_t i = 0; i < n; ++i) {
      if (s[1]->IsNull(i) || !set[i]) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      if (!last_ && values_.has(k)) continue;
      values_.Set(k, value, i);
    }
    return Status::OK();
  }
  int64_t MemoryBytes() const override { return values_.MemoryBytes(); }

 private:
  GroupValues values_;
  bool last_;
  bool ignore_nulls_;
};

// max_by(x, ord) / min_by(x, ord): x of the row with the largest (smallest) ord; rows
// with a NULL ord are skipped; on ties the earlier row wins (Spark compares strictly).
// State: `$value`, `$ord` (NULL: no row yet).
class MaxByAccumulator : public Accumulator {
 public:
  MaxByAccumulator(DataType value, DataType ord, bool max) : values_(std::move(value)), ords_(std::move(ord)), max_(max) {}
  void Resize(int32_t g) override {
    values_.Resize(g);
    ords_.Resize(g);
  }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    Fold(*args[0], *args[1], groups, n);
    return Status::OK();
  }
  Status Finish(int32_t g, Column* out) const override {
    for (int32_t k = 0; k < g; ++k) values_.AppendTo(static_cast<size_t>(k), out);
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$value", values_.type(), true}, Field{name + "$ord", ords_.type(), true}};
  }
  void Export(int32_t g, std::vector<Column>* out) const override {
    Column value(values_.type()), ord(ords_.type());
    for (int32_t k = 0; k < g; ++k) {
      values_.AppendTo(static_cast<size_t>(k), &value);
      ords_.AppendTo(static_cast<size_t>(k), &ord);
    }
    out->push_back(std::move(value));
    out->push_back(std::move(ord));
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    Fold(*s[0], *s[1], groups, n);
    return Status::OK();
  }
  int64_t MemoryBytes() const override { return values_.MemoryBytes() + ords_.MemoryBytes(); }

 private:
  void Fold(const Column& value, const Column& ord, const std::vector<int32_t>& groups, int64_t n) {
    if (ord.type().id() == TypeId::kNull) return;
    for (int64_t i = 0; i < n; ++i) {
      if (ord.IsNull(i)) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      if (ords_.has(k)) {
        int c = ords_.Compare(k, ord, i);  // stored vs new
        if (max_ ? c >= 0 : c <= 0) continue;
      }
      ords_.Set(k, ord, i);
      values_.Set(k, value, i);
    }
  }
  GroupValues values_;
  GroupValues ords_;
  bool max_;
};

// collect_list(x): the non-NULL values in arrival order. State: `$list` array<x>.
class CollectListAccumulator : public Accumulator {
 public:
  explicit CollectListAccumulator(DataType type) : type_(type), lists_(std::move(type)) {}
  void Resize(int32_t g) override { groups_ = g; }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& c = *args[0];
    if (c.type().id() == TypeId::kNull) return Status::OK();
    for (int64_t i = 0; i < n; ++i) {
      if (!c.IsNull(i)) lists_.Add(c, i, groups[static_cast<size_t>(i)]);
    }
    return Status::OK();
  }
  Status Finish(int32_t g, Column* out) const override {
    *out = lists_.ToArrays(g);
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$list", DataType::Array(type_, false), false}};
  }
  void Export(int32_t g, std::vector<Column>* out) const override { out->push_back(lists_.ToArrays(g)); }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    lists_.AddArrays(*s[0], groups, n);
    return Status::OK();
  }
  int64_t MemoryBytes() const override { return lists_.MemoryBytes(); }

 private:
  DataType type_;
  GroupLists lists_;
  int32_t groups_ = 0;
};

}  // namespace

Result<std::unique_ptr<Accumulator>> MakePositional(const expr::BoundExpr& a) {
  const std::string& fn = a.function;
  const DataType& t = a.args[0].type;
  if (fn == "first" || fn == "any_value" || fn == "last") {
    return std::unique_ptr<Accumulator>(new FirstLastAccumulator(t, fn == "last", IgnoreNulls(a)));
  }
  if (fn == "max_by" || fn == "min_by") {
    return std::unique_ptr<Accumulator>(new MaxByAccumulator(t, a.args[1].type, fn == "max_by"));
  }
  if (fn == "collect_list") return std::unique_ptr<Accumulator>(new CollectListAccumulator(t));
  return Status::Internal("no positional accumulator for `" + fn + "`");
}

}  // namespace lakepipe::operators::internal
