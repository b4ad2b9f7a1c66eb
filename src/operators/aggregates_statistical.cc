// Statistical aggregates: stddev/variance (Spark's central moments), percentile (exact,
// interpolated), percentile_approx, approx_count_distinct (HyperLogLog++).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "operators/aggregates_internal.h"
#include "operators/key_encoder.h"

namespace lakepipe::operators::internal {
namespace {

// var_samp, var_pop, stddev_samp, stddev_pop over doubles: Spark's CentralMomentAgg (count,
// mean, M2) updated per row and merged with Chan et al.'s formula. State: `$n`, `$avg`,
// `$m2` doubles.
class MomentAccumulator : public Accumulator {
 public:
  MomentAccumulator(bool sample, bool sqrt) : sample_(sample), sqrt_(sqrt) {}
  void Resize(int32_t g) override {
    size_t k = static_cast<size_t>(g);
    n_.resize(k, 0);
    avg_.resize(k, 0);
    m2_.resize(k, 0);
  }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& c = *args[0];
    if (c.type().id() == TypeId::kNull) return Status::OK();
    const double* v = c.data<double>();
    for (int64_t i = 0; i < n; ++i) {
      if (c.IsNull(i)) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      double count = n_[k] + 1;
      double delta = v[i] - avg_[k];
      double delta_n = delta / count;
      avg_[k] += delta_n;
      m2_[k] += delta * (delta - delta_n);
      n_[k] = count;
    }
    return Status::OK();
  }
  Status Finish(int32_t g, Column* out) const override {
    for (int32_t grp = 0; grp < g; ++grp) {
      size_t k = static_cast<size_t>(grp);
      double divisor = sample_ ? n_[k] - 1 : n_[k];
      if (n_[k] == 0 || divisor == 0) {
        out->AppendNull();  // Spark 3.1+: NULL, not NaN, for one row of a sample statistic
        continue;
      }
      double var = m2_[k] / divisor;
      out->Append<double>(sqrt_ ? std::sqrt(var) : var);
    }
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$n", DataType::Double(), false}, Field{name + "$avg", DataType::Double(), false},
            Field{name + "$m2", DataType::Double(), false}};
  }
  void Export(int32_t g, std::vector<Column>* out) const override {
    for (const std::vector<double>* v : {&n_, &avg_, &m2_}) {
      Column c(DataType::Double());
      c.ResizeFixed(g);
      std::copy(v->begin(), v->begin() + g, c.data<double>());
      out->push_back(std::move(c));
    }
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    const double* n2 = s[0]->data<double>();
    const double* avg2 = s[1]->data<double>();
    const double* m22 = s[2]->data<double>();
    for (int64_t i = 0; i < n; ++i) {
      if (n2[i] == 0) continue;
      size_t k = static_cast<size_t>(groups[static_cast<size_t>(i)]);
      double n1 = n_[k];
      double count = n1 + n2[i];
      double delta = avg2[i] - avg_[k];
      double delta_n = delta / count;
      avg_[k] += delta_n * n2[i];
      m2_[k] += m22[i] + delta * delta_n * n1 * n2[i];
      n_[k] = count;
    }
    return Status::OK();
  }
  int64_t MemoryBytes() const override { return static_cast<int64_t>(n_.size() * 24); }

 private:
  bool sample_;
  bool sqrt_;
  std::vector<double> n_, avg_, m2_;
};

