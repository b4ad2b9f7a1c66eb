// libFuzzer entry point for the SQL front end: any bytes, as a pipeline's SQL file, must
// parse and plan into datasets and flows or give a Status naming the place, never a crash,
// a hang or an escaping exception. `${key}` substitution is exercised with two keys.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "sql/source.h"
#include "sql/statement.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe::sql;
  static const std::map<std::string, std::string> kConfiguration = {{"landing", "/tmp/lakepipe-sql-fuzz-landing"},
                                                                    {"test_customers", "'1','2'"}};
  auto file = std::make_shared<const SourceFile>("fuzz.sql", std::string(reinterpret_cast<const char*>(data), size));
  (void)ParseSqlStatements(file, kConfiguration);
  return 0;
}
