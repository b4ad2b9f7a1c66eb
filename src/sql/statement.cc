#include "sql/statement.h"

#include <set>

#include "common/fs.h"
#include "sql/lexer.h"
#include "sql/table_properties.h"

namespace lakepipe::sql {

const char* DatasetKindName(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kStreamingTable: return "streaming table";
    case DatasetKind::kMaterializedView: return "materialized view";
    case DatasetKind::kView: return "view";
  }
  return "?";
}

const char* ViolationActionName(ViolationAction action) {
  switch (action) {
    case ViolationAction::kWarn: return "warn";
    case ViolationAction::kDropRow: return "drop row";
    case ViolationAction::kFailUpdate: return "fail update";
    case ViolationAction::kQuarantine: return "quarantine";
  }
  return "?";
}

namespace {

class StatementParser {
 public:
  StatementParser(const MappedText& text, const std::vector<Token>& toks, size_t begin, size_t end,
                  const PlanOptions& options)
      : text_(text), toks_(toks), i_(begin), end_(end), options_(options) {}

  Result<DatasetDefinition> Parse() {
    const Token& first = Cur();
    if (first.IsWord("SET")) {
      return NotSupportedAt(Loc(first), "SET statements; put the value in pipeline.yaml `configuration:` and write ${key}");
    }
    static const char* kOtherStatements[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "DROP", "ALTER",
                                             "USE", "WITH", "REFRESH", "TRUNCATE", "OPTIMIZE", "VACUUM"};
    for (const char* k : kOtherStatements) {
      if (first.IsWord(k)) {
        return NotSupportedAt(Loc(first), ToUpper(first.text) +
                                              " statements: a pipeline file only defines datasets "
                                              "(CREATE OR REFRESH STREAMING TABLE / MATERIALIZED VIEW, CREATE VIEW)");
      }
    }
    if (!first.IsWord("CREATE")) {
      return ErrorAt(Loc(first), "expected CREATE OR REFRESH STREAMING TABLE, MATERIALIZED VIEW or VIEW, found `" +
                                     first.text + "`");
    }
    DatasetDefinition def;
    def.statement = Loc(first);
    Advance();
    if (Cur().IsWord("OR")) {
      Advance();
      if (Cur().IsWord("REPLACE")) {
        return ErrorAt(Loc(Cur()), "CREATE OR REPLACE: pipelines write CREATE OR REFRESH");
      }
      LP_RETURN_IF_ERROR(ExpectWord("REFRESH"));
    }
    if (Cur().IsWord("TEMPORARY") || Cur().IsWord("TEMP")) {
      def.temporary = true;
      Advance();
    }
    const Token& kind_token = Cur();
    if (Cur().IsWord("STREAMING")) {
      Advance();
      if (Cur().IsWord("LIVE")) Advance();
      LP_RETURN_IF_ERROR(ExpectWord("TABLE"));
      def.kind = DatasetKind::kStreamingTable;
    } else if (Cur().IsWord("MATERIALIZED")) {
      Advance();
      LP_RETURN_IF_ERROR(ExpectWord("VIEW"));
      def.kind = DatasetKind::kMaterializedView;
    } else if (Cur().IsWord("LIVE")) {
      Advance();
      if (Cur().IsWord("TABLE")) {
        def.kind = DatasetKind::kMaterializedView;  // the legacy DLT spelling
      } else if (Cur().IsWord("VIEW")) {
        def.kind = DatasetKind::kView;
      } else {
        return ErrorAt(Loc(Cur()), "expected TABLE or VIEW after LIVE");
      }
      Advance();
    } else if (Cur().IsWord("VIEW")) {
      def.kind = DatasetKind::kView;
      Advance();
    } else if (Cur().IsWord("SINK")) {
      return NotSupportedAt(Loc(kind_token), "CREATE SINK");
    } else if (Cur().IsWord("TABLE")) {
      return NotSupportedAt(Loc(kind_token), "CREATE TABLE in a pipeline; write CREATE OR REFRESH STREAMING TABLE "
                                             "or CREATE OR REFRESH MATERIALIZED VIEW");
    } else if (Cur().IsWord("FUNCTION") || Cur().IsWord("SCHEMA") || Cur().IsWord("DATABASE")) {
      return NotSupportedAt(Loc(kind_token), "CREATE " + ToUpper(Cur().text));
    } else {
      return ErrorAt(Loc(kind_token), "expected STREAMING TABLE, MATERIALIZED VIEW or VIEW after CREATE, found `" +
                                          kind_token.text + "`");
    }
    if (def.temporary && def.kind != DatasetKind::kView) {
      return NotSupportedAt(def.statement, "TEMPORARY streaming tables and materialized views; use a VIEW");
    }
    LP_RETURN_IF_ERROR(ParseName(&def));
    if (Cur().IsSymbol("(")) LP_RETURN_IF_ERROR(ParseElements(&def));
    std::set<std::string> seen;
    while (!AtEnd() && !Cur().IsWord("AS")) {
      const Token& clause = Cur();
      std::string key = ToUpper(clause.text);
      if (clause.kind == TokenKind::kWord && seen.count(key)) return ErrorAt(Loc(clause), key + " given twice");
      seen.insert(key);
      if (clause.IsWord("COMMENT")) {
        Advance();
        if (!Cur().IsString()) return ErrorAt(Loc(Cur()), "expected a string after COMMENT");
        def.comment = Cur().value;
        Advance();
      } else if (clause.IsWord("PARTITIONED")) {
        if (def.kind == DatasetKind::kView) return ErrorAt(Loc(clause), "a view cannot be PARTITIONED BY");
        Advance();
        LP_RETURN_IF_ERROR(ExpectWord("BY"));
        LP_RETURN_IF_ERROR(ExpectSymbol("("));
        while (true) {
          if (!Cur().IsIdentifier()) return ErrorAt(Loc(Cur()), "expected a column name in PARTITIONED BY (...)");
          def.partition_columns.push_back(Cur().value);
          Advance();
          if (Cur().IsSymbol(",")) {
            Advance();
            continue;
          }
          LP_RETURN_IF_ERROR(ExpectSymbol(")"));
          break;
        }
      } else if (clause.IsWord("TBLPROPERTIES")) {
        if (def.kind == DatasetKind::kView) return ErrorAt(Loc(clause), "a view has no TBLPROPERTIES");
        Advance();
        LP_RETURN_IF_ERROR(ParseProperties(&def));
      } else if (clause.IsWord("CLUSTER")) {
        return NotSupportedAt(Loc(clause), "CLUSTER BY (liquid clustering); use PARTITIONED BY");
      } else if (clause.IsWord("LOCATION")) {
        // A streaming table outside the pipeline's storage, which runs of other pipelines
        // may append to as well (docs/scale-out.md); relative to the pipeline folder.
        if (def.kind != DatasetKind::kStreamingTable) {
          return NotSupportedAt(Loc(clause), "LOCATION on a materialized view or view; only a streaming table "
                                             "(append-only, so that several runs may share it) may live outside "
                                             "the pipeline's `storage` folder");
        }
        Advance();
        if (!Cur().IsString() || Cur().value.empty()) return ErrorAt(Loc(Cur()), "expected a path string after LOCATION");
        def.location = Cur().value;
        def.location_loc = Loc(Cur());
        if (def.location.find("://") != std::string::npos) {
          return NotSupportedAt(def.location_loc, "LOCATION on object storage (" + def.location +
                                                      "); give a local or mounted folder");
        }
        if (def.location[0] != '/' && !options_.base_dir.empty()) {
          def.location = JoinPath(options_.base_dir, def.location);
        }
        Advance();
      } else if (clause.IsWord("USING")) {
        return NotSupportedAt(Loc(clause), "USING <format>; pipeline tables are Delta tables");
      } else if (clause.IsWord("WITH") || clause.IsWord("MASK")) {
        return NotSupportedAt(Loc(clause), "row filters and column masks");
      } else if (clause.IsWord("SCHEDULE") || clause.IsWord("TRIGGER")) {
        return NotSupportedAt(Loc(clause), ToUpper(clause.text) + " in SQL; set per-table `triggers:` in pipeline.yaml");
      } else {
        return ErrorAt(Loc(clause), "expected COMMENT, PARTITIONED BY, TBLPROPERTIES, LOCATION or AS <query>, found `" +
                                        clause.text + "`");
      }
    }
    if (AtEnd() && def.kind == DatasetKind::kStreamingTable) {
      def.declared_only = true;  // a flow writes it (AttachFlows)
      return def;
    }
    if (AtEnd()) return ErrorAt(EndLoc(), "expected AS <query> to end the definition of `" + def.name + "`");
    Advance();  // AS
    if (AtEnd()) return ErrorAt(EndLoc(), "expected a query after AS");
    size_t qbegin = Cur().begin;
    size_t qend = toks_[end_ - 1].end;
    MappedText query = text_.Slice(qbegin, qend);
    def.query_sql = query.text();
    LP_ASSIGN_OR_RETURN(def.query, PlanQuery(query, options_));
    return def;
  }