// percentile (exact, linearly interpolated as Spark's Percentile) and percentile_approx
// (computed exactly: the smallest value whose rank reaches ceil(p * n), so its rank error
// is 0 — within any accuracy). Both keep every non-NULL value. State: `$values` array<x>.
class PercentileAccumulator : public Accumulator {
 public:
  PercentileAccumulator(DataType type, double p, bool interpolate)
      : type_(type), lists_(std::move(type)), p_(p), interpolate_(interpolate) {}
  void Resize(int32_t) override {}
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& c = *args[0];
    if (c.type().id() == TypeId::kNull) return Status::OK();
    for (int64_t i = 0; i < n; ++i) {
      if (c.IsNull(i)) continue;
      // NaN has no rank among numbers; Spark's percentile skips it, so do both forms.
      if (c.type().id() == TypeId::kDouble && std::isnan(c.data<double>()[i])) continue;
      lists_.Add(c, i, groups[static_cast<size_t>(i)]);
    }
    return Status::OK();
  }
  Status Finish(int32_t g, Column* out) const override {
    const Column& values = lists_.values();
    std::vector<std::vector<int32_t>> by_group = lists_.ByGroup(g);
    for (auto& rows : by_group) {
      if (rows.empty()) {
        out->AppendNull();
        continue;
      }
      std::stable_sort(rows.begin(), rows.end(), [&](int32_t a, int32_t b) { return CompareRows(values, a, values, b) < 0; });
      int64_t n = static_cast<int64_t>(rows.size());
      if (interpolate_) {
        double pos = p_ * static_cast<double>(n - 1);
        int64_t lo = static_cast<int64_t>(std::floor(pos)), hi = static_cast<int64_t>(std::ceil(pos));
        double a = values.data<double>()[rows[static_cast<size_t>(lo)]];
        double b = values.data<double>()[rows[static_cast<size_t>(hi)]];
        out->Append<double>(lo == hi ? a : (static_cast<double>(hi) - pos) * a + (pos - static_cast<double>(lo)) * b);
      } else {
        int64_t rank = static_cast<int64_t>(std::ceil(p_ * static_cast<double>(n)));
        int64_t at = std::clamp<int64_t>(rank - 1, 0, n - 1);
        out->AppendRange(values, rows[static_cast<size_t>(at)], 1);
      }
    }
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$values", DataType::Array(type_, false), false}};
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
  double p_;
  bool interpolate_;
};

// ---- approx_count_distinct: HyperLogLog++ ----------------------------------------------

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// XXH64 (seed 42, as Spark's HyperLogLogPlusPlus) over a value's bytes.
uint64_t XxHash64(const uint8_t* p, size_t len, uint64_t seed) {
  const uint64_t P1 = 11400714785074694791ULL, P2 = 14029467366897019727ULL, P3 = 1609587929392839161ULL,
                 P4 = 9650029242287828579ULL, P5 = 2870177450012600261ULL;
  auto read64 = [](const uint8_t* q) { uint64_t v; std::memcpy(&v, q, 8); return v; };
  auto read32 = [](const uint8_t* q) { uint32_t v; std::memcpy(&v, q, 4); return static_cast<uint64_t>(v); };
  auto round = [&](uint64_t acc, uint64_t in) { return Rotl(acc + in * P2, 31) * P1; };
  const uint8_t* end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    while (p + 32 <= end) {
      v1 = round(v1, read64(p));
      v2 = round(v2, read64(p + 8));
      v3 = round(v3, read64(p + 16));
      v4 = round(v4, read64(p + 24));
      p += 32;
    }
    h = Rotl(v1, 1) + Rotl(v2, 7) + Rotl(v3, 12) + Rotl(v4, 18);
    for (uint64_t v : {v1, v2, v3, v4}) h = (h ^ round(0, v)) * P1 + P4;
  } else {
    h = seed + P5;
  }
  h += len;
  while (p + 8 <= end) {
    h = Rotl(h ^ round(0, read64(p)), 27) * P1 + P4;
    p += 8;
  }
  if (p + 4 <= end) {
    h = Rotl(h ^ (read32(p) * P1), 23) * P2 + P3;
    p += 4;
  }
  while (p < end) {
    h = Rotl(h ^ (*p * P5), 11) * P1;
    ++p;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

// Ertl's improved raw estimator ("New cardinality estimation algorithms for HyperLogLog
// sketches", 2017): accurate from 0 to 2^64 without HLL++'s empirical bias tables.
double Sigma(double x) {
  if (x == 1) return std::numeric_limits<double>::infinity();
  double y = 1, z = x, prev;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (z != prev);
  return z;
}

double Tau(double x) {
  if (x == 0 || x == 1) return 0;
  double y = 1, z = 1 - x, prev;
  do {
    x = std::sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z != prev);
  return z / 3;
}

// One sketch of 2^p registers (a byte each) per group. State: `$registers` binary.
class HyperLogLogAccumulator : public Accumulator {
 public:
  HyperLogLogAccumulator(DataType type, int p) : type_(std::move(type)), p_(p), m_(size_t{1} << p) {}
  void Resize(int32_t g) override {
    if (static_cast<size_t>(g) * m_ > registers_.size()) registers_.resize(static_cast<size_t>(g) * m_, 0);
  }
  Status Update(const std::vector<const Column*>& args, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& c = *args[0];
    if (c.type().id() == TypeId::kNull) return Status::OK();
    const int w = c.type().fixed_width();
    for (int64_t i = 0; i < n; ++i) {
      if (c.IsNull(i)) continue;
      uint64_t h;
      if (w > 0) {
        h = XxHash64(c.raw_data().data() + i * w, static_cast<size_t>(w), 42);
      } else {
        std::string_view s = c.GetString(i);
        h = XxHash64(reinterpret_cast<const uint8_t*>(s.data()), s.size(), 42);
      }
      size_t idx = static_cast<size_t>(h >> (64 - p_));
      uint64_t rest = (h << p_) | (uint64_t{1} << (p_ - 1));  // a stop bit bounds the count
      uint8_t rank = static_cast<uint8_t>(__builtin_clzll(rest) + 1);
      uint8_t& r = registers_[static_cast<size_t>(groups[static_cast<size_t>(i)]) * m_ + idx];
      if (rank > r) r = rank;
    }
    return Status::OK();
  }
  Status Finish(int32_t g, Column* out) const override {
    const int q = 64 - p_;
    for (int32_t grp = 0; grp < g; ++grp) {
      std::vector<double> hist(static_cast<size_t>(q + 2), 0);
      const uint8_t* r = registers_.data() + static_cast<size_t>(grp) * m_;
      for (size_t j = 0; j < m_; ++j) hist[std::min<size_t>(r[j], static_cast<size_t>(q + 1))] += 1;
      double m = static_cast<double>(m_);
      if (hist[0] == m) {
        out->Append<int64_t>(0);
        continue;
      }
      double z = m * Tau(1 - hist[static_cast<size_t>(q + 1)] / m);
      for (int k = q; k >= 1; --k) z = 0.5 * (z + hist[static_cast<size_t>(k)]);
      z += m * Sigma(hist[0] / m);
      double estimate = m * m / (2 * std::log(2.0)) / z;
      out->Append<int64_t>(std::llround(estimate));
    }
    return Status::OK();
  }
  std::vector<Field> StateFields(const std::string& name) const override {
    return {Field{name + "$registers", DataType::Binary(), false}};
  }
  void Export(int32_t g, std::vector<Column>* out) const override {
    Column c(DataType::Binary());
    for (int32_t grp = 0; grp < g; ++grp) {
      c.AppendString(std::string_view(reinterpret_cast<const char*>(registers_.data()) + static_cast<size_t>(grp) * m_, m_));
    }
    out->push_back(std::move(c));
  }
  Status Merge(const std::vector<const Column*>& s, const std::vector<int32_t>& groups, int64_t n) override {
    const Column& c = *s[0];
    for (int64_t i = 0; i < n; ++i) {
      std::string_view regs = c.GetString(i);
      if (regs.size() != m_) {
        return Status::Corruption("approx_count_distinct state has " + std::to_string(regs.size()) +
                                  " registers, expected " + std::to_string(m_));
      }
      uint8_t* r = registers_.data() + static_cast<size_t>(groups[static_cast<size_t>(i)]) * m_;
      for (size_t j = 0; j < m_; ++j) r[j] = std::max(r[j], static_cast<uint8_t>(regs[j]));
    }
    return Status::OK();
  }
  int64_t MemoryBytes() const override { return static_cast<int64_t>(registers_.size()); }

 private:
  DataType type_;
  int p_;
  size_t m_;
  std::vector<uint8_t> registers_;
};

}  // namespace

