#include "operators/hash_aggregate.h"

#include <algorithm>
#include <cmath>

#include "expr/eval.h"
#include "operators/key_encoder.h"
#include "types/decimal.h"

namespace lakepipe::operators {

HashAggregate::~HashAggregate() = default;

Result<std::unique_ptr<HashAggregate>> HashAggregate::Make(std::vector<expr::BoundExpr> keys,
                                                           std::vector<std::string> key_names,
                                                           std::vector<expr::BoundExpr> aggregates,
                                                           std::vector<std::string> aggregate_names,
                                                           std::vector<int64_t> grouping_ids) {
  std::unique_ptr<HashAggregate> agg(new HashAggregate());
  if (!grouping_ids.empty() && (keys.empty() || keys.size() > 62)) {
    return Status::InvalidArgument("grouping sets need between 1 and 62 GROUP BY keys, got " + std::to_string(keys.size()));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].ContainsAggregate()) return Status::InvalidArgument("aggregate in GROUP BY key `" + keys[i].text + "`");
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(keys[i].type, "GROUP BY key `" + keys[i].text + "`"));
    // A key left out of some grouping set is NULL in that set's rows.
    Field f{i < key_names.size() ? key_names[i] : keys[i].text, keys[i].type, keys[i].nullable || !grouping_ids.empty()};
    agg->output_schema_.AddField(f);
    agg->state_schema_.AddField(f);
    agg->group_keys_.emplace_back(keys[i].type);
  }
  if (!grouping_ids.empty()) {
    Field gid{"_grouping_id", DataType::Long(), false};
    agg->output_schema_.AddField(gid);
    agg->state_schema_.AddField(gid);
    agg->group_keys_.emplace_back(DataType::Long());
  }
  for (size_t i = 0; i < aggregates.size(); ++i) {
    const expr::BoundExpr& a = aggregates[i];
    for (const auto& arg : a.args) {
      if (arg.ContainsAggregate()) return Status::InvalidArgument("nested aggregate in `" + a.text + "`");
    }
    LP_ASSIGN_OR_RETURN(std::unique_ptr<Accumulator> acc, MakeAccumulator(a));
    std::string name = i < aggregate_names.size() ? aggregate_names[i] : a.text;
    agg->output_schema_.AddField(Field{name, a.type, a.nullable});
    for (auto& f : acc->StateFields(name)) agg->state_schema_.AddField(f);
    agg->accumulators_.push_back(std::move(acc));
    agg->aggregate_names_.push_back(name);
  }
  agg->keys_ = std::move(keys);
  agg->aggregates_ = std::move(aggregates);
  agg->grouping_ids_ = std::move(grouping_ids);
  if (agg->keys_.empty()) {
    // A global aggregate has its one group from the start.
    std::vector<int32_t> groups;
    agg->AssignGroups({}, 1, &groups);
  }
  return agg;
}

Result<int> HashAggregate::CountDistinctThrough(std::shared_ptr<SeenKeySet> pairs) {
  // A global aggregate has its one group from Make on; any other group means rows came.
  if (finished_ || table_.size() > (keys_.empty() ? 1 : 0)) {
    return Status::InvalidArgument("HashAggregate::CountDistinctThrough after rows or states were taken in");
  }
  int changed = 0;
  for (size_t a = 0; a < aggregates_.size(); ++a) {
    if (!IsCountDistinct(aggregates_[a])) continue;
    LP_ASSIGN_OR_RETURN(accumulators_[a], MakeDistinctCounter(aggregates_[a], static_cast<uint32_t>(a), pairs, &table_));
    accumulators_[a]->Resize(table_.size());
    ++changed;
  }
  if (changed == 0) return 0;
  Schema state;
  const size_t key_columns = group_keys_.size();
  for (size_t k = 0; k < key_columns; ++k) state.AddField(state_schema_.field(k));
  for (size_t a = 0; a < accumulators_.size(); ++a) {
    for (auto& f : accumulators_[a]->StateFields(aggregate_names_[a])) state.AddField(f);
  }
  state_schema_ = std::move(state);
  return changed;
}

