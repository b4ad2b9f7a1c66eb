// Domains of synthetic data for `lakepipe generate <domain>`: each Domain names a dataset
// (orders today; seed 003's video events and seed 004's click events later), its CSV header
// and a row generator. Adding a domain = one class implementing Domain plus one line in
// KnownDomains() (domain.cc).
//
// Determinism: a RowGenerator made from the same (seed, total_rows) appends the same bytes
// on every run and platform. Generators are single-threaded objects; Domain objects are
// immutable and thread-safe. Call order: MakeDomain -> NewGenerator -> AppendRows until
// rows_left() == 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace lakepipe::generator {

// What a generator has emitted so far, by kind (domains fill what applies to them).
struct GenerateStats {
  int64_t rows = 0;                 // data lines (the header is not counted)
  int64_t bytes = 0;                // bytes including the header
  int64_t duplicate_rows = 0;       // exact copies of the line before them
  int64_t cancellation_rows = 0;    // orders: lines of C-prefixed transactions
  int64_t missing_customer_rows = 0;// orders: empty CustomerNo
  int64_t malformed_rows = 0;       // deliberately broken lines
  int64_t transactions = 0;         // orders: distinct TransactionNo values started
};

class RowGenerator {
 public:
  virtual ~RowGenerator() = default;
  // Appends up to `max_rows` complete CSV lines (each ending in '\n') to `out`; returns how
  // many were appended (0 once all rows are out).
  virtual int64_t AppendRows(int64_t max_rows, std::string* out) = 0;
  virtual int64_t rows_left() const = 0;
  virtual const GenerateStats& stats() const = 0;
};

class Domain {
 public:
  virtual ~Domain() = default;
  virtual std::string_view name() const = 0;
  // One line for `lakepipe generate --help`, including the rates of the oddities it makes.
  virtual std::string_view description() const = 0;
  // The CSV header line, without the newline.
  virtual std::string_view header() const = 0;
  // A generator of `total_rows` data lines. Row content may depend on total_rows (dates
  // advance with the position in the file), so the same seed and count give the same file.
  virtual std::unique_ptr<RowGenerator> NewGenerator(uint64_t seed, int64_t total_rows) const = 0;
};

// Every domain name lakepipe knows, built or planned.
struct DomainInfo {
  std::string name;
  std::string description;
  bool built = false;
};
std::vector<DomainInfo> KnownDomains();

// The domain called `name`: NotSupported for a planned domain that is not built yet,
// InvalidArgument for an unknown name; both messages list the available domains.
Result<std::unique_ptr<Domain>> MakeDomain(std::string_view name);

// The header and `rows` lines as one string (tests, benchmarks).
std::string GenerateToString(const Domain& domain, uint64_t seed, int64_t rows,
                             GenerateStats* stats = nullptr);

// Writes the header and `rows` lines to `path` (created or truncated) through `fs`,
// in large chunks. `stats` (optional) receives the counts.
Status GenerateToFile(FileSystem* fs, const Domain& domain, uint64_t seed, int64_t rows,
                      const std::string& path, GenerateStats* stats = nullptr);

}  // namespace lakepipe::generator