Result<std::unique_ptr<Accumulator>> MakeStatistical(const expr::BoundExpr& a) {
  const std::string& fn = a.function;
  if (fn == "var_samp" || fn == "var_pop" || fn == "stddev_samp" || fn == "stddev_pop") {
    return std::unique_ptr<Accumulator>(new MomentAccumulator(fn.ends_with("_samp"), fn.starts_with("stddev")));
  }
  if (fn == "percentile" || fn == "percentile_approx") {
    double p = a.args[1].literal.double_value();
    return std::unique_ptr<Accumulator>(new PercentileAccumulator(a.args[0].type, p, fn == "percentile"));
  }
  if (fn == "approx_count_distinct") {
    double rsd = a.args.size() > 1 ? a.args[1].literal.double_value() : 0.05;
    // Spark: p = ceil(2 log2(1.106 / relativeSD)); the binder keeps it within [4, 18].
    int p = static_cast<int>(std::ceil(2.0 * std::log2(1.106 / rsd)));
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(a.args[0].type, "approx_count_distinct argument `" + a.args[0].text + "`"));
    return std::unique_ptr<Accumulator>(new HyperLogLogAccumulator(a.args[0].type, std::clamp(p, 4, 18)));
  }
  return Status::Internal("no statistical accumulator for `" + fn + "`");
}

}  // namespace lakepipe::operators::internal
