// libFuzzer entry point for what a pipeline does with a Kafka message's bytes: any value,
// as BINARY cast to STRING (examples/orders-kafka), parsed by from_json into a flat, a
// nested and an array schema (PERMISSIVE with the corrupt-record field, and FAILFAST, which
// must fail as a Status), queried with get_json_object and schema_of_json, and written back
// with to_json. Lines of the input are separate messages of one batch. Any outcome but a
// crash, a sanitizer report or an escaping exception is fine.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "expr/test_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe;
  using namespace lakepipe::expr::test;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::vector<std::vector<Value>> rows;
  size_t start = 0;
  while (start <= bytes.size() && rows.size() < 64) {
    size_t nl = bytes.find('\n', start);
    if (nl == std::string_view::npos) nl = bytes.size();
    rows.push_back({Value::Binary(std::string(bytes.substr(start, nl - start)))});
    start = nl + 1;
  }
  RecordBatch batch = MakeBatch("value BINARY", rows);
  expr::ExprPtr text = CastAs(Col("value"), "STRING");
  static const char* kSchemas[] = {
      "TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING, Price DOUBLE, Quantity INT, "
      "CustomerNo STRING, Country STRING",
      "id BIGINT, at TIMESTAMP, day DATE, amount DECIMAL(12,2), ok BOOLEAN, "
      "post STRUCT<institution: STRUCT<name: STRING, city: STRING>, tags: ARRAY<STRING>>, m MAP<STRING, DOUBLE>, "
      "_corrupt_record STRING",
      "ARRAY<STRUCT<n: INT, s: STRING>>",
  };
  for (const char* schema : kSchemas) {
    auto parsed = Eval(Call("from_json", {text, Str(schema)}), batch);
    if (parsed.ok()) {
      (void)Eval(Call("to_json", {Call("from_json", {text, Str(schema)})}), batch);
    }
  }
  (void)Eval(Call("from_json", {text, Str("a INT, b STRING"),
                                Call("map", {Str("mode"), Str("FAILFAST")})}),
             batch);
  for (const char* path : {"$.post.institution.name", "$.items[0].n", "$['a b']", "$.*"}) {
    (void)Eval(Call("get_json_object", {text, Str(path)}), batch);
  }
  for (const auto& row : rows) {
    std::string s = row[0].ToString();
    if (s.size() <= 4096) (void)Eval1(Call("schema_of_json", {Str(s)}));
  }
  return 0;
}
