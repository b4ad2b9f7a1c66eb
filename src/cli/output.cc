#include "cli/output.h"

#include <algorithm>
#include <cstdio>

#include "formats/csv/csv_writer.h"
#include "formats/json/json_writer.h"

namespace lakepipe::cli {
namespace {

size_t DisplayWidth(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

}  // namespace

Result<OutputFormat> ParseOutputFormat(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "jsonl" || name == "json") return OutputFormat::kJsonLines;
  return Status::InvalidArgument("unknown --format '" + name + "' (table, csv or jsonl)");
}

std::string Cell(const std::string& s, size_t max) {
  std::string out;
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (w == max) {
        out += "...";
        return out;
      }
      ++w;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

void PrintTextTable(const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows,
                    const std::vector<bool>& right_align) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = DisplayWidth(header[c]);
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], DisplayWidth(r[c]));
  }
  std::string rule = "+";
  for (size_t w : width) rule += std::string(w + 2, '-') + "+";
  auto line = [&](const std::vector<std::string>& cells, bool is_header) {
    std::string s = "|";
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string& v = c < cells.size() ? cells[c] : std::string();
      size_t pad = width[c] - DisplayWidth(v);
      bool right = !is_header && c < right_align.size() && right_align[c];
      s += " " + (right ? std::string(pad, ' ') + v : v + std::string(pad, ' ')) + " |";
    }
    std::puts(s.c_str());
  };
  std::puts(rule.c_str());
  line(header, true);
  std::puts(rule.c_str());
  for (const auto& r : rows) line(r, false);
  std::puts(rule.c_str());
}

void PrintBatches(const Schema& schema, const std::vector<RecordBatch>& batches, OutputFormat format) {
  std::string out;
  if (format == OutputFormat::kCsv) {
    csv::CsvWriteOptions o;
    csv::AppendCsvHeader(schema, o, &out);
    for (const auto& b : batches) csv::AppendCsvRows(b, o, &out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return;
  }
  if (format == OutputFormat::kJsonLines) {
    for (const auto& b : batches) json::AppendJsonLines(b, json::JsonWriteOptions{}, &out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return;
  }
  std::vector<std::string> header;
  std::vector<bool> right;
  for (const auto& f : schema.fields()) {
    header.push_back(f.name);
    right.push_back(f.type.is_numeric());
  }
  std::vector<std::vector<std::string>> cells;
  std::string text;
  for (const auto& b : batches) {
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::vector<std::string> row;
      for (size_t c = 0; c < b.num_columns(); ++c) {
        const Column& col = b.column(c);
        if (col.IsNull(r)) {
          row.push_back("NULL");
          continue;
        }
        text.clear();
        csv::AppendCsvValueText(col, r, &text);
        row.push_back(Cell(text));
      }
      cells.push_back(std::move(row));
    }
  }
  PrintTextTable(header, cells, right);
}

}  // namespace lakepipe::cli
