#include "sql/cdc.h"

#include <map>
#include <set>
#include <tuple>

#include "expr/binder.h"
#include "sql/statement.h"

namespace lakepipe::sql {

namespace {

// Words that start a clause of AUTO CDC after FROM: an expression or FROM item ends there.
bool IsClauseWord(const Token& t) {
  static const char* kWords[] = {"KEYS", "IGNORE", "APPLY", "SEQUENCE", "COLUMNS", "STORED", "TRACK"};
  for (const char* w : kWords)
    if (t.IsWord(w)) return true;
  return false;
}

class FlowParser {
 public:
  FlowParser(const MappedText& text, const std::vector<Token>& toks, size_t begin, size_t end,
             const PlanOptions& options)
      : text_(text), toks_(toks), i_(begin), end_(end), options_(options) {}

  Result<FlowDefinition> Parse() {
    FlowDefinition flow;
    flow.statement = Loc(Cur());
    if (Cur().IsWord("CREATE")) {
      Advance();
      LP_RETURN_IF_ERROR(ExpectWord("FLOW"));
      if (!Cur().IsIdentifier()) return ErrorAt(Here(), "expected a flow name after CREATE FLOW, found `" + Cur().text + "`");
      flow.name = Cur().value;
      flow.loc = Loc(Cur());
      Advance();
      if (Cur().IsWord("COMMENT")) {
        Advance();
        if (!Cur().IsString()) return ErrorAt(Here(), "expected a string after COMMENT");
        flow.comment = Cur().value;
        Advance();
      }
      LP_RETURN_IF_ERROR(ExpectWord("AS"));
      if (Cur().IsWord("INSERT")) return ParseAppend(std::move(flow));
    }
    if (Cur().IsWord("AUTO")) {
      Advance();
      LP_RETURN_IF_ERROR(ExpectWord("CDC"));
    } else if (Cur().IsWord("APPLY")) {
      Advance();
      LP_RETURN_IF_ERROR(ExpectWord("CHANGES"));
    } else {
      return ErrorAt(Here(), "expected AUTO CDC, APPLY CHANGES or INSERT INTO after CREATE FLOW ... AS, found `" +
                                 Cur().text + "`");
    }
    return ParseCdc(std::move(flow));
  }

 private:
  Result<FlowDefinition> ParseAppend(FlowDefinition flow) {
    flow.kind = FlowDefinition::Kind::kAppend;
    Advance();  // INSERT
    LP_RETURN_IF_ERROR(ExpectWord("INTO"));
    if (Cur().IsWord("ONCE")) {
      flow.once = true;
      Advance();
    }
    LP_RETURN_IF_ERROR(ParseTarget(&flow.target, &flow.target_loc));
    if (!Cur().IsWord("BY")) {
      return ErrorAt(Here(), "expected BY NAME after INSERT INTO " + flow.target +
                                 " (append flows match columns by name), found `" + Cur().text + "`");
    }
    Advance();
    LP_RETURN_IF_ERROR(ExpectWord("NAME"));
    if (AtEnd()) return ErrorAt(Here(), "expected a query after BY NAME");
    MappedText query = text_.Slice(Cur().begin, toks_[end_ - 1].end);
    flow.query_sql = query.text();
    LP_ASSIGN_OR_RETURN(flow.query, PlanQuery(query, options_));
    return flow;
  }