void HashAggregate::AssignGroups(const std::vector<const Column*>& key_cols, int64_t n, std::vector<int32_t>* groups) {
  groups->resize(static_cast<size_t>(n));
  if (key_cols.empty()) {
    bool inserted;
    int32_t g = table_.FindOrInsert("", &inserted);
    std::fill(groups->begin(), groups->end(), g);
  } else {
    KeyEncoder::EncodeAll(key_cols, n, &arena_, &encoded_);
    for (int64_t i = 0; i < n; ++i) {
      bool inserted;
      int32_t g = table_.FindOrInsert(encoded_[static_cast<size_t>(i)], &inserted);
      if (inserted) {
        for (size_t k = 0; k < key_cols.size(); ++k) group_keys_[k].AppendRange(*key_cols[k], i, 1);
      }
      (*groups)[static_cast<size_t>(i)] = g;
    }
  }
  for (auto& acc : accumulators_) acc->Resize(table_.size());
}

Status HashAggregate::Push(const RecordBatch& batch) {
  if (finished_) return Status::Internal("HashAggregate::Push after Finish");
  int64_t n = batch.num_rows();
  if (n == 0) return Status::OK();
  std::vector<ColumnPtr> key_values;
  std::vector<const Column*> key_cols;
  for (const auto& k : keys_) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k, batch));
    key_cols.push_back(c.get());
    key_values.push_back(std::move(c));
  }
  std::vector<int32_t> groups;
  if (grouping_ids_.empty()) {
    AssignGroups(key_cols, n, &groups);
    for (size_t a = 0; a < aggregates_.size(); ++a) LP_RETURN_IF_ERROR(UpdateOne(a, batch, groups));
    return Status::OK();
  }
  // Grouping sets: the batch once per set, keys outside the set NULL, the id as a key.
  const size_t k = keys_.size();
  std::vector<Column> nulls;
  for (const auto& key : keys_) nulls.push_back(Column::Nulls(key.type, n));
  Column gid(DataType::Long());
  gid.ResizeFixed(n);
  for (int64_t id : grouping_ids_) {
    std::fill(gid.data<int64_t>(), gid.data<int64_t>() + n, id);
    std::vector<const Column*> cols;
    for (size_t i = 0; i < k; ++i) {
      bool grouped = ((id >> (k - 1 - i)) & 1) == 0;
      cols.push_back(grouped ? key_cols[i] : &nulls[i]);
    }
    cols.push_back(&gid);
    AssignGroups(cols, n, &groups);
    for (size_t a = 0; a < aggregates_.size(); ++a) LP_RETURN_IF_ERROR(UpdateOne(a, batch, groups));
  }
  return Status::OK();
}

Result<std::vector<ColumnPtr>> HashAggregate::EvaluateKeys(const RecordBatch& batch) const {
  if (!grouping_ids_.empty()) return Status::NotSupported("group keys of a row under GROUPING SETS (one row, several groups)");
  std::vector<ColumnPtr> out;
  for (const auto& k : keys_) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k, batch));
    out.push_back(std::move(c));
  }
  return out;
}

Status HashAggregate::UpdateOne(size_t a, const RecordBatch& batch, const std::vector<int32_t>& groups) {
  const expr::BoundExpr& call = aggregates_[a];
  std::vector<ColumnPtr> values;
  std::vector<const Column*> args;
  for (const auto& arg : call.args) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(arg, batch));
    args.push_back(c.get());
    values.push_back(std::move(c));
  }
  if (!call.filter) return accumulators_[a]->Update(args, groups, batch.num_rows());
  LP_ASSIGN_OR_RETURN(ColumnPtr keep, expr::Evaluate(*call.filter, batch));
  std::vector<int32_t> rows;
  if (keep->type().id() == TypeId::kBoolean) {
    const uint8_t* v = keep->data<uint8_t>();
    for (int64_t i = 0; i < batch.num_rows(); ++i) {
      if (keep->IsValid(i) && v[i]) rows.push_back(static_cast<int32_t>(i));
    }
  }
  if (rows.empty()) return Status::OK();
  std::vector<Column> kept;
  kept.reserve(args.size());
  std::vector<const Column*> kept_args;
  for (const Column* c : args) {
    kept.push_back(c->Take(rows));
    kept_args.push_back(&kept.back());
  }
  std::vector<int32_t> kept_groups(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) kept_groups[i] = groups[static_cast<size_t>(rows[i])];
  return accumulators_[a]->Update(kept_args, kept_groups, static_cast<int64_t>(rows.size()));
}

