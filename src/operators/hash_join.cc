#include "operators/hash_join.h"

#include "expr/eval.h"
#include "operators/filter.h"
#include "operators/key_encoder.h"

namespace lakepipe::operators {

Result<std::unique_ptr<HashJoin>> HashJoin::Make(JoinType type, const Schema& left, const Schema& right,
                                                 std::vector<expr::BoundExpr> left_keys,
                                                 std::vector<expr::BoundExpr> right_keys,
                                                 std::optional<expr::BoundExpr> residual) {
  if (left_keys.size() != right_keys.size() || left_keys.empty()) {
    return Status::InvalidArgument("a hash join needs the same number (at least one) of left and right keys");
  }
  std::unique_ptr<HashJoin> j(new HashJoin());
  for (size_t i = 0; i < left_keys.size(); ++i) {
    if (left_keys[i].type != right_keys[i].type) {
      auto common = expr::CommonType(left_keys[i].type, right_keys[i].type);
      if (!common.ok()) {
        return Status::InvalidArgument("join keys `" + left_keys[i].text + "` (" + left_keys[i].type.ToString() +
                                       ") and `" + right_keys[i].text + "` (" + right_keys[i].type.ToString() +
                                       ") cannot be compared");
      }
      left_keys[i] = expr::CastTo(std::move(left_keys[i]), *common);
      right_keys[i] = expr::CastTo(std::move(right_keys[i]), *common);
    }
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(left_keys[i].type, "join key `" + left_keys[i].text + "`"));
  }
  if (residual && residual->type.id() != TypeId::kBoolean && residual->type.id() != TypeId::kNull) {
    return Status::InvalidArgument("join condition `" + residual->text + "` is not boolean");
  }
  j->type_ = type;
  j->left_schema_ = left;
  j->right_schema_ = right;
  for (const auto& f : left.fields()) j->output_schema_.AddField(f);
  for (auto f : right.fields()) {
    if (type == JoinType::kLeft) f.nullable = true;
    j->output_schema_.AddField(f);
  }
  j->left_keys_ = std::move(left_keys);
  j->right_keys_ = std::move(right_keys);
  j->residual_ = std::move(residual);
  return j;
}

Status HashJoin::Build(const RecordBatch& right) {
  if (built_) return Status::Internal("HashJoin::Build after FinishBuild");
  if (right.num_rows() > 0) build_batches_.push_back(right);
  return Status::OK();
}

Status HashJoin::FinishBuild() {
  if (built_) return Status::Internal("HashJoin::FinishBuild called twice");
  built_ = true;
  build_ = RecordBatch::Concat(right_schema_, build_batches_);
  build_batches_.clear();
  int64_t n = build_.num_rows();
  if (n > INT32_MAX) return Status::NotSupported("a join build side of more than 2^31 rows");
  std::vector<ColumnPtr> keep;
  std::vector<const Column*> cols;
  for (const auto& k : right_keys_) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k, build_));
    cols.push_back(c.get());
    keep.push_back(std::move(c));
  }
  next_.assign(static_cast<size_t>(n), -1);
  std::string key;
  // Insert in reverse so each chain lists build rows in input order.
  for (int64_t i = n - 1; i >= 0; --i) {
    if (KeyEncoder::AnyNull(cols, i)) continue;
    KeyEncoder::Encode(cols, i, &key);
    bool inserted;
    int32_t id = table_.FindOrInsert(key, &inserted);
    if (inserted) head_.push_back(-1);
    next_[static_cast<size_t>(i)] = head_[static_cast<size_t>(id)];
    head_[static_cast<size_t>(id)] = static_cast<int32_t>(i);
  }
  return Status::OK();
}