 private:
  const Token& Cur() const {
    static const Token kEnd{TokenKind::kSymbol, 0, 0, "<end of statement>", ""};
    return i_ < end_ ? toks_[i_] : kEnd;
  }
  bool AtEnd() const { return i_ >= end_; }
  void Advance() { ++i_; }
  SourceLocation Loc(const Token& t) const {
    if (&t != &toks_[0] && t.end == 0 && t.begin == 0 && t.text == "<end of statement>") return EndLoc();
    return text_.Locate(t.begin);
  }
  SourceLocation EndLoc() const {
    size_t off = end_ < toks_.size() ? toks_[end_].begin : (end_ > 0 ? toks_[end_ - 1].end : 0);
    return text_.Locate(off);
  }
  Status ExpectWord(const char* word) {
    if (!Cur().IsWord(word)) {
      return ErrorAt(AtEnd() ? EndLoc() : Loc(Cur()), std::string("expected ") + word + ", found `" + Cur().text + "`");
    }
    Advance();
    return Status::OK();
  }
  Status ExpectSymbol(const char* symbol) {
    if (!Cur().IsSymbol(symbol)) {
      return ErrorAt(AtEnd() ? EndLoc() : Loc(Cur()), std::string("expected ") + symbol + ", found `" + Cur().text + "`");
    }
    Advance();
    return Status::OK();
  }