Result<std::vector<RecordBatch>> HashAggregate::Finish() {
  if (finished_) return Status::Internal("HashAggregate::Finish called twice");
  finished_ = true;
  return CurrentResult();
}

// Accumulator::Finish only reads the state, so the result can be taken at any time.
Result<std::vector<RecordBatch>> HashAggregate::CurrentResult() const {
  int32_t g = table_.size();
  std::vector<Column> cols;
  for (auto& k : group_keys_) cols.push_back(k);
  for (size_t a = 0; a < accumulators_.size(); ++a) {
    Column out(aggregates_[a].type);
    LP_RETURN_IF_ERROR(accumulators_[a]->Finish(g, &out));
    cols.push_back(std::move(out));
  }
  std::vector<ColumnPtr> ptrs;
  for (auto& c : cols) ptrs.push_back(MakeColumn(std::move(c)));
  std::vector<RecordBatch> out;
  out.emplace_back(output_schema_, std::move(ptrs), g);
  return out;
}

Result<RecordBatch> HashAggregate::ExportState() const {
  int32_t g = table_.size();
  std::vector<Column> cols;
  for (const auto& k : group_keys_) cols.push_back(k);
  for (const auto& acc : accumulators_) acc->Export(g, &cols);
  std::vector<ColumnPtr> ptrs;
  for (auto& c : cols) ptrs.push_back(MakeColumn(std::move(c)));
  return RecordBatch(state_schema_, std::move(ptrs), g);
}

Status HashAggregate::MergeState(const RecordBatch& state) {
  if (finished_) return Status::Internal("HashAggregate::MergeState after Finish");
  if (state.num_columns() != state_schema_.size()) {
    return Status::InvalidArgument("aggregate state has " + std::to_string(state.num_columns()) + " columns, expected " +
                                   std::to_string(state_schema_.size()) + " (" + state_schema_.ToDDL() + ")");
  }
  for (size_t i = 0; i < state.num_columns(); ++i) {
    if (state.column(i).type() != state_schema_.field(i).type) {
      return Status::InvalidArgument("aggregate state column `" + state_schema_.field(i).name + "` is " +
                                     state.column(i).type().ToString() + ", expected " + state_schema_.field(i).type.ToString());
    }
  }
  int64_t n = state.num_rows();
  std::vector<const Column*> key_cols;
  for (size_t k = 0; k < num_key_columns(); ++k) key_cols.push_back(&state.column(k));
  std::vector<int32_t> groups;
  AssignGroups(key_cols, n, &groups);
  size_t at = num_key_columns();
  for (size_t a = 0; a < accumulators_.size(); ++a) {
    size_t width = accumulators_[a]->StateFields("x").size();
    std::vector<const Column*> s;
    for (size_t i = 0; i < width; ++i) s.push_back(&state.column(at + i));
    at += width;
    LP_RETURN_IF_ERROR(accumulators_[a]->Merge(s, groups, n));
  }
  return Status::OK();
}

int64_t HashAggregate::MemoryBytes() const {
  int64_t b = table_.MemoryBytes();
  for (const auto& k : group_keys_) b += k.MemoryBytes();
  for (const auto& a : accumulators_) b += a->MemoryBytes();
  return b;
}

}  // namespace lakepipe::operators