Result<RecordBatch> HashJoin::Probe(const RecordBatch& left) {
  if (!built_) return Status::Internal("HashJoin::Probe before FinishBuild");
  int64_t n = left.num_rows();
  std::vector<ColumnPtr> keep;
  std::vector<const Column*> cols;
  for (const auto& k : left_keys_) {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(k, left));
    cols.push_back(c.get());
    keep.push_back(std::move(c));
  }
  // Candidate pairs (left row, right row); right row -1 = unmatched left row (LEFT join).
  std::vector<int32_t> left_rows, right_rows;
  std::string key;
  for (int64_t i = 0; i < n; ++i) {
    int32_t id = -1;
    if (!KeyEncoder::AnyNull(cols, i)) {
      KeyEncoder::Encode(cols, i, &key);
      id = table_.Find(key);
    }
    if (id < 0) {
      if (type_ == JoinType::kLeft && !residual_) {
        left_rows.push_back(static_cast<int32_t>(i));
        right_rows.push_back(-1);
      } else if (type_ == JoinType::kLeft) {
        left_rows.push_back(static_cast<int32_t>(i));
        right_rows.push_back(-1);
      }
      continue;
    }
    for (int32_t r = head_[static_cast<size_t>(id)]; r >= 0; r = next_[static_cast<size_t>(r)]) {
      left_rows.push_back(static_cast<int32_t>(i));
      right_rows.push_back(r);
    }
  }
  auto assemble = [&](const std::vector<int32_t>& lrows, const std::vector<int32_t>& rrows) {
    std::vector<ColumnPtr> out;
    for (size_t c = 0; c < left.num_columns(); ++c) out.push_back(MakeColumn(left.column(c).Take(lrows)));
    bool any_unmatched = false;
    for (int32_t r : rrows) any_unmatched |= r < 0;
    for (size_t c = 0; c < right_schema_.size(); ++c) {
      const Column* src = build_.num_columns() > c ? &build_.column(c) : nullptr;
      Column col(right_schema_.field(c).type);
      if (!any_unmatched && src) {
        col.AppendTake(*src, rrows.data(), static_cast<int64_t>(rrows.size()));
      } else {
        for (int32_t r : rrows) {
          if (r < 0 || !src) col.AppendNull(); else col.AppendRange(*src, r, 1);
        }
      }
      out.push_back(MakeColumn(std::move(col)));
    }
    return RecordBatch(output_schema_, std::move(out), static_cast<int64_t>(lrows.size()));
  };
  RecordBatch joined = assemble(left_rows, right_rows);
  if (!residual_) return joined;
  // Residual: keep pairs where it is TRUE; a LEFT join then re-adds left rows with no
  // surviving pair, padded with NULLs.
  LP_ASSIGN_OR_RETURN(std::vector<int32_t> pass, expr::EvaluateSelection(*residual_, joined));
  std::vector<int32_t> final_left, final_right;
  std::vector<uint8_t> matched(static_cast<size_t>(n), 0);
  for (int32_t p : pass) {
    if (right_rows[static_cast<size_t>(p)] < 0) continue;
    final_left.push_back(left_rows[static_cast<size_t>(p)]);
    final_right.push_back(right_rows[static_cast<size_t>(p)]);
    matched[static_cast<size_t>(left_rows[static_cast<size_t>(p)])] = 1;
  }
  if (type_ == JoinType::kLeft) {
    // Keep left order: merge unmatched rows in by left row index.
    std::vector<int32_t> l2, r2;
    size_t k = 0;
    for (int64_t i = 0; i < n; ++i) {
      while (k < final_left.size() && final_left[k] == i) {
        l2.push_back(final_left[k]);
        r2.push_back(final_right[k]);
        ++k;
      }
      if (!matched[static_cast<size_t>(i)]) {
        l2.push_back(static_cast<int32_t>(i));
        r2.push_back(-1);
      }
    }
    return assemble(l2, r2);
  }
  return assemble(final_left, final_right);
}

int64_t HashJoin::MemoryBytes() const {
  return build_.MemoryBytes() + table_.MemoryBytes() + static_cast<int64_t>((head_.size() + next_.size()) * 4);
}

}  // namespace lakepipe::operators