  Status ParseName(DatasetDefinition* def) {
    if (!Cur().IsIdentifier()) return ErrorAt(AtEnd() ? EndLoc() : Loc(Cur()), "expected a table name, found `" + Cur().text + "`");
    if (Cur().IsWord("LIVE") && i_ + 1 < end_ && toks_[i_ + 1].IsSymbol(".")) {
      Advance();
      Advance();
      if (!Cur().IsIdentifier()) return ErrorAt(Loc(Cur()), "expected a table name after LIVE.");
    }
    def->name = Cur().value;
    def->loc = Loc(Cur());
    Advance();
    if (Cur().IsSymbol(".")) {
      return NotSupportedAt(def->loc, "catalog- or schema-qualified dataset names (`" + def->name +
                                          ".…`); tables are named by the pipeline");
    }
    return Status::OK();
  }

  // Index of the ')' matching the '(' at `open`, or npos.
  size_t MatchingParen(size_t open) const {
    int depth = 0;
    for (size_t j = open; j < end_; ++j) {
      if (toks_[j].IsSymbol("(")) ++depth;
      if (toks_[j].IsSymbol(")") && --depth == 0) return j;
    }
    return std::string::npos;
  }

  Status ParseElements(DatasetDefinition* def) {
    size_t close = MatchingParen(i_);
    if (close == std::string::npos) return ErrorAt(Loc(Cur()), "unclosed ( after the table name");
    Advance();
    std::set<std::string> names;
    while (i_ < close) {
      const Token& start = Cur();
      if (start.IsWord("CONSTRAINT")) {
        Advance();
        if (!Cur().IsIdentifier()) return ErrorAt(Loc(Cur()), "expected a constraint name after CONSTRAINT");
        Expectation e;
        e.loc = Loc(start);
        e.name = Cur().value;
        Advance();
        if (Cur().IsWord("PRIMARY") || Cur().IsWord("FOREIGN") || Cur().IsWord("CHECK") || Cur().IsWord("UNIQUE")) {
          return NotSupportedAt(Loc(Cur()), ToUpper(Cur().text) + " constraints; pipelines use CONSTRAINT name EXPECT (condition)");
        }
        if (!Cur().IsWord("EXPECT")) return ErrorAt(Loc(Cur()), "expected EXPECT (condition) after CONSTRAINT " + e.name);
        Advance();
        if (!Cur().IsSymbol("(")) return ErrorAt(Loc(Cur()), "expected ( after EXPECT");
        size_t cond_close = MatchingParen(i_);
        if (cond_close == std::string::npos || cond_close > close) return ErrorAt(Loc(Cur()), "unclosed ( after EXPECT");
        if (cond_close == i_ + 1) return ErrorAt(Loc(Cur()), "EXPECT () needs a condition");
        MappedText cond = text_.Slice(toks_[i_ + 1].begin, toks_[cond_close - 1].end);
        e.condition_sql = cond.text();
        LP_ASSIGN_OR_RETURN(e.condition, ParseExpression(cond));
        i_ = cond_close + 1;
        if (Cur().IsWord("ON")) {
          Advance();
          LP_RETURN_IF_ERROR(ExpectWord("VIOLATION"));
          if (Cur().IsWord("DROP")) {
            Advance();
            LP_RETURN_IF_ERROR(ExpectWord("ROW"));
            e.action = ViolationAction::kDropRow;
          } else if (Cur().IsWord("FAIL")) {
            Advance();
            LP_RETURN_IF_ERROR(ExpectWord("UPDATE"));
            e.action = ViolationAction::kFailUpdate;
          } else if (Cur().IsWord("QUARANTINE")) {
            Advance();
            e.action = ViolationAction::kQuarantine;
          } else {
            return ErrorAt(Loc(Cur()), "expected DROP ROW, FAIL UPDATE or QUARANTINE after ON VIOLATION, found `" +
                                           Cur().text + "`");
          }
        }
        if (!names.insert(ToLower(e.name)).second) return ErrorAt(e.loc, "constraint `" + e.name + "` defined twice");
        def->expectations.push_back(std::move(e));
      } else if (start.IsWord("PRIMARY") || start.IsWord("FOREIGN")) {
        return NotSupportedAt(Loc(start), ToUpper(start.text) + " KEY constraints");
      } else if (start.IsIdentifier()) {
        ColumnDefinition col;
        col.loc = Loc(start);
        col.field.name = start.value;
        Advance();
        size_t type_begin = i_;
        int depth = 0;
        while (i_ < close) {
          const Token& t = Cur();
          if (t.IsSymbol("(") || t.IsSymbol("<")) ++depth;
          if (t.IsSymbol(")") || t.IsSymbol(">")) --depth;
          if (depth == 0 && (t.IsSymbol(",") || t.IsWord("NOT") || t.IsWord("COMMENT") || t.IsWord("GENERATED") ||
                             t.IsWord("DEFAULT") || t.IsWord("MASK") || t.IsWord("NULL"))) {
            break;
          }
          Advance();
        }
        if (i_ == type_begin) return ErrorAt(Loc(Cur()), "expected a type for column `" + col.field.name + "`");
        std::string type_text = text_.text().substr(toks_[type_begin].begin, toks_[i_ - 1].end - toks_[type_begin].begin);
        Result<DataType> type = ParseDataType(type_text);
        if (!type.ok()) return ErrorAt(Loc(toks_[type_begin]), "column `" + col.field.name + "`: " + type.status().message());
        col.field.type = *type;
        while (i_ < close && !Cur().IsSymbol(",")) {
          if (Cur().IsWord("NOT")) {
            Advance();
            LP_RETURN_IF_ERROR(ExpectWord("NULL"));
            col.field.nullable = false;
          } else if (Cur().IsWord("NULL")) {
            Advance();
          } else if (Cur().IsWord("COMMENT")) {
            Advance();
            if (!Cur().IsString()) return ErrorAt(Loc(Cur()), "expected a string after COMMENT");
            col.field.comment = Cur().value;
            Advance();
          } else {
            return NotSupportedAt(Loc(Cur()), ToUpper(Cur().text) + " in a column definition");
          }
        }
        if (!names.insert(ToLower(col.field.name)).second) return ErrorAt(col.loc, "column `" + col.field.name + "` declared twice");
        def->columns.push_back(std::move(col));
      } else {
        return ErrorAt(Loc(start), "expected a column definition or CONSTRAINT name EXPECT (...), found `" + start.text + "`");
      }
      if (Cur().IsSymbol(",")) {
        Advance();
        if (i_ == close) return ErrorAt(Loc(Cur()), "expected a column or constraint after ,");
      } else if (i_ != close) {
        return ErrorAt(Loc(Cur()), "expected , or ) found `" + Cur().text + "`");
      }
    }
    i_ = close + 1;
    return Status::OK();
  }