  Result<FlowDefinition> ParseCdc(FlowDefinition flow) {
    auto spec = std::make_shared<ApplyChangesSpec>();
    flow.kind = FlowDefinition::Kind::kAutoCdc;
    if (Cur().IsWord("ONCE")) {
      spec->once = flow.once = true;
      Advance();
    }
    LP_RETURN_IF_ERROR(ExpectWord("INTO"));
    LP_RETURN_IF_ERROR(ParseTarget(&flow.target, &flow.target_loc));
    spec->target = flow.target;
    spec->target_loc = flow.target_loc;
    if (flow.name.empty()) {
      flow.name = flow.target;  // APPLY CHANGES without CREATE FLOW: the default flow
      flow.loc = flow.target_loc;
    }
    LP_RETURN_IF_ERROR(ExpectWord("FROM"));
    if (AtEnd() || IsClauseWord(Cur())) return ErrorAt(Here(), "expected the source after FROM, e.g. STREAM(changes)");
    // FROM SNAPSHOT src (Lakeflow's Python create_auto_cdc_from_snapshot_flow in SQL); a
    // table named `snapshot` is read as one when SNAPSHOT is followed by a clause, AS or
    // the end (`FROM snapshot KEYS ...`, `FROM snapshot AS s`).
    if (Cur().IsWord("SNAPSHOT") && i_ + 1 < end_ && toks_[i_ + 1].IsSymbol("(")) {
      return NotSupportedAt(Here(), "AUTO CDC ... FROM SNAPSHOT (query) WITH VERSION (query) (Databricks' form, one "
                                    "query per version) is not built; lakepipe reads one table that holds every "
                                    "snapshot: FROM SNAPSHOT table KEYS (...) SEQUENCE BY its version column "
                                    "(docs/sql-reference.md, \"AUTO CDC FROM SNAPSHOT\")");
    }
    if (Cur().IsWord("SNAPSHOT") && i_ + 1 < end_ && toks_[i_ + 1].IsIdentifier() &&
        !IsClauseWord(toks_[i_ + 1]) && !toks_[i_ + 1].IsWord("AS")) {
      spec->from_snapshot = true;
      spec->snapshot_loc = Here();
      Advance();
      if (spec->once) {
        return NotSupportedAt(spec->snapshot_loc, "AUTO CDC ONCE ... FROM SNAPSHOT is not built yet: drop ONCE (a "
                                                  "snapshot flow processes each version once, as it arrives)");
      }
    }
    size_t src_begin = i_;
    int depth = 0;
    while (!AtEnd() && !(depth == 0 && IsClauseWord(Cur()))) {
      if (Cur().IsSymbol("(")) ++depth;
      if (Cur().IsSymbol(")")) --depth;
      Advance();
    }
    MappedText source = text_.Slice(toks_[src_begin].begin, toks_[i_ - 1].end);
    spec->source_sql = source.text();
    // The flow reads its source with a plain SELECT * FROM <source>: the same planner,
    // STREAM rules and error positions as any query. A snapshot source named by itself
    // (`FROM SNAPSHOT extracts`) is read as STREAM(extracts): each snapshot row once, as
    // it is appended.
    MappedText query;
    query.set_file(text_.file());
    size_t origin = text_.OriginOf(toks_[src_begin].begin);
    bool bare_table = spec->from_snapshot && i_ == src_begin + 1 && toks_[src_begin].IsIdentifier() &&
                      !toks_[src_begin].IsWord("STREAM");
    query.AppendSynthetic(bare_table ? "SELECT * FROM STREAM(" : "SELECT * FROM ", origin);
    query.AppendMapped(text_, toks_[src_begin].begin, toks_[i_ - 1].end);
    if (bare_table) query.AppendSynthetic(")", origin);
    flow.query_sql = query.text();
    LP_ASSIGN_OR_RETURN(flow.query, PlanQuery(query, options_));

    std::set<std::string> seen;
    auto once_only = [&](const Token& t, const std::string& name) -> Status {
      if (!seen.insert(name).second) return ErrorAt(Loc(t), name + " given twice");
      return Status::OK();
    };
    while (!AtEnd()) {
      const Token& t = Cur();
      if (t.IsWord("KEYS")) {
        LP_RETURN_IF_ERROR(once_only(t, "KEYS"));
        spec->keys_loc = Loc(t);
        Advance();
        LP_ASSIGN_OR_RETURN(ColumnSelection keys, ParseColumnList("KEYS", false));
        spec->keys = keys.columns;
      } else if (t.IsWord("IGNORE")) {
        LP_RETURN_IF_ERROR(once_only(t, "IGNORE NULL UPDATES"));
        Advance();
        LP_RETURN_IF_ERROR(ExpectWord("NULL"));
        LP_RETURN_IF_ERROR(ExpectWord("UPDATES"));
        spec->ignore_null_updates = true;
      } else if (t.IsWord("APPLY")) {
        Advance();
        LP_RETURN_IF_ERROR(ExpectWord("AS"));
        bool is_delete = Cur().IsWord("DELETE");
        if (!is_delete && !Cur().IsWord("TRUNCATE")) {
          return ErrorAt(Here(), "expected DELETE or TRUNCATE after APPLY AS, found `" + Cur().text + "`");
        }
        LP_RETURN_IF_ERROR(once_only(t, is_delete ? "APPLY AS DELETE" : "APPLY AS TRUNCATE"));
        Advance();
        LP_RETURN_IF_ERROR(ExpectWord("WHEN"));
        SourceLocation loc;
        std::string sql;
        LP_ASSIGN_OR_RETURN(expr::ExprPtr e, ParseClauseExpression(is_delete ? "APPLY AS DELETE WHEN" : "APPLY AS TRUNCATE WHEN", &sql, &loc));
        if (is_delete) {
          spec->delete_when = e;
          spec->delete_sql = sql;
          spec->delete_loc = loc;
        } else {
          spec->truncate_when = e;
          spec->truncate_sql = sql;
          spec->truncate_loc = loc;
        }
      } else if (t.IsWord("SEQUENCE")) {
        LP_RETURN_IF_ERROR(once_only(t, "SEQUENCE BY"));
        Advance();
        LP_RETURN_IF_ERROR(ExpectWord("BY"));
        LP_ASSIGN_OR_RETURN(spec->sequence_by, ParseClauseExpression("SEQUENCE BY", &spec->sequence_sql, &spec->sequence_loc));
      } else if (t.IsWord("COLUMNS")) {
        LP_RETURN_IF_ERROR(once_only(t, "COLUMNS"));
        Advance();
        LP_ASSIGN_OR_RETURN(spec->columns, ParseColumnList("COLUMNS", true));
        spec->columns->loc = Loc(t);
      } else if (t.IsWord("STORED")) {
        LP_RETURN_IF_ERROR(once_only(t, "STORED AS"));
        spec->scd_loc = Loc(t);
        Advance();
        LP_RETURN_IF_ERROR(ExpectWord("AS"));
        LP_RETURN_IF_ERROR(ExpectWord("SCD"));
        LP_RETURN_IF_ERROR(ExpectWord("TYPE"));
        if (Cur().kind != TokenKind::kNumber || (Cur().text != "1" && Cur().text != "2")) {
          return ErrorAt(Here(), "expected 1 or 2 after STORED AS SCD TYPE, found `" + Cur().text + "`");
        }
        spec->scd_type = Cur().text == "1" ? 1 : 2;
        Advance();
      } else if (t.IsWord("TRACK")) {
        LP_RETURN_IF_ERROR(once_only(t, "TRACK HISTORY ON"));
        Advance();
        LP_RETURN_IF_ERROR(ExpectWord("HISTORY"));
        LP_RETURN_IF_ERROR(ExpectWord("ON"));
        LP_ASSIGN_OR_RETURN(spec->track_history, ParseColumnList("TRACK HISTORY ON", true));
        spec->track_history->loc = Loc(t);
      } else {
        return ErrorAt(Loc(t), "expected KEYS, IGNORE NULL UPDATES, APPLY AS DELETE/TRUNCATE WHEN, SEQUENCE BY, "
                               "COLUMNS, STORED AS SCD TYPE or TRACK HISTORY ON, found `" + t.text + "`");
      }
    }
    if (spec->keys.empty()) return ErrorAt(Here(), flow.name + ": AUTO CDC needs KEYS (column, ...)");
    if (spec->from_snapshot) {
      if (!spec->sequence_by) {
        return NotSupportedAt(spec->snapshot_loc, flow.name + ": AUTO CDC FROM SNAPSHOT without SEQUENCE BY (periodic "
                                                  "snapshots of a table read whole at each update) is not built yet; "
                                                  "give each snapshot a version column and add SEQUENCE BY it");
      }
      if (spec->ignore_null_updates) {
        return ErrorAt(spec->snapshot_loc, "IGNORE NULL UPDATES does not apply to FROM SNAPSHOT: a snapshot row is "
                                           "the key's whole row, NULLs included");
      }
      for (const auto& [e, loc, what] : {std::tuple{spec->delete_when, spec->delete_loc, "APPLY AS DELETE WHEN"},
                                         std::tuple{spec->truncate_when, spec->truncate_loc, "APPLY AS TRUNCATE WHEN"}}) {
        if (e) {
          return ErrorAt(loc, std::string(what) + " does not apply to FROM SNAPSHOT: a key missing from a snapshot is "
                                                  "deleted, and a snapshot has no operation column");
        }
      }
    }
    if (!spec->sequence_by) return ErrorAt(Here(), flow.name + ": AUTO CDC needs SEQUENCE BY column");
    if (spec->track_history && spec->scd_type != 2) {
      return ErrorAt(spec->track_history->loc, "TRACK HISTORY ON applies to STORED AS SCD TYPE 2 only");
    }
    if (spec->truncate_when && spec->scd_type == 2) {
      return ErrorAt(spec->truncate_loc, "APPLY AS TRUNCATE WHEN applies to SCD type 1 only (a type 2 table keeps its history)");
    }
    flow.cdc = std::move(spec);
    return flow;
  }

