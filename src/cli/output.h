// Printing rows on the terminal for the CLI commands that show data (table show, query):
// an aligned text table, CSV (RFC 4180) or JSON lines. Writes to stdout; not synchronised.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "types/batch.h"

namespace lakepipe::cli {

enum class OutputFormat { kTable, kCsv, kJsonLines };

// "table", "csv", "jsonl" (or "json"); InvalidArgument naming the choices otherwise.
Result<OutputFormat> ParseOutputFormat(const std::string& name);

// Prints every row of `batches` (all of `schema`) in `format`.
void PrintBatches(const Schema& schema, const std::vector<RecordBatch>& batches, OutputFormat format);

// An aligned text table with a header; numeric columns right-aligned where `right_align`.
void PrintTextTable(const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows,
                    const std::vector<bool>& right_align);

// Cuts a cell to `max` display characters (on a UTF-8 boundary) and makes control
// characters visible so that one row stays one line.
std::string Cell(const std::string& s, size_t max = 48);

}  // namespace lakepipe::cli