  Status ParseProperties(DatasetDefinition* def) {
    LP_RETURN_IF_ERROR(ExpectSymbol("("));
    while (true) {
      std::string key;
      if (Cur().IsString()) {
        key = Cur().value;
        Advance();
      } else if (Cur().IsIdentifier()) {
        key = Cur().value;
        Advance();
        while (Cur().IsSymbol(".") && i_ + 1 < end_ && toks_[i_ + 1].IsIdentifier()) {
          key += "." + toks_[i_ + 1].value;
          i_ += 2;
        }
      } else {
        return ErrorAt(Loc(Cur()), "expected a property name in TBLPROPERTIES");
      }
      if (Cur().IsSymbol("=")) Advance();
      const Token& v = Cur();
      if (!(v.IsString() || v.kind == TokenKind::kNumber || v.IsWord("true") || v.IsWord("false"))) {
        return ErrorAt(Loc(v), "expected a value for TBLPROPERTIES key `" + key + "`");
      }
      if (Status st = CheckTableProperty(key, v.value); !st.ok()) {
        return st.code() == StatusCode::kNotSupported ? NotSupportedAt(Loc(v), st.message()) : ErrorAt(Loc(v), st.message());
      }
      def->table_properties.emplace_back(key, v.value);
      Advance();
      if (Cur().IsSymbol(",")) {
        Advance();
        continue;
      }
      return ExpectSymbol(")");
    }
  }

