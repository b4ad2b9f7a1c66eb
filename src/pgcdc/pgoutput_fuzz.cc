// libFuzzer entry point for the replication stream's decoding: any bytes, as one CopyData
// message of the walsender (XLogData or keepalive), must decode to a message or a Status,
// never a crash or an escaping exception. An XLogData payload is decoded as pgoutput
// both inside and outside a streamed transaction, a Relation's column types are mapped,
// and each text value of a tuple is parsed as each of a range of PostgreSQL types (what
// the CDC source does with the values of a typed column).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pgcdc/pg_type_map.h"
#include "pgcdc/pgoutput.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe::pgcdc;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto copy = DecodeCopyMessage(bytes);
  if (!copy.ok() || copy->kind != CopyMessage::kXLogData) return 0;
  for (bool in_stream : {false, true}) {
    auto message = DecodePgOutput(copy->data.payload, in_stream);
    if (!message.ok()) continue;
    for (const auto& column : message->columns) {
      PgColumnType type;
      type.oid = column.type_oid;
      type.type_modifier = column.type_modifier;
      (void)MapPgType(type);
    }
    // bool, int8, float8, numeric(12,2), date, timestamptz, uuid, jsonb, text[].
    static const PgColumnType kTypes[] = {{16, -1, 0, "boolean"},    {20, -1, 0, "bigint"},
                                          {701, -1, 0, "double"},    {1700, (12 << 16 | 2) + 4, 0, "numeric"},
                                          {1082, -1, 0, "date"},     {1184, -1, 0, "timestamptz"},
                                          {2950, -1, 0, "uuid"},     {3802, -1, 0, "jsonb"},
                                          {1009, -1, 25, "text[]"}};
    for (const Tuple* tuple : {&message->old_tuple, &message->new_tuple})
      for (const auto& value : *tuple)
        if (value.kind == TupleValue::kText)
          for (const auto& type : kTypes) (void)ParsePgText(value.data, MapPgType(type));
  }
  return 0;
}
