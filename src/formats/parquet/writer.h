// Internals of lakepipe's Parquet writer (the public API is FileWriter in parquet.h).
//
// writer.cc owns: the mapping of a lakepipe Schema to a Parquet schema the way Spark writes
// it (3-level LIST, MAP with key_value, structs as groups, TIMESTAMP(MICROS), DATE,
// DECIMAL as INT32/INT64/FIXED_LEN_BYTE_ARRAY by precision, STRING), Dremel shredding of
// nested columns into definition/repetition levels, data page v1 with PLAIN or
// RLE_DICTIONARY values (falling back to PLAIN when the dictionary outgrows
// WriteOptions.dictionary_page_bytes), page compression, column-chunk statistics, row
// groups closed by buffered size (encoded, uncompressed bytes, as parquet-mr measures), and the footer. A whole row group is buffered in memory
// (compressed pages) and written column chunk by column chunk when it closes.
//
// Thread-safety: as FileWriter (one thread at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "formats/parquet/metadata.h"
#include "formats/parquet/parquet.h"
#include "types/schema.h"

namespace lakepipe::parquet {

// The Parquet schema (root first, depth-first) for `schema`. NotSupported for types
// Parquet cannot hold (void).
Result<std::vector<SchemaElement>> ToParquetSchema(const Schema& schema);

// Bytes of a FIXED_LEN_BYTE_ARRAY that holds every unscaled decimal of `precision`
// digits in two's complement (as Spark's minBytesForPrecision).
int DecimalBytesForPrecision(int precision);

CompressionCodec ToCodec(Compression c);

// Tests only: the hash the dictionary encoder uses for BYTE_ARRAY values, so a test can
// make every value collide. nullptr (the default) is the built-in hash. Not thread-safe:
// set it while no writer is running.
using DictionaryHashFn = uint64_t (*)(const char* data, size_t size);
extern DictionaryHashFn g_dictionary_hash_for_testing;

}  // namespace lakepipe::parquet
