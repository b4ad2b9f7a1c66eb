// The PostgreSQL target of `lakepipe produce` (produce_postgres.cc): the seed-001 orders
// application writing orders with their outbox events. Called from the produce command
// when --to is a postgresql:// URI; runs on the calling thread until --limit or a signal.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace lakepipe::cli {

struct ProducePostgresArgs {
  std::string dsn;
  double rate = 100;         // orders per second
  int64_t limit = 0;         // orders; 0: until stopped
  int64_t customers = 1000;  // seeded when absent
  int64_t products = 200;
  int64_t dimension_every = 10;  // one customer/product change per this many orders (0: none)
  uint64_t seed = 1;
};

bool IsPostgresTarget(const std::string& to);
Status RunProducePostgres(const ProducePostgresArgs& args);

}  // namespace lakepipe::cli