  Status ParseTarget(std::string* name, SourceLocation* loc) {
    if (!Cur().IsIdentifier()) return ErrorAt(Here(), "expected a table name, found `" + Cur().text + "`");
    if (Cur().IsWord("LIVE") && i_ + 1 < end_ && toks_[i_ + 1].IsSymbol(".")) {
      Advance();
      Advance();
      if (!Cur().IsIdentifier()) return ErrorAt(Here(), "expected a table name after LIVE.");
    }
    *name = Cur().value;
    *loc = Loc(Cur());
    Advance();
    if (Cur().IsSymbol(".")) return NotSupportedAt(*loc, "catalog- or schema-qualified table names (`" + *name + ".…`)");
    return Status::OK();
  }

  // `(a, b)`, `a, b`, or (when allowed) `* EXCEPT (a, b)`.
  Result<ColumnSelection> ParseColumnList(const std::string& what, bool allow_star) {
    ColumnSelection out;
    out.loc = Here();
    if (Cur().IsSymbol("*")) {
      if (!allow_star) return ErrorAt(Here(), what + " lists columns; * is not allowed");
      Advance();
      out.except = true;
      if (AtEnd() || IsClauseWord(Cur())) return out;  // `*`: every column
      LP_RETURN_IF_ERROR(ExpectWord("EXCEPT"));
    }
    bool paren = Cur().IsSymbol("(");
    if (paren) Advance();
    while (true) {
      if (!Cur().IsIdentifier()) return ErrorAt(Here(), "expected a column name in " + what + ", found `" + Cur().text + "`");
      out.columns.push_back(Cur().value);
      Advance();
      if (Cur().IsSymbol(",")) {
        Advance();
        continue;
      }
      break;
    }
    if (paren) LP_RETURN_IF_ERROR(ExpectSymbol(")"));
    return out;
  }

