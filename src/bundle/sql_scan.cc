#include "bundle/sql_scan.h"

#include <algorithm>
#include <memory>
#include <set>

#include "sql/lexer.h"

namespace lakepipe::bundle {
namespace {

struct Edit {
  size_t begin, end;
  std::string replacement;
};

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// The index of the `)` closing the `(` at `open`, or tokens.size().
size_t MatchingParen(const std::vector<sql::Token>& t, size_t open, size_t end) {
  int depth = 0;
  for (size_t i = open; i < end; ++i) {
    if (t[i].IsSymbol("(")) ++depth;
    if (t[i].IsSymbol(")") && --depth == 0) return i;
  }
  return t.size();
}

// read_kafka options that Databricks' read_kafka takes as lakepipe does (docs/kafka.md).
bool DatabricksKafkaOption(const std::string& name) {
  static const std::set<std::string> kOptions = {
      "bootstrapservers", "subscribe",        "subscribepattern", "assign",        "startingoffsets",
      "startingtimestamp", "maxoffsetspertrigger", "failondataloss", "groupidprefix"};
  return kOptions.count(sql::ToLower(name)) > 0;
}

// Kafka client properties spelled the same by librdkafka (lakepipe) and the Java client
// (Databricks): anything else under `kafka.` is librdkafka's name and may differ.
bool SameKafkaProperty(const std::string& property) {
  static const std::set<std::string> kSame = {
      "security.protocol", "sasl.mechanism", "client.id", "ssl.endpoint.identification.algorithm",
      "isolation.level", "request.timeout.ms", "session.timeout.ms", "fetch.max.bytes",
      "max.partition.fetch.bytes", "receive.buffer.bytes", "reconnect.backoff.ms"};
  return kSame.count(sql::ToLower(property)) > 0;
}

void ScanStatement(const std::vector<sql::Token>& t, size_t begin, size_t end, const std::string& text,
                   const sql::SourceFile& file, const std::map<std::string, std::string>& add_properties,
                   ScannedSqlFile* out, std::vector<Edit>* edits) {
  // Table functions anywhere in the statement.
  for (size_t i = begin; i + 1 < end; ++i) {
    if (!t[i + 1].IsSymbol("(")) continue;
    if (t[i].IsWord("read_postgres_cdc")) {
      out->findings.push_back({"read_postgres_cdc", file.Locate(t[i].begin)});
    }
    if (t[i].IsWord("read_kafka")) {
      size_t close = std::min(MatchingParen(t, i + 1, end), end);
      for (size_t j = i + 2; j + 1 < close; ++j) {
        if (!t[j + 1].IsSymbol("=>") || !t[j].IsIdentifier()) continue;
        const std::string& name = t[j].value;
        if (sql::ToLower(name).rfind("kafka.", 0) == 0) {
          if (!SameKafkaProperty(name.substr(6))) {
            out->findings.push_back({"read_kafka option `" + name + "`", file.Locate(t[j].begin)});
          }
        } else if (!DatabricksKafkaOption(name)) {
          out->findings.push_back({"read_kafka option " + name, file.Locate(t[j].begin)});
        }
      }
    }
  }
  // lakepipe's AUTO CDC ... FROM SNAPSHOT table SEQUENCE BY version (docs/sql-reference.md):
  // Databricks' SQL form is FROM SNAPSHOT (query) WITH VERSION (query).
  bool cdc = false;
  for (size_t i = begin; i + 1 < end; ++i) {
    cdc |= (t[i].IsWord("AUTO") && t[i + 1].IsWord("CDC")) || (t[i].IsWord("APPLY") && t[i + 1].IsWord("CHANGES"));
    if (cdc && i + 2 < end && t[i].IsWord("FROM") && t[i + 1].IsWord("SNAPSHOT") && t[i + 2].IsIdentifier() &&
        !t[i + 2].IsWord("AS") && !t[i + 2].IsWord("KEYS") && !t[i + 2].IsWord("SEQUENCE")) {
      out->findings.push_back({"AUTO CDC FROM SNAPSHOT", file.Locate(t[i + 1].begin)});
    }
  }
  if (!t[begin].IsWord("CREATE")) return;
  // CREATE [OR REFRESH] [STREAMING | MATERIALIZED] [LIVE] TABLE|VIEW name
  bool streaming = false, is_table_or_view = false;
  size_t i = begin + 1;
  for (; i < end; ++i) {
    if (t[i].IsWord("STREAMING")) streaming = true;
    if (t[i].IsWord("TABLE") || t[i].IsWord("VIEW")) {
      is_table_or_view = true;
      break;
    }
    if (!(t[i].IsWord("OR") || t[i].IsWord("REFRESH") || t[i].IsWord("STREAMING") || t[i].IsWord("MATERIALIZED") ||
          t[i].IsWord("LIVE") || t[i].IsWord("TEMPORARY"))) {
      return;  // CREATE FLOW and the like: nothing of ours inside
    }
  }
  if (!is_table_or_view || i + 1 >= end) return;
  QuarantinedTable q;
  q.table = t[i + 1].value;
  q.materialized_view = !streaming;
  q.loc = file.Locate(t[begin].begin);
  auto property = add_properties.find(sql::ToLower(q.table));
  size_t properties_open = 0;  // the `(` of TBLPROPERTIES, when the statement has one
  size_t as_begin = end < t.size() ? t[end].begin : text.size();  // where AS starts (or the statement ends)
  int depth = 0;
  for (size_t j = i + 2; j < end; ++j) {
    if (t[j].IsSymbol("(")) ++depth;
    if (t[j].IsSymbol(")")) --depth;
    if (depth == 0 && t[j].IsWord("TBLPROPERTIES") && j + 1 < end && t[j + 1].IsSymbol("(")) {
      properties_open = j + 1;
    }
    if (depth == 0 && t[j].IsWord("AS")) {
      size_t query_end = end < t.size() ? t[end].begin : text.size();
      q.query = Trim(std::string_view(text).substr(t[j].end, query_end - t[j].end));
      as_begin = t[j].begin;
      break;
    }
    if (depth == 0 && t[j].IsWord("LOCATION") && j + 1 < end && t[j + 1].IsString()) {
      out->removed_locations.push_back(file.Locate(t[j].begin));
      edits->push_back({t[j].begin, t[j + 1].end, ""});
      ++j;
      continue;
    }
    // CONSTRAINT name EXPECT (condition) ON VIOLATION QUARANTINE
    if (depth == 1 && t[j].IsWord("CONSTRAINT") && j + 3 < end && t[j + 2].IsWord("EXPECT") &&
        t[j + 3].IsSymbol("(")) {
      size_t close = MatchingParen(t, j + 3, end);
      if (close + 3 < end && t[close + 1].IsWord("ON") && t[close + 2].IsWord("VIOLATION") &&
          t[close + 3].IsWord("QUARANTINE")) {
        q.rules.emplace_back(t[j + 1].value,
                             Trim(std::string_view(text).substr(t[j + 3].end, t[close].begin - t[j + 3].end)));
        edits->push_back({t[close + 3].begin, t[close + 3].end, "DROP ROW"});
        j = close + 3;
      }
    }
  }
  if (property != add_properties.end()) {
    if (properties_open > 0) {
      size_t at = t[properties_open].end;
      edits->push_back({at, at, property->second + ", "});
    } else {
      // Before AS; for a table without a query (a flow's target), before the statement's end.
      bool at_end = as_begin == (end < t.size() ? t[end].begin : text.size());
      edits->push_back({as_begin, as_begin,
                        std::string(at_end ? " " : "") + "TBLPROPERTIES (" + property->second + ")" + (at_end ? "" : "\n")});
    }
    out->properties_added.push_back(property->first);
  }
  if (!q.rules.empty()) out->quarantined.push_back(std::move(q));
}

}  // namespace

Result<ScannedSqlFile> ScanSqlFile(const std::string& path, const std::string& text,
                                   const std::map<std::string, std::string>& add_properties) {
  auto file = std::make_shared<const sql::SourceFile>(path, text);
  LP_ASSIGN_OR_RETURN(std::vector<sql::Token> tokens, sql::Lex(sql::MappedText::Of(file)));
  ScannedSqlFile out;
  std::vector<Edit> edits;
  size_t start = 0;
  for (size_t i = 0; i <= tokens.size(); ++i) {
    if (i == tokens.size() || tokens[i].IsSymbol(";")) {
      if (i > start) ScanStatement(tokens, start, i, text, *file, add_properties, &out, &edits);
      start = i + 1;
    }
  }
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  size_t copied = 0;
  for (const Edit& e : edits) {
    out.databricks_text += text.substr(copied, e.begin - copied);
    out.databricks_text += e.replacement;
    copied = e.end;
  }
  out.databricks_text += text.substr(copied);
  return out;
}

std::string QuarantineTableSql(const QuarantinedTable& table, const std::string& file) {
  std::string names, broken;
  for (const auto& [name, condition] : table.rules) {
    names += std::string(names.empty() ? "" : ",\n                ") + "IF(NOT (" + condition + "), '" + name + "', NULL)";
    broken += std::string(broken.empty() ? "" : "\n   OR ") + "NOT (" + condition + ")";
  }
  std::string sql;
  sql += "-- " + table.table + " (" + file + ":" + std::to_string(table.loc.line) +
         "): its QUARANTINE rules are DROP ROW\n";
  sql += "-- there; this table keeps the rows they drop, with the names of the rules each broke.\n";
  sql += std::string("CREATE OR REFRESH ") + (table.materialized_view ? "MATERIALIZED VIEW " : "STREAMING TABLE ") +
         table.table + "_quarantine\n";
  sql += "COMMENT 'rows of " + table.table + " that failed a quarantine expectation'\n";
  sql += "AS SELECT *,\n       filter(array(" + names + "),\n              rule -> rule IS NOT NULL) AS _failed_constraints\n";
  sql += "FROM (\n" + table.query + "\n) AS quarantine_input\nWHERE " + broken + ";\n";
  return sql;
}

}  // namespace lakepipe::bundle