  const MappedText& text_;
  const std::vector<Token>& toks_;
  size_t i_;
  size_t end_;
  PlanOptions options_;
};

}  // namespace

Result<SqlFileStatements> ParseSqlStatements(const SourceFilePtr& file,
                                             const std::map<std::string, std::string>& configuration,
                                             const PlanOptions& options) {
  LP_ASSIGN_OR_RETURN(MappedText text, SubstituteVariables(MappedText::Of(file), configuration));
  LP_ASSIGN_OR_RETURN(std::vector<Token> toks, Lex(text));
  SqlFileStatements out;
  size_t begin = 0;
  for (size_t i = 0; i <= toks.size(); ++i) {
    if (i < toks.size() && !toks[i].IsSymbol(";")) continue;
    if (i > begin) {
      const Token& first = toks[begin];
      bool is_flow = first.IsWord("APPLY") || first.IsWord("AUTO") ||
                     (first.IsWord("CREATE") && begin + 1 < i && toks[begin + 1].IsWord("FLOW"));
      if (is_flow) {
        LP_ASSIGN_OR_RETURN(FlowDefinition flow, ParseFlowStatement(text, toks, begin, i, options));
        out.flows.push_back(std::move(flow));
      } else {
        StatementParser parser(text, toks, begin, i, options);
        LP_ASSIGN_OR_RETURN(DatasetDefinition def, parser.Parse());
        out.datasets.push_back(std::move(def));
      }
    }
    begin = i + 1;
  }
  return out;
}

Result<std::vector<DatasetDefinition>> ParseSqlFile(const SourceFilePtr& file,
                                                    const std::map<std::string, std::string>& configuration,
                                                    const PlanOptions& options) {
  LP_ASSIGN_OR_RETURN(SqlFileStatements parsed, ParseSqlStatements(file, configuration, options));
  LP_RETURN_IF_ERROR(AttachFlows(&parsed.datasets, parsed.flows));
  return std::move(parsed.datasets);
}

}  // namespace lakepipe::sql