  Result<expr::ExprPtr> ParseClauseExpression(const std::string& what, std::string* sql, SourceLocation* loc) {
    if (AtEnd() || IsClauseWord(Cur())) return ErrorAt(Here(), "expected an expression after " + what);
    size_t b = i_;
    int depth = 0;
    while (!AtEnd() && !(depth == 0 && IsClauseWord(Cur()))) {
      if (Cur().IsSymbol("(")) ++depth;
      if (Cur().IsSymbol(")")) --depth;
      Advance();
    }
    MappedText e = text_.Slice(toks_[b].begin, toks_[i_ - 1].end);
    *sql = e.text();
    *loc = Loc(toks_[b]);
    return ParseExpression(e);
  }

  const Token& Cur() const {
    static const Token kEnd{TokenKind::kSymbol, 0, 0, "<end of statement>", ""};
    return i_ < end_ ? toks_[i_] : kEnd;
  }
  bool AtEnd() const { return i_ >= end_; }
  void Advance() { ++i_; }
  SourceLocation Loc(const Token& t) const { return text_.Locate(t.begin); }
  SourceLocation Here() const {
    if (!AtEnd()) return Loc(toks_[i_]);
    size_t off = end_ < toks_.size() ? toks_[end_].begin : (end_ > 0 ? toks_[end_ - 1].end : 0);
    return text_.Locate(off);
  }
  Status ExpectWord(const char* word) {
    if (!Cur().IsWord(word)) return ErrorAt(Here(), std::string("expected ") + word + ", found `" + Cur().text + "`");
    Advance();
    return Status::OK();
  }
  Status ExpectSymbol(const char* symbol) {
    if (!Cur().IsSymbol(symbol)) return ErrorAt(Here(), std::string("expected ") + symbol + ", found `" + Cur().text + "`");
    Advance();
    return Status::OK();
  }

  const MappedText& text_;
  const std::vector<Token>& toks_;
  size_t i_;
  size_t end_;
  PlanOptions options_;
};

// The column names `e` reads (lower case).
void ColumnsOf(const expr::Expr& e, std::set<std::string>* out) {
  if (e.kind == expr::ExprKind::kColumn) out->insert(ToLower(e.name));
  for (const auto& a : e.args)
    if (a) ColumnsOf(*a, out);
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

Result<FlowDefinition> ParseFlowStatement(const MappedText& text, const std::vector<Token>& toks, size_t begin,
                                          size_t end, const PlanOptions& options) {
  FlowParser p(text, toks, begin, end, options);
  return p.Parse();
}

Status AttachFlows(std::vector<DatasetDefinition>* datasets, const std::vector<FlowDefinition>& flows) {
  std::map<std::string, std::vector<const FlowDefinition*>> by_target;
  std::set<std::string> flow_names;
  for (const FlowDefinition& f : flows) {
    DatasetDefinition* target = nullptr;
    for (auto& d : *datasets) {
      if (EqualsIgnoreCase(d.name, f.target)) target = &d;
    }
    if (target == nullptr) {
      return ErrorAt(f.target_loc, "flow `" + f.name + "` writes to `" + f.target +
                                       "`, which is not defined; declare it: CREATE OR REFRESH STREAMING TABLE " +
                                       f.target + ";");
    }
    if (target->kind != DatasetKind::kStreamingTable) {
      return ErrorAt(f.target_loc, "flow `" + f.name + "` writes to `" + f.target + "`, a " +
                                       DatasetKindName(target->kind) + "; flows write streaming tables");
    }
    if (!flow_names.insert(ToLower(f.name)).second) return ErrorAt(f.loc, "flow `" + f.name + "` defined twice");
    by_target[ToLower(target->name)].push_back(&f);
  }
  for (auto& d : *datasets) {
    auto it = by_target.find(ToLower(d.name));
    if (it == by_target.end()) {
      if (d.declared_only) {
        return ErrorAt(d.loc, "streaming table `" + d.name +
                                  "` has no query and no flow writes to it: add AS SELECT ..., or a flow "
                                  "(CREATE FLOW f AS AUTO CDC INTO " + d.name + " ... / INSERT INTO " + d.name +
                                  " BY NAME SELECT ...)");
      }
      continue;
    }
    const auto& into = it->second;
    for (const FlowDefinition* f : into) {
      if (into.size() > 1 && f->kind == FlowDefinition::Kind::kAutoCdc && f->cdc->from_snapshot) {
        const FlowDefinition* other = into.front() == f ? into[1] : into.front();
        return NotSupportedAt(f->cdc->snapshot_loc, "`" + d.name + "` is written by the snapshot flow `" + f->name +
                                                        "` and by `" + other->name + "`: a snapshot deletes every "
                                                        "key it lacks, including the other flow's; several flows "
                                                        "into a FROM SNAPSHOT target are not built");
      }
    }
    std::vector<const FlowDefinition*> cdc_flows, append_flows;
    for (const FlowDefinition* f : into) (f->kind == FlowDefinition::Kind::kAutoCdc ? cdc_flows : append_flows).push_back(f);
    // The flow that is the table's query (checkpoint `_checkpoints/<table>/`): the table's
    // own query, else its first flow that is not ONCE, else its first flow; the others
    // are more_flows, each with its own checkpoint.
    const std::vector<const FlowDefinition*>& writers = cdc_flows.empty() ? append_flows : cdc_flows;
    const FlowDefinition* primary = nullptr;
    if (d.declared_only) {
      for (const FlowDefinition* f : writers)
        if (!f->once && primary == nullptr) primary = f;
      if (primary == nullptr) primary = writers.front();
    }
    if (!cdc_flows.empty()) {
      const FlowDefinition* cdc = cdc_flows.front();
      if (!d.declared_only) {
        return ErrorAt(cdc->target_loc, "`" + d.name + "` has its own query (AS ...); the target of AUTO CDC is "
                                        "declared without one: CREATE OR REFRESH STREAMING TABLE " + d.name + ";");
      }
      if (!append_flows.empty()) {
        const FlowDefinition& other = *append_flows.front();
        return NotSupportedAt(other.loc, "append flow `" + other.name + "` into the AUTO CDC target `" + d.name +
                                             "` (written by `" + cdc->name + "`): an appended row has no key "
                                             "sequence and no operation, so whether it replaces, precedes or follows "
                                             "a key's changes is undefined; give its rows a sequence and write them "
                                             "with a second AUTO CDC flow (CREATE FLOW " + other.name +
                                             " AS AUTO CDC INTO " + d.name + " FROM ... KEYS (...) SEQUENCE BY ...)");
      }
      if (!d.location.empty()) {
        return NotSupportedAt(d.location_loc, "LOCATION on the AUTO CDC target `" + d.name + "` is not built yet: "
                                              "its commits update and delete rows, which concurrent writers of a shared "
                                              "table would conflict on; LOCATION is for append-only streaming tables");
      }
      d.apply_changes = primary->cdc;
    }
    if (d.declared_only) {
      d.query = primary->query;
      d.query_sql = primary->query_sql;
      d.flow_name = primary->name;
      d.flow_loc = primary->loc;
      d.flow_once = primary->once;
    }
    for (const FlowDefinition* f : into) {
      if (f == primary) continue;
      if (EqualsIgnoreCase(f->name, d.name)) {
        return ErrorAt(f->loc, "flow `" + f->name + "` has the name of the table it writes; name it differently");
      }
      d.more_flows.push_back({f->name, f->loc, f->once, f->query_sql, f->query, f->cdc});
    }
  }
  return Status::OK();
}

Result<std::shared_ptr<const ResolvedApplyChanges>> ResolveApplyChanges(
    const std::shared_ptr<const ApplyChangesSpec>& spec, const std::string& flow_name, const Schema& source) {
  auto out = std::make_shared<ResolvedApplyChanges>();
  out->spec = spec;
  out->flow_name = flow_name;
  out->source_schema = source;
  auto available = [&] { return JoinNames(source.names()); };
  std::set<std::string> key_set;
  for (const auto& k : spec->keys) {
    int i = source.FindField(k);
    if (i < 0) return ErrorAt(spec->keys_loc, "KEYS column `" + k + "` is not a column of the source; it has: " + available());
    const Field& f = source.field(static_cast<size_t>(i));
    if (f.type.is_nested()) return ErrorAt(spec->keys_loc, "KEYS column `" + k + "` has nested type " + f.type.ToString());
    if (!key_set.insert(ToLower(f.name)).second) return ErrorAt(spec->keys_loc, "KEYS lists `" + k + "` twice");
    out->keys.push_back(f.name);
  }
  auto bind = [&](const expr::ExprPtr& e, const SourceLocation& loc, const std::string& what) -> Result<expr::BoundExpr> {
    auto b = expr::Bind(*e, source, {});
    if (!b.ok()) return ErrorAt(loc, what + ": " + b.status().message());
    if (b->ContainsAggregate()) return ErrorAt(loc, what + " uses an aggregate");
    return std::move(b).value();
  };
  auto orderable = [](const DataType& t) {
    TypeId id = t.id();
    return !(t.is_nested() || id == TypeId::kBinary || id == TypeId::kBoolean || id == TypeId::kNull);
  };
  const expr::Expr& sb = *spec->sequence_by;
  if (sb.kind == expr::ExprKind::kCall && (sb.function == "struct" || sb.function == "named_struct")) {
    if (sb.function == "named_struct") {
      return NotSupportedAt(spec->sequence_loc, "SEQUENCE BY named_struct(...); write struct(a, b, ...)");
    }
    if (sb.args.empty()) return ErrorAt(spec->sequence_loc, "SEQUENCE BY struct() needs at least one field");
    out->sequence_parts = sb.args;
  } else {
    out->sequence_parts = {spec->sequence_by};
  }
  std::vector<Field> seq_fields;
  for (size_t i = 0; i < out->sequence_parts.size(); ++i) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr part, bind(out->sequence_parts[i], spec->sequence_loc, "SEQUENCE BY"));
    bool ok = orderable(part.type);
    if (part.type.id() == TypeId::kStruct && out->sequence_parts.size() == 1) {
      ok = true;  // a struct column orders by its fields
      for (const Field& f : part.type.fields()) ok &= orderable(f.type);
    }
    if (!ok) {
      return ErrorAt(spec->sequence_loc, "SEQUENCE BY " + spec->sequence_sql + ": " + part.type.ToString() +
                                             " is not orderable; use numbers, strings, dates, timestamps or a struct of those");
    }
    const expr::Expr& e = *out->sequence_parts[i];
    seq_fields.push_back(Field{e.kind == expr::ExprKind::kColumn ? e.name : "col" + std::to_string(i + 1), part.type, true});
  }
  bool struct_call = sb.kind == expr::ExprKind::kCall && sb.function == "struct";
  out->sequence_type = struct_call ? DataType::Struct(seq_fields) : seq_fields[0].type;
  for (const auto& [e, loc, what] : {std::tuple{spec->delete_when, spec->delete_loc, std::string("APPLY AS DELETE WHEN")},
                                     std::tuple{spec->truncate_when, spec->truncate_loc, std::string("APPLY AS TRUNCATE WHEN")}}) {
    if (!e) continue;
    LP_ASSIGN_OR_RETURN(expr::BoundExpr b, bind(e, loc, what));
    if (b.type.id() != TypeId::kBoolean) return ErrorAt(loc, what + " is " + b.type.ToString() + ", not a boolean condition");
  }
  // A snapshot's version columns (read by SEQUENCE BY) change at every snapshot: they are
  // not target columns (every key would differ from one snapshot to the next).
  std::set<std::string> version_columns;
  if (spec->from_snapshot) {
    ColumnsOf(*spec->sequence_by, &version_columns);
    for (const auto& k : out->keys) {
      if (version_columns.count(ToLower(k))) {
        return ErrorAt(spec->sequence_loc, "SEQUENCE BY of a snapshot reads the key column `" + k +
                                               "`; it is the snapshot's version, one value per snapshot");
      }
    }
  }
  // Target columns: COLUMNS list, or every source column but the EXCEPT ones.
  std::vector<std::string> cols;
  if (spec->columns && !spec->columns->except) {
    std::set<std::string> listed;
    for (const auto& c : spec->columns->columns) {
      int i = source.FindField(c);
      if (i < 0) return ErrorAt(spec->columns->loc, "COLUMNS lists `" + c + "`, which is not a column of the source; it has: " + available());
      if (!listed.insert(ToLower(c)).second) return ErrorAt(spec->columns->loc, "COLUMNS lists `" + c + "` twice");
      if (version_columns.count(ToLower(c))) {
        return ErrorAt(spec->columns->loc, "COLUMNS lists `" + c + "`, the snapshot's version (SEQUENCE BY " +
                                               spec->sequence_sql + "), which is written as __START_AT/__END_AT "
                                               "with SCD type 2 and is not a column of the target");
      }
      cols.push_back(source.field(static_cast<size_t>(i)).name);
    }
    for (const auto& k : out->keys) {
      if (!listed.count(ToLower(k))) return ErrorAt(spec->columns->loc, "COLUMNS must include the key column `" + k + "`");
    }
  } else {
    std::set<std::string> except;
    if (spec->columns) {
      for (const auto& c : spec->columns->columns) {
        if (source.FindField(c) < 0) {
          return ErrorAt(spec->columns->loc, "COLUMNS * EXCEPT lists `" + c + "`, which is not a column of the source; it has: " + available());
        }
        if (key_set.count(ToLower(c))) return ErrorAt(spec->columns->loc, "COLUMNS * EXCEPT cannot drop the key column `" + c + "`");
        except.insert(ToLower(c));
      }
    }
    for (const Field& f : source.fields()) {
      if (!except.count(ToLower(f.name)) && !version_columns.count(ToLower(f.name))) cols.push_back(f.name);
    }
  }
  out->columns = cols;
  for (const auto& c : cols) out->target_schema.AddField(source.field(static_cast<size_t>(source.FindField(c))));
  if (spec->scd_type == 2) {
    for (const char* reserved : {"__START_AT", "__END_AT"}) {
      if (out->target_schema.FindField(reserved) >= 0) {
        return ErrorAt(spec->scd_loc, std::string("the source has a column named ") + reserved +
                                          ", which SCD type 2 writes itself; drop it with COLUMNS * EXCEPT (...)");
      }
    }
    std::set<std::string> chosen;
    if (spec->track_history) {
      for (const auto& c : spec->track_history->columns) {
        if (out->target_schema.FindField(c) < 0) {
          return ErrorAt(spec->track_history->loc, "TRACK HISTORY ON `" + c + "`: not a column of the target; it has: " +
                                                       JoinNames(out->target_schema.names()));
        }
        chosen.insert(ToLower(c));
      }
    }
    for (const auto& c : cols) {
      if (key_set.count(ToLower(c))) continue;
      bool listed = chosen.count(ToLower(c)) > 0;
      bool tracked = !spec->track_history || (spec->track_history->except ? !listed : listed);
      if (tracked) out->tracked.push_back(c);
    }
    Field start{"__START_AT", out->sequence_type, true};
    Field end{"__END_AT", out->sequence_type, true};
    out->target_schema.AddField(start);
    out->target_schema.AddField(end);
  }
  return std::shared_ptr<const ResolvedApplyChanges>(std::move(out));
}

}  // namespace lakepipe::sql
