#include "sql/select.h"

#include <pg_query.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "expr/aggregate_functions.h"
#include "expr/generator.h"
#include "formats/json/json_value.h"
#include "sql/lexer.h"
#include "sql/rewrite.h"
#include "sql/stream_source.h"
#include "types/decimal.h"

namespace lakepipe::sql {

using expr::Expr;
using expr::ExprPtr;
using json = nlohmann::json;

namespace {

// Deepest expression accepted (docs/sql-reference.md). Far beyond hand-written SQL; small
// enough that every recursive pass over the tree stays well inside a thread's stack.
constexpr int kMaxExpressionDepth = 500;

// Aggregates Spark has that lakepipe does not run yet (expr/aggregate_functions.h lists
// those it runs): named in a "not built yet" error rather than passed on as unknown scalar
// functions.
bool IsUnbuiltAggregate(const std::string& name) {
  static const std::set<std::string> kNames = {
      "median", "mode", "corr", "covar_pop", "covar_samp", "bool_and", "bool_or", "every", "some",
      "any", "string_agg", "listagg", "bit_and", "bit_or", "bit_xor", "kurtosis", "skewness",
      "histogram_numeric", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2",
      "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "try_avg", "try_sum", "count_min_sketch",
      "hll_sketch_agg", "hll_union_agg", "approx_top_k", "percentile_cont", "percentile_disc"};
  return kNames.count(name) > 0;
}

// grouping(c) / grouping_id(c, ...): functions of the grouping set a row belongs to, valid
// only above a GROUP BY (planned over its `_grouping_id` column).
bool IsGroupingCall(const Expr& e) {
  return e.kind == expr::ExprKind::kCall && (e.function == "grouping" || e.function == "grouping_id");
}

const std::set<std::string>& MetadataFields() {
  static const std::set<std::string> kFields = {"file_path", "file_name", "file_size",
                                                "file_modification_time", "file_block_start",
                                                "file_block_length"};
  return kFields;
}

// Collapses "a/./b", "a//b" and a trailing "/." (keeps "..": symlinks make it unsafe).
std::string NormalizePath(const std::string& p) {
  std::string out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t slash = p.find('/', i);
    if (slash == std::string::npos) slash = p.size();
    std::string part = p.substr(i, slash - i);
    if (part == "." || (part.empty() && i != 0)) {
      // skip
    } else {
      if (!out.empty() && out.back() != '/') out += "/";
      out += part.empty() ? "/" : part;
    }
    i = slash + 1;
  }
  return out.empty() ? "." : out;
}

std::string NodeType(const json& n) {
  if (!n.is_object() || n.empty()) return "";
  return n.begin().key();
}
const json& Body(const json& n) { return n.begin().value(); }

std::string Sval(const json& string_node) {
  // {"String": {"sval": "x"}}
  if (NodeType(string_node) != "String") return "";
  return Body(string_node).value("sval", "");
}

std::string ExprKey(const ExprPtr& e) { return ToLower(e->ToString()); }

bool SameColumn(const Expr& a, const Expr& b) {
  if (a.kind != expr::ExprKind::kColumn || b.kind != expr::ExprKind::kColumn) return false;
  if (!EqualsIgnoreCase(a.name, b.name)) return false;
  return a.qualifier.empty() || b.qualifier.empty() || EqualsIgnoreCase(a.qualifier, b.qualifier);
}

class Planner {
 public:
  Planner(const RewrittenSql& rw, const PlanOptions& options) : rw_(rw), text_(rw.text), options_(options) {}

  Result<PlanPtr> PlanTop(const json& stmt) {
    LP_ASSIGN_OR_RETURN(PlanPtr plan, PlanSelect(stmt));
    LP_RETURN_IF_ERROR(CheckAllConsumed());
    return plan;
  }

  Result<ExprPtr> TranslateTopExpr(const json& node) {
    LP_ASSIGN_OR_RETURN(ExprPtr e, Translate(node));
    LP_RETURN_IF_ERROR(CheckAllConsumed());
    return e;
  }

  SourceLocation Loc(int offset) const {
    if (offset < 0) return text_.Locate(0);
    return text_.Locate(static_cast<size_t>(offset));
  }
  SourceLocation LocOf(const json& body, int fallback = -1) const {
    return Loc(body.value("location", fallback));
  }
  expr::SourcePos Pos(const SourceLocation& loc) const { return {loc.line, loc.column}; }
  expr::SourcePos PosOf(const json& body) const { return Pos(LocOf(body)); }

 private:
  struct MetadataRef {
    std::string qualifier;
    std::string field;
    SourceLocation loc;
  };
  // Per SELECT level: the read_files scans of its FROM clause and the _metadata fields used.
  struct Level {
    std::vector<std::shared_ptr<PlanNode>> read_files_scans;
    std::vector<MetadataRef> metadata_refs;
  };

  Status CheckAllConsumed() {
    for (size_t off : rw_.streaming_refs) {
      if (!consumed_streams_.count(off)) {
        return NotSupportedAt(Loc(static_cast<int>(off)), "STREAM over a subquery; write STREAM(table) or STREAM read_files(...)");
      }
    }
    for (const auto& [off, wm] : rw_.watermarks) {
      if (!consumed_watermarks_.count(off)) {
        return NotSupportedAt(wm.loc, "WATERMARK on a subquery or join; put it right after a table name or read_files(...)");
      }
    }
    for (const auto& [off, opts] : rw_.table_options) {
      if (!consumed_options_.count(off)) {
        return NotSupportedAt(opts.loc, "WITH (...) options on a subquery or join; put them right after STREAM(table)");
      }
    }
    for (const auto& [off, cols] : rw_.star_excepts) {
      if (!consumed_excepts_.count(off)) {
        return ErrorAt(Loc(static_cast<int>(off)), "* EXCEPT (...) is only allowed in a SELECT list");
      }
    }
    return Status::OK();
  }

  // ---- queries -----------------------------------------------------------------------

  Result<PlanPtr> PlanSelect(const json& select_node) {
    const json& s = NodeType(select_node) == "SelectStmt" ? Body(select_node) : select_node;
    auto saved_ctes = ctes_;
    if (s.contains("withClause")) {
      const json& w = s["withClause"];
      if (w.value("recursive", false)) return NotSupportedAt(LocOf(w), "WITH RECURSIVE");
      for (const json& cte_node : w.value("ctes", json::array())) {
        const json& cte = Body(cte_node);
        LP_ASSIGN_OR_RETURN(PlanPtr q, PlanSelect(cte["ctequery"]));
        auto alias = std::make_shared<PlanNode>();
        alias->kind = PlanKind::kSubqueryAlias;
        alias->loc = LocOf(cte);
        alias->alias = cte.value("ctename", "");
        alias->inputs.push_back(q);
        ctes_[ToLower(alias->alias)] = alias;
      }
    }
    Result<PlanPtr> result = PlanSelectBody(s);
    ctes_ = saved_ctes;
    return result;
  }

  Result<PlanPtr> PlanSelectBody(const json& s) {
    std::string op = s.value("op", "SETOP_NONE");
    PlanPtr plan;
    std::vector<ProjectItem> outputs;  // for ORDER BY by name/ordinal
    if (op != "SETOP_NONE") {
      if (op != "SETOP_UNION") {
        return NotSupportedAt(FirstLoc(s), op == "SETOP_INTERSECT" ? "INTERSECT" : "EXCEPT (set difference)");
      }
      LP_ASSIGN_OR_RETURN(PlanPtr left, PlanSelect(s["larg"]));
      LP_ASSIGN_OR_RETURN(PlanPtr right, PlanSelect(s["rarg"]));
      auto u = std::make_shared<PlanNode>();
      u->kind = PlanKind::kUnionAll;
      u->loc = left->loc;
      for (const PlanPtr& side : {left, right}) {
        if (side->kind == PlanKind::kUnionAll) {
          for (const auto& in : side->inputs) u->inputs.push_back(in);
        } else {
          u->inputs.push_back(side);
        }
      }
      plan = u;
      if (!s.value("all", false)) plan = Wrap(PlanKind::kDistinct, plan);
    } else {
      LP_ASSIGN_OR_RETURN(plan, PlanSimpleSelect(s, &outputs));
    }
    if (s.contains("sortClause")) {
      auto sort = std::make_shared<PlanNode>();
      sort->kind = PlanKind::kSort;
      sort->loc = plan->loc;
      for (const json& sb_node : s["sortClause"]) {
        const json& sb = Body(sb_node);
        SortKey key;
        const json& n = sb["node"];
        if (NodeType(n) == "A_Const" && Body(n).contains("ival")) {
          LP_ASSIGN_OR_RETURN(int64_t ordinal, IntConst(Body(n)));
          // Positions are resolved against the output columns once `*` is expanded (resolve.cc).
          if (ordinal < 1 || ordinal > 100000) {
            return ErrorAt(LocOf(Body(n)), "ORDER BY position " + std::to_string(ordinal) + " is not in the select list");
          }
          key.ordinal = static_cast<int>(ordinal);
          key.loc = LocOf(Body(n));
        } else {
          LP_ASSIGN_OR_RETURN(ExprPtr e, Translate(n));
          key.expr = e;
          for (const ProjectItem& item : outputs) {
            if (!item.is_star && item.expr && ExprKey(item.expr) == ExprKey(e) &&
                e->kind != expr::ExprKind::kColumn) {
              key.expr = Expr::Column(item.name, "", e->pos);
            }
          }
        }
        std::string dir = sb.value("sortby_dir", "SORTBY_DEFAULT");
        if (dir == "SORTBY_USING") return NotSupportedAt(LocOf(sb), "ORDER BY ... USING");
        key.ascending = dir != "SORTBY_DESC";
        std::string nulls = sb.value("sortby_nulls", "SORTBY_NULLS_DEFAULT");
        key.nulls_first = nulls == "SORTBY_NULLS_DEFAULT" ? key.ascending : nulls == "SORTBY_NULLS_FIRST";
        sort->sort_keys.push_back(key);
      }
      sort->inputs.push_back(plan);
      plan = sort;
    }
    if (s.contains("limitOffset")) return NotSupportedAt(LocOf(Body(s["limitOffset"])), "OFFSET");
    if (s.contains("limitCount")) {
      const json& n = s["limitCount"];
      if (NodeType(n) != "A_Const" || !Body(n).contains("ival")) {
        if (NodeType(n) == "A_Const" && Body(n).value("isnull", false)) {
          // LIMIT ALL / LIMIT NULL: no limit
        } else {
          return ErrorAt(LocOf(Body(n)), "LIMIT needs an integer constant");
        }
      } else {
        LP_ASSIGN_OR_RETURN(int64_t limit, IntConst(Body(n)));
        if (limit < 0) return ErrorAt(LocOf(Body(n)), "LIMIT must not be negative");
        auto l = std::make_shared<PlanNode>();
        l->kind = PlanKind::kLimit;
        l->loc = LocOf(Body(n));
        l->limit = limit;
        l->inputs.push_back(plan);
        plan = l;
      }
    }
    if (s.value("limitOption", "LIMIT_OPTION_DEFAULT") == "LIMIT_OPTION_WITH_TIES") {
      return NotSupportedAt(plan->loc, "FETCH ... WITH TIES");
    }
    return plan;
  }

  SourceLocation FirstLoc(const json& s) {
    if (s.contains("targetList") && !s["targetList"].empty()) return LocOf(Body(s["targetList"][0]));
    if (s.contains("larg")) return FirstLoc(s["larg"]);
    return Loc(0);
  }

  PlanPtr Wrap(PlanKind kind, PlanPtr input) {
    auto n = std::make_shared<PlanNode>();
    n->kind = kind;
    n->loc = input->loc;
    n->inputs.push_back(std::move(input));
    return n;
  }

  Result<PlanPtr> PlanSimpleSelect(const json& s, std::vector<ProjectItem>* outputs) {
    if (s.contains("valuesLists")) return NotSupportedAt(Loc(0), "VALUES lists");
    if (s.contains("intoClause")) return NotSupportedAt(Loc(0), "SELECT INTO");
    if (!s.contains("fromClause")) {
      return NotSupportedAt(FirstLoc(s), "SELECT without FROM; every dataset reads a table or read_files(...)");
    }
    levels_.push_back(Level{});
    Result<PlanPtr> r = PlanSimpleSelectInLevel(s, outputs);
    Level level = std::move(levels_.back());
    levels_.pop_back();
    if (!r.ok()) return r;
    // Give each read_files scan of this FROM clause the _metadata fields the query uses.
    for (const MetadataRef& ref : level.metadata_refs) {
      bool placed = false;
      for (auto& scan : level.read_files_scans) {
        if (!ref.qualifier.empty() && !EqualsIgnoreCase(ref.qualifier, scan->alias)) continue;
        auto& cols = scan->read_files.metadata_columns;
        if (std::find(cols.begin(), cols.end(), ref.field) == cols.end()) cols.push_back(ref.field);
        placed = true;
      }
      if (!placed) {
        return ErrorAt(ref.loc, "_metadata." + ref.field + " is only available when reading read_files(...) in the same FROM clause");
      }
    }
    return r;
  }

  int generated_ = 0;  // select-list generators planned so far (their `$gen<i>` names)

  // The smallest "location" inside a node (a byte offset in the rewritten text), or -1.
  static int FirstOffsetIn(const json& b) {
    int best = -1;
    std::function<void(const json&)> walk = [&](const json& j) {
      if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
          if (it.key() == "location" && it.value().is_number_integer()) {
            int v = it.value().get<int>();
            if (v >= 0 && (best < 0 || v < best)) best = v;
          } else {
            walk(it.value());
          }
        }
      } else if (j.is_array()) {
        for (const auto& x : j) walk(x);
      }
    };
    walk(b);
    return best;
  }

  // LATERAL VIEW [OUTER] gen(args) t [AS] a, b — rewritten (rewrite.h) to
  // `, LATERAL gen[_outer](args) AS t(a, b)`: a Generate node over the FROM items before it.
  Result<PlanPtr> PlanLateralView(const json& b, PlanPtr input) {
    SourceLocation loc = FirstLocIn(b);
    const json& fns = b["functions"];
    if (fns.size() != 1) return NotSupportedAt(loc, "ROWS FROM (...)");
    const json& fitems = Body(fns[0])["items"];
    if (fitems.empty() || NodeType(fitems[0]) != "FuncCall") return ErrorAt(loc, "LATERAL VIEW needs a generator call");
    LP_ASSIGN_OR_RETURN(ExprPtr call, Translate(fitems[0]));
    if (!IsGeneratorCall(call)) {
      return ErrorAt(loc, "LATERAL VIEW `" + call->ToString() + "`: not a generator (explode, explode_outer, posexplode, "
                          "posexplode_outer, inline, inline_outer, json_tuple)");
    }
    auto gen = std::make_shared<PlanNode>();
    gen->kind = PlanKind::kGenerate;
    gen->loc = loc;
    gen->generator = call;
    if (b.contains("alias")) {
      const json& a = b["alias"].contains("Alias") ? b["alias"]["Alias"] : b["alias"];
      gen->generator_alias = a.value("aliasname", "");
      for (const json& c : a.value("colnames", json::array())) gen->generator_names.push_back(Sval(c));
    }
    gen->inputs.push_back(std::move(input));
    return PlanPtr(gen);
  }

  static bool IsGeneratorCall(const ExprPtr& e) {
    return e && e->kind == expr::ExprKind::kCall && expr::IsGenerator(ToLower(e->function));
  }

  // A generator in the select list (`SELECT id, explode(items) AS item`): a Generate node
  // over the FROM/WHERE rows, and the item becomes its columns (named as Spark names them,
  // or by the alias), at the generator's place in the list.
  Result<bool> PlanSelectGenerator(PlanPtr* plan, std::vector<ProjectItem>* items, bool grouped) {
    int at = -1;
    for (size_t i = 0; i < items->size(); ++i) {
      const ProjectItem& item = (*items)[i];
      if (!item.expr) continue;
      if (expr::ContainsGenerator(*item.expr)) {
        return NotSupportedAt(item.loc, "a generator inside an expression; call it at the top of a select item "
                                        "(SELECT explode(x) AS v) or in LATERAL VIEW, then compute on its column");
      }
      if (!IsGeneratorCall(item.expr)) continue;
      if (at >= 0) {
        return NotSupportedAt(item.loc, "two generators in one SELECT (Spark allows one); use LATERAL VIEW for the second");
      }
      at = static_cast<int>(i);
    }
    if (at < 0) return false;
    ProjectItem item = (*items)[static_cast<size_t>(at)];
    if (grouped) {
      return NotSupportedAt(item.loc, "a generator in a SELECT with GROUP BY, aggregates or window functions is not built "
                                      "yet; explode in a subquery (or LATERAL VIEW) and aggregate over it");
    }
    auto gen = std::make_shared<PlanNode>();
    gen->kind = PlanKind::kGenerate;
    gen->loc = item.loc;
    gen->generator = item.expr;
    gen->inputs.push_back(*plan);
    // The generated columns sit under a private qualifier `$gen<i>` (hidden from `*`, so
    // they never clash with the input's names); the item becomes `$gen<i>.*`, which
    // resolution expands to them, renamed to the alias when there is one.
    gen->generator_alias = "$gen" + std::to_string(generated_++);
    ProjectItem star;
    star.is_star = true;
    star.star_qualifier = gen->generator_alias;
    star.loc = item.loc;
    if (item.name != item.expr->ToString()) star.name = item.name;  // an alias
    (*items)[static_cast<size_t>(at)] = star;
    *plan = gen;
    return true;
  }

  Result<PlanPtr> PlanSimpleSelectInLevel(const json& s, std::vector<ProjectItem>* outputs) {
    PlanPtr plan;
    for (const json& item : s["fromClause"]) {
      if (NodeType(item) == "RangeFunction" && Body(item).value("lateral", false) && plan &&
          rw_.lateral_views.count(static_cast<size_t>(FirstOffsetIn(Body(item))))) {
        LP_ASSIGN_OR_RETURN(plan, PlanLateralView(Body(item), plan));
        continue;
      }
      LP_ASSIGN_OR_RETURN(PlanPtr p, PlanFromItem(item));
      if (!plan) {
        plan = p;
      } else {
        auto j = std::make_shared<PlanNode>();
        j->kind = PlanKind::kJoin;
        j->join_type = JoinType::kInner;
        j->loc = p->loc;
        j->inputs = {plan, p};
        plan = j;
      }
    }
    if (s.contains("whereClause")) {
      LP_ASSIGN_OR_RETURN(ExprPtr pred, Translate(s["whereClause"]));
      LP_RETURN_IF_ERROR(RefuseAggregates(pred, "WHERE"));
      auto f = std::make_shared<PlanNode>();
      f->kind = PlanKind::kFilter;
      f->loc = LocFromPos(pred->pos);
      f->predicate = pred;
      f->inputs.push_back(plan);
      plan = f;
    }
    // Window functions of this SELECT (select list and QUALIFY) become placeholders
    // `$window<i>()` while translating; the WINDOW clause holds named windows and the
    // QUALIFY condition (rewrite.h).
    std::vector<PendingWindow> windows;
    std::map<std::string, const json*> named_windows;
    const json* qualify_node = nullptr;
    if (s.contains("windowClause")) {
      for (const json& wd_node : s["windowClause"]) {
        const json& wd = Body(wd_node);
        std::string wname = wd.value("name", "");
        if (wname == kQualifyWindow) {
          qualify_node = &Body(wd["orderClause"][0])["node"];
          continue;
        }
        if (!named_windows.emplace(ToLower(wname), &wd).second) {
          return ErrorAt(LocOf(wd), "window `" + wname + "` is defined twice");
        }
      }
    }
    WindowScope scope(this, &windows, &named_windows);
    // Select list.
    std::vector<ProjectItem> items;
    for (const json& t_node : s["targetList"]) {
      const json& t = Body(t_node);
      LP_ASSIGN_OR_RETURN(ProjectItem item, TranslateTarget(t));
      if (item.expr && item.name.find("$window") != std::string::npos) item.name = WindowText(item.name, windows);
      items.push_back(std::move(item));
    }
    ExprPtr qualify;
    if (qualify_node != nullptr) {
      LP_ASSIGN_OR_RETURN(qualify, Translate(*qualify_node));
      LP_RETURN_IF_ERROR(RefuseAggregates(qualify, "QUALIFY"));
      qualify = SubstituteAliases(qualify, items);
    }
    scope.Close();
    ExprPtr having;
    if (s.contains("havingClause")) {
      LP_ASSIGN_OR_RETURN(having, Translate(s["havingClause"]));
    }
    bool has_agg = s.contains("groupClause") || having != nullptr;
    for (const auto& item : items) {
      if (item.expr && ContainsAggregate(item.expr)) has_agg = true;
    }
    LP_ASSIGN_OR_RETURN(bool generated, PlanSelectGenerator(&plan, &items, has_agg || !windows.empty()));
    (void)generated;
    // The expressions inside window functions and QUALIFY are evaluated over the
    // aggregate's output too: they ride along as extra select items through PlanAggregate.
    std::vector<ExprPtr*> riders;
    for (auto& w : windows) {
      for (auto& a : w.args) riders.push_back(&a);
      for (auto& p : w.fn.partition_by) riders.push_back(&p);
      for (auto& k : w.fn.order_by) riders.push_back(&k.expr);
    }
    if (qualify) riders.push_back(&qualify);
    for (ExprPtr* r : riders) {
      if (ContainsAggregate(*r)) has_agg = true;
    }
    if (has_agg) {
      for (const auto& item : items) {
        if (item.expr) LP_RETURN_IF_ERROR(RefuseWindowInAggregate(item.expr, false));
      }
      size_t n_items = items.size();
      for (ExprPtr* r : riders) {
        ProjectItem rider;
        rider.expr = *r;
        rider.name = "$rider";
        rider.loc = LocFromPos((*r)->pos);
        items.push_back(rider);
      }
      LP_ASSIGN_OR_RETURN(plan, PlanAggregate(s, plan, &items, &having));
      for (size_t i = 0; i < riders.size(); ++i) *riders[i] = items[n_items + i].expr;
      items.resize(n_items);
    }
    if (!windows.empty()) {
      auto win = std::make_shared<PlanNode>();
      win->kind = PlanKind::kWindow;
      win->loc = LocFromPos(windows[0].fn.call->pos);
      for (auto& w : windows) {
        w.fn.call = Expr::Call(w.fn.call->function, w.args, w.fn.call->pos, w.fn.call->distinct);
        win->window_functions.push_back(w.fn);
      }
      win->inputs.push_back(plan);
      plan = win;
      for (auto& item : items) {
        if (item.expr) item.expr = WindowColumns(item.expr);
      }
      if (qualify) qualify = WindowColumns(qualify);
    }
    if (qualify) {
      if (windows.empty()) {
        return ErrorAt(LocFromPos(qualify->pos), "QUALIFY needs a window function, in the select list or in QUALIFY");
      }
      auto f = std::make_shared<PlanNode>();
      f->kind = PlanKind::kFilter;
      f->loc = LocFromPos(qualify->pos);
      f->predicate = qualify;
      f->inputs.push_back(plan);
      plan = f;
    }
    auto project = std::make_shared<PlanNode>();
    project->kind = PlanKind::kProject;
    project->loc = items.empty() ? plan->loc : items[0].loc;
    project->items = items;
    project->inputs.push_back(plan);
    plan = project;
    *outputs = items;
    if (s.contains("distinctClause")) {
      const json& d = s["distinctClause"];
      if (d.size() != 1 || !d[0].empty()) return NotSupportedAt(project->loc, "DISTINCT ON (...)");
      plan = Wrap(PlanKind::kDistinct, plan);
    }
    return plan;
  }

  SourceLocation LocFromPos(const expr::SourcePos& pos) const {
    SourceLocation loc;
    loc.file = text_.file() ? text_.file()->path() : "";
    loc.line = pos.line;
    loc.column = pos.column;
    return loc;
  }

  // The last key of a `col:path` expression (also under a cast), or "".
  static std::string JsonPathName(const Expr& e) {
    const Expr* x = &e;
    if (x->kind == expr::ExprKind::kCast) x = x->args[0].get();
    if (x->kind != expr::ExprKind::kCall || x->function != "$json_path" || x->args.size() != 2 ||
        x->args[1]->kind != expr::ExprKind::kLiteral || x->args[1]->literal.is_null()) {
      return "";
    }
    auto path = lakepipe::json::ParseJsonPath(x->args[1]->literal.string_value(), lakepipe::json::PathSyntax::kDatabricks);
    if (!path.ok() || path->steps.empty() || path->steps.back().kind != lakepipe::json::JsonPathStep::kKey) return "";
    return path->steps.back().key;
  }

  Result<ProjectItem> TranslateTarget(const json& t) {
    ProjectItem item;
    item.loc = LocOf(t);
    const json& val = t["val"];
    if (NodeType(val) == "ColumnRef") {
      const json& fields = Body(val)["fields"];
      if (!fields.empty() && NodeType(fields.back()) == "A_Star") {
        if (t.contains("name")) return ErrorAt(item.loc, "a star (*) cannot have an alias");
        item.is_star = true;
        if (fields.size() == 2) item.star_qualifier = Sval(fields[0]);
        if (fields.size() > 2) return NotSupportedAt(item.loc, "a.b.* (only table.* is supported)");
        int loc = Body(val).value("location", -1);
        auto it = rw_.star_excepts.find(static_cast<size_t>(loc));
        if (loc >= 0 && it != rw_.star_excepts.end()) {
          item.star_except = it->second;
          consumed_excepts_.insert(it->first);
        }
        return item;
      }
    }
    LP_ASSIGN_OR_RETURN(item.expr, Translate(val));
    if (t.contains("name")) {
      item.name = t.value("name", "");
    } else if (item.expr->kind == expr::ExprKind::kColumn) {
      item.name = item.expr->name;
      if (item.name.rfind("_metadata.", 0) == 0) item.name = item.name.substr(10);
    } else if (item.expr->kind == expr::ExprKind::kCall && item.expr->function == "get_field" &&
               item.expr->args.size() == 2 && item.expr->args[1]->kind == expr::ExprKind::kLiteral) {
      item.name = item.expr->args[1]->literal.string_value();  // Spark names s.a.b `b`
    } else if (std::string key = JsonPathName(*item.expr); !key.empty()) {
      item.name = key;  // Databricks names raw:a.b and raw:a.b::int `b`
    } else {
      item.name = item.expr->ToString();
    }
    return item;
  }


  // ---- window functions ----------------------------------------------------------------

  static constexpr const char* kQualifyWindow = "$qualify";

  struct PendingWindow {
    WindowFunction fn;
    std::vector<ExprPtr> args;  // fn.call's arguments, rewritten over an aggregate if any
  };

  // Makes window functions legal while translating one SELECT's list and QUALIFY.
  class WindowScope {
   public:
    WindowScope(Planner* p, std::vector<PendingWindow>* windows, std::map<std::string, const json*>* named)
        : p_(p), saved_windows_(p->windows_), saved_named_(p->named_windows_) {
      p->windows_ = windows;
      p->named_windows_ = named;
    }
    ~WindowScope() { Close(); }
    void Close() {
      if (p_ == nullptr) return;
      p_->windows_ = saved_windows_;
      p_->named_windows_ = saved_named_;
      p_ = nullptr;
    }

   private:
    Planner* p_;
    std::vector<PendingWindow>* saved_windows_;
    std::map<std::string, const json*>* saved_named_;
  };

  static bool IsWindowPlaceholder(const ExprPtr& e) {
    return e->kind == expr::ExprKind::kCall && e->args.empty() && e->function.rfind("$window", 0) == 0;
  }

  // "$window0() + 1" -> "rank() OVER (...) + 1", for the names of unaliased columns.
  static std::string WindowText(std::string name, const std::vector<PendingWindow>& windows) {
    for (size_t i = windows.size(); i-- > 0;) {
      std::string placeholder = "$window" + std::to_string(i) + "()";
      for (size_t at = name.find(placeholder); at != std::string::npos; at = name.find(placeholder)) {
        name.replace(at, placeholder.size(), windows[i].fn.text);
      }
    }
    return name;
  }

  // The placeholders become references to kWindow's output columns.
  static ExprPtr WindowColumns(const ExprPtr& e) {
    if (IsWindowPlaceholder(e)) return Expr::Column(e->function, "", e->pos);
    if (e->args.empty()) return e;
    std::vector<ExprPtr> args;
    for (const auto& a : e->args) args.push_back(WindowColumns(a));
    if (e->kind == expr::ExprKind::kCast) return Expr::Cast(args[0], e->cast_type, e->try_cast, e->pos);
    return Expr::Call(e->function, std::move(args), e->pos, e->distinct);
  }

  // QUALIFY may name select-list aliases (QUALIFY rn = 1): they stand for their expressions.
  static ExprPtr SubstituteAliases(const ExprPtr& e, const std::vector<ProjectItem>& items) {
    if (e->kind == expr::ExprKind::kColumn && e->qualifier.empty()) {
      for (const auto& item : items) {
        if (item.is_star || !item.expr || !EqualsIgnoreCase(item.name, e->name)) continue;
        if (item.expr->kind == expr::ExprKind::kColumn && EqualsIgnoreCase(item.expr->name, e->name)) return e;
        return item.expr;
      }
      return e;
    }
    if (e->args.empty()) return e;
    std::vector<ExprPtr> args;
    for (const auto& a : e->args) args.push_back(SubstituteAliases(a, items));
    if (e->kind == expr::ExprKind::kCast) return Expr::Cast(args[0], e->cast_type, e->try_cast, e->pos);
    return Expr::Call(e->function, std::move(args), e->pos, e->distinct);
  }

  Status RefuseWindowInAggregate(const ExprPtr& e, bool inside_aggregate) {
    if (inside_aggregate && IsWindowPlaceholder(e)) {
      return ErrorAt(LocFromPos(e->pos), "a window function inside an aggregate; compute it in a subquery first");
    }
    bool inside = inside_aggregate || e->IsAggregateCall();
    for (const auto& a : e->args) LP_RETURN_IF_ERROR(RefuseWindowInAggregate(a, inside));
    return Status::OK();
  }

  // PostgreSQL's FRAMEOPTION_* bits (parsenodes.h) in WindowDef.frameOptions.
  enum FrameBits {
    kFrameNonDefault = 0x1, kFrameRange = 0x2, kFrameRows = 0x4, kFrameGroups = 0x8,
    kStartUnboundedPreceding = 0x20, kEndUnboundedFollowing = 0x100, kStartCurrentRow = 0x200,
    kEndCurrentRow = 0x400, kStartOffsetPreceding = 0x800, kEndOffsetPreceding = 0x1000,
    kStartOffsetFollowing = 0x2000, kEndOffsetFollowing = 0x4000, kFrameExclude = 0x38000,
  };

  Result<WindowFrameSpec> TranslateFrame(const json& def, bool ordered, const SourceLocation& loc) {
    WindowFrameSpec f;
    int fo = def.value("frameOptions", 0);
    if (!(fo & kFrameNonDefault)) {
      // Spark's defaults: RANGE UNBOUNDED PRECEDING..CURRENT ROW with ORDER BY, else the
      // whole partition.
      if (!ordered) {
        f.rows = true;
        f.end.kind = WindowFrameBound::kUnboundedFollowing;
      }
      return f;
    }
    if (fo & kFrameGroups) return NotSupportedAt(loc, "GROUPS frames (use ROWS or RANGE)");
    if (fo & kFrameExclude) return NotSupportedAt(loc, "EXCLUDE in a window frame");
    f.written = true;
    f.rows = (fo & kFrameRows) != 0;
    using B = WindowFrameBound;
    if (fo & kStartUnboundedPreceding) f.start.kind = B::kUnboundedPreceding;
    else if (fo & kStartCurrentRow) f.start.kind = B::kCurrentRow;
    else if (fo & kStartOffsetPreceding) f.start.kind = B::kPreceding;
    else if (fo & kStartOffsetFollowing) f.start.kind = B::kFollowing;
    else return ErrorAt(loc, "a window frame cannot start at UNBOUNDED FOLLOWING");
    if (fo & kEndUnboundedFollowing) f.end.kind = B::kUnboundedFollowing;
    else if (fo & kEndCurrentRow) f.end.kind = B::kCurrentRow;
    else if (fo & kEndOffsetPreceding) f.end.kind = B::kPreceding;
    else if (fo & kEndOffsetFollowing) f.end.kind = B::kFollowing;
    else return ErrorAt(loc, "a window frame cannot end at UNBOUNDED PRECEDING");
    if (def.contains("startOffset")) {
      LP_ASSIGN_OR_RETURN(f.start.offset, Translate(def["startOffset"]));
    }
    if (def.contains("endOffset")) {
      LP_ASSIGN_OR_RETURN(f.end.offset, Translate(def["endOffset"]));
    }
    auto rank = [](B::Kind k) { return static_cast<int>(k); };
    if (rank(f.start.kind) > rank(f.end.kind)) {
      return ErrorAt(loc, "a window frame cannot start after its end");
    }
    return f;
  }

  static std::string BoundText(const WindowFrameBound& b) {
    switch (b.kind) {
      case WindowFrameBound::kUnboundedPreceding: return "UNBOUNDED PRECEDING";
      case WindowFrameBound::kUnboundedFollowing: return "UNBOUNDED FOLLOWING";
      case WindowFrameBound::kCurrentRow: return "CURRENT ROW";
      case WindowFrameBound::kPreceding: return (b.offset ? b.offset->ToString() : "?") + " PRECEDING";
      case WindowFrameBound::kFollowing: return (b.offset ? b.offset->ToString() : "?") + " FOLLOWING";
    }
    return "?";
  }

  Result<ExprPtr> TranslateWindowCall(const json& over, ExprPtr call, const SourceLocation& loc) {
    // OVER w / OVER (w ORDER BY ...): start from the named window of the WINDOW clause.
    auto lookup = [&](const std::string& name) -> Result<const json*> {
      auto it = named_windows_ ? named_windows_->find(ToLower(name)) : std::map<std::string, const json*>::iterator();
      if (named_windows_ == nullptr || it == named_windows_->end()) {
        return ErrorAt(loc, "window `" + name + "` is not defined; add WINDOW " + name + " AS (...) to this SELECT");
      }
      if (it->second->contains("refname")) return NotSupportedAt(loc, "a named window defined from another named window");
      return it->second;
    };
    json def = over;
    if (over.contains("name")) {
      LP_ASSIGN_OR_RETURN(const json* named, lookup(over.value("name", "")));
      def = *named;
    } else if (over.contains("refname")) {
      LP_ASSIGN_OR_RETURN(const json* base, lookup(over.value("refname", "")));
      if (over.contains("partitionClause")) return ErrorAt(loc, "PARTITION BY cannot be changed when a window builds on a named window");
      if (over.contains("orderClause") && base->contains("orderClause")) {
        return ErrorAt(loc, "ORDER BY cannot be changed when the named window already has one");
      }
      json merged = *base;
      if (over.contains("orderClause")) merged["orderClause"] = over["orderClause"];
      if (over.value("frameOptions", 0) & kFrameNonDefault) {
        merged["frameOptions"] = over["frameOptions"];
        merged.erase("startOffset");
        merged.erase("endOffset");
        if (over.contains("startOffset")) merged["startOffset"] = over["startOffset"];
        if (over.contains("endOffset")) merged["endOffset"] = over["endOffset"];
      }
      def = merged;
    }
    PendingWindow w;
    ++window_depth_;
    struct Leave {
      int* d;
      ~Leave() { --*d; }
    } leave{&window_depth_};
    std::string text = call->ToString() + " OVER (";
    std::string sep;
    for (const json& p : def.value("partitionClause", json::array())) {
      LP_ASSIGN_OR_RETURN(ExprPtr e, Translate(p));
      text += (w.fn.partition_by.empty() ? "PARTITION BY " : ", ") + e->ToString();
      w.fn.partition_by.push_back(e);
    }
    for (const json& sb_node : def.value("orderClause", json::array())) {
      const json& sb = Body(sb_node);
      SortKey key;
      LP_ASSIGN_OR_RETURN(key.expr, Translate(sb["node"]));
      std::string dir = sb.value("sortby_dir", "SORTBY_DEFAULT");
      if (dir == "SORTBY_USING") return NotSupportedAt(loc, "ORDER BY ... USING");
      key.ascending = dir != "SORTBY_DESC";
      std::string nulls = sb.value("sortby_nulls", "SORTBY_NULLS_DEFAULT");
      key.nulls_first = nulls == "SORTBY_NULLS_DEFAULT" ? key.ascending : nulls == "SORTBY_NULLS_FIRST";
      text += std::string(w.fn.order_by.empty() ? (w.fn.partition_by.empty() ? "" : " ") + std::string("ORDER BY ") : ", ") +
              key.expr->ToString() + (key.ascending ? "" : " DESC");
      if (key.nulls_first != key.ascending) text += key.nulls_first ? " NULLS FIRST" : " NULLS LAST";
      w.fn.order_by.push_back(key);
    }
    LP_ASSIGN_OR_RETURN(w.fn.frame, TranslateFrame(def, !w.fn.order_by.empty(), loc));
    if (w.fn.frame.written) {
      text += std::string(w.fn.partition_by.empty() && w.fn.order_by.empty() ? "" : " ") +
              (w.fn.frame.rows ? "ROWS" : "RANGE") + " BETWEEN " + BoundText(w.fn.frame.start) + " AND " +
              BoundText(w.fn.frame.end);
    }
    text += ")";
    size_t index = windows_->size();
    w.fn.name = "$window" + std::to_string(index);
    w.fn.text = text;
    w.fn.call = call;
    w.args = call->args;
    windows_->push_back(std::move(w));
    return Expr::Call("$window" + std::to_string(index), {}, call->pos);
  }

  Status RefuseAggregates(const ExprPtr& e, const char* where) {
    if (e->IsAggregateCall() || IsGroupingCall(*e)) {
      return ErrorAt(LocFromPos(e->pos), std::string("aggregate `") + e->function + "` is not allowed in " + where);
    }
    for (const auto& a : e->args) LP_RETURN_IF_ERROR(RefuseAggregates(a, where));
    return Status::OK();
  }

  static bool ContainsAggregate(const ExprPtr& e) {
    if (e->IsAggregateCall() || IsGroupingCall(*e)) return true;
    for (const auto& a : e->args) {
      if (ContainsAggregate(a)) return true;
    }
    return false;
  }

  // Collects the aggregate calls of `e` into `aggs` (deduplicated).
  Status CollectAggregates(const ExprPtr& e, std::vector<NamedExpr>* aggs) {
    if (IsGroupingCall(*e)) return Status::OK();
    if (e->IsAggregateCall()) {
      for (const auto& a : e->args) {
        if (ContainsAggregate(a)) {
          return ErrorAt(LocFromPos(a->pos), "aggregate inside aggregate `" + e->function + "`");
        }
      }
      for (const auto& existing : *aggs) {
        if (ExprKey(existing.expr) == ExprKey(e)) return Status::OK();
      }
      aggs->push_back({e, "_agg" + std::to_string(aggs->size())});
      return Status::OK();
    }
    for (const auto& a : e->args) LP_RETURN_IF_ERROR(CollectAggregates(a, aggs));
    return Status::OK();
  }

  // Rewrites an expression over the aggregate's input into one over its output columns.
  Result<ExprPtr> OverAggregate(const ExprPtr& e, const std::vector<NamedExpr>& keys,
                                const std::vector<NamedExpr>& aggs) {
    for (const auto& k : keys) {
      if (ExprKey(k.expr) == ExprKey(e) || SameColumn(*k.expr, *e)) return Expr::Column(k.name, "", e->pos);
      // `window` and `window.start` / `window.end` name the struct a time window groups by.
      bool time_window = k.expr->kind == expr::ExprKind::kCall &&
                         (k.expr->function == "window" || k.expr->function == "session_window");
      if (time_window && e->kind == expr::ExprKind::kColumn &&
          (e->qualifier.empty() ? EqualsIgnoreCase(e->name, k.name) : EqualsIgnoreCase(e->qualifier, k.name))) {
        return e;
      }
    }
    if (e->IsAggregateCall()) {
      for (const auto& a : aggs) {
        if (ExprKey(a.expr) == ExprKey(e)) return Expr::Column(a.name, "", e->pos);
      }
    }
    if (IsGroupingCall(*e)) return GroupingOverAggregate(e, keys);
    switch (e->kind) {
      case expr::ExprKind::kLiteral: return e;
      case expr::ExprKind::kColumn:
        return ErrorAt(LocFromPos(e->pos), "column `" + e->ToString() +
                                               "` must appear in GROUP BY or be inside an aggregate function");
      case expr::ExprKind::kCast: {
        LP_ASSIGN_OR_RETURN(ExprPtr arg, OverAggregate(e->args[0], keys, aggs));
        return Expr::Cast(arg, e->cast_type, e->try_cast, e->pos);
      }
      case expr::ExprKind::kCall: {
        std::vector<ExprPtr> args;
        for (const auto& a : e->args) {
          LP_ASSIGN_OR_RETURN(ExprPtr x, OverAggregate(a, keys, aggs));
          args.push_back(x);
        }
        return Expr::Call(e->function, std::move(args), e->pos, e->distinct);
      }
    }
    return e;
  }

  // grouping(c) -> bit of c in `_grouping_id` (tinyint); grouping_id(c1, ...) -> those
  // bits as one bigint (all keys when no argument). Without grouping sets every row is
  // grouped by every key: 0.
  Result<ExprPtr> GroupingOverAggregate(const ExprPtr& e, const std::vector<NamedExpr>& keys) {
    const bool single = e->function == "grouping";
    if (single && e->args.size() != 1) return ErrorAt(LocFromPos(e->pos), "grouping() takes one GROUP BY column");
    const int k = static_cast<int>(keys.size());
    std::vector<int> which;
    for (const auto& a : e->args) {
      int found = -1;
      for (int i = 0; i < k; ++i) {
        if (ExprKey(keys[static_cast<size_t>(i)].expr) == ExprKey(a) || SameColumn(*keys[static_cast<size_t>(i)].expr, *a)) found = i;
      }
      if (found < 0) {
        return ErrorAt(LocFromPos(a->pos), "the argument `" + a->ToString() + "` of " + e->function +
                                               "() is not a GROUP BY expression");
      }
      which.push_back(found);
    }
    if (e->args.empty()) {
      for (int i = 0; i < k; ++i) which.push_back(i);
    }
    auto lit = [&](int64_t v) { return Expr::Literal(Value::Int(v, TypeId::kLong), DataType::Long(), e->pos); };
    ExprPtr out;
    if (!grouping_sets_) {
      out = lit(0);
    } else {
      ExprPtr gid = Expr::Column("_grouping_id", "", e->pos);
      for (size_t j = 0; j < which.size(); ++j) {
        // bit of key i: (gid div 2^(k-1-i)) % 2, placed at bit (m-1-j) of the result.
        ExprPtr bit = Expr::Call("%", {Expr::Call("div", {gid, lit(int64_t{1} << (k - 1 - which[j]))}, e->pos), lit(2)}, e->pos);
        int64_t weight = int64_t{1} << (which.size() - 1 - j);
        ExprPtr term = weight == 1 ? bit : Expr::Call("*", {bit, lit(weight)}, e->pos);
        out = out ? Expr::Call("+", {out, term}, e->pos) : term;
      }
      if (e->args.empty()) out = gid;
    }
    return single ? Expr::Cast(out, DataType::Byte(), false, e->pos) : out;
  }

  // One GROUP BY expression (a position, a select-list alias or an expression) -> the
  // index of its key in agg->group_keys, adding the key when new.
  Result<int> GroupKeyIndex(const json& g, PlanNode* agg, std::vector<ProjectItem>* items, std::set<std::string>* used_names) {
    ExprPtr key;
    std::string alias_name;
    std::string type = NodeType(g);
    if (type == "A_Const" && Body(g).contains("ival")) {
      LP_ASSIGN_OR_RETURN(int64_t ordinal, IntConst(Body(g)));
      if (ordinal < 1 || ordinal > static_cast<int64_t>(items->size()) || (*items)[ordinal - 1].is_star) {
        return ErrorAt(LocOf(Body(g)), "GROUP BY position " + std::to_string(ordinal) + " is not in the select list");
      }
      key = (*items)[ordinal - 1].expr;
    } else {
      LP_ASSIGN_OR_RETURN(key, Translate(g));
      // GROUP BY a select-list alias (Spark allows it): group by the aliased expression.
      // Resolution refuses the case where the name is also an input column.
      if (key->kind == expr::ExprKind::kColumn && key->qualifier.empty()) {
        for (const auto& item : *items) {
          if (item.is_star || !EqualsIgnoreCase(item.name, key->name)) continue;
          if (item.expr->kind == expr::ExprKind::kColumn && EqualsIgnoreCase(item.expr->name, key->name)) break;
          if (ContainsAggregate(item.expr)) {
            return ErrorAt(LocFromPos(key->pos), "GROUP BY `" + key->name + "` names an aggregate");
          }
          alias_name = key->name;
          key = item.expr;
          break;
        }
      }
    }
    return AddGroupKey(key, alias_name, agg, used_names);
  }

  Result<int> AddGroupKey(const ExprPtr& key, const std::string& alias_name, PlanNode* agg, std::set<std::string>* used_names) {
    if (ContainsAggregate(key)) return ErrorAt(LocFromPos(key->pos), "aggregate functions are not allowed in GROUP BY");
    for (size_t i = 0; i < agg->group_keys.size(); ++i) {
      if (ExprKey(agg->group_keys[i].expr) == ExprKey(key)) return static_cast<int>(i);
    }
    std::string name = key->kind == expr::ExprKind::kColumn ? key->name : "";
    // A time window groups into a struct column named as Spark names it.
    if (key->kind == expr::ExprKind::kCall && (key->function == "window" || key->function == "session_window")) {
      name = key->function;
    }
    if (name.empty() || used_names->count(ToLower(name))) name = "_group" + std::to_string(agg->group_keys.size());
    used_names->insert(ToLower(name));
    agg->group_keys.push_back({key, name});
    agg->group_key_aliases.push_back(alias_name);
    return static_cast<int>(agg->group_keys.size() - 1);
  }

  using KeySet = std::set<int>;

  // The key sets of one element of ROLLUP/CUBE/GROUPING SETS: (a, b) -> {a, b}; x -> {x}.
  Result<KeySet> ElementKeys(const json& g, PlanNode* agg, std::vector<ProjectItem>* items, std::set<std::string>* used) {
    KeySet set;
    if (NodeType(g) == "GroupingSet") {
      const json& b = Body(g);
      std::string kind = b.value("kind", "");
      if (kind == "GROUPING_SET_EMPTY") return set;
      if (kind != "GROUPING_SET_SIMPLE") return NotSupportedAt(LocOf(b), "ROLLUP/CUBE nested inside ROLLUP or CUBE");
      for (const json& x : b.value("content", json::array())) {
        LP_ASSIGN_OR_RETURN(int i, GroupKeyIndex(x, agg, items, used));
        set.insert(i);
      }
      return set;
    }
    LP_ASSIGN_OR_RETURN(int i, GroupKeyIndex(g, agg, items, used));
    set.insert(i);
    return set;
  }

  // The grouping sets one GROUP BY item stands for.
  Result<std::vector<KeySet>> SetsOf(const json& g, PlanNode* agg, std::vector<ProjectItem>* items, std::set<std::string>* used) {
    if (NodeType(g) != "GroupingSet") {
      LP_ASSIGN_OR_RETURN(KeySet one, ElementKeys(g, agg, items, used));
      return std::vector<KeySet>{one};
    }
    const json& b = Body(g);
    std::string kind = b.value("kind", "");
    std::vector<KeySet> elements;
    std::vector<KeySet> sets;
    if (kind == "GROUPING_SET_SETS") {
      for (const json& x : b.value("content", json::array())) {
        std::string k = NodeType(x) == "GroupingSet" ? Body(x).value("kind", "") : "";
        if (k == "GROUPING_SET_ROLLUP" || k == "GROUPING_SET_CUBE" || k == "GROUPING_SET_SETS") {
          LP_ASSIGN_OR_RETURN(std::vector<KeySet> inner, SetsOf(x, agg, items, used));
          sets.insert(sets.end(), inner.begin(), inner.end());
        } else {
          LP_ASSIGN_OR_RETURN(KeySet one, ElementKeys(x, agg, items, used));
          sets.push_back(one);
        }
      }
      return sets;
    }
    if (kind == "GROUPING_SET_EMPTY") return std::vector<KeySet>{KeySet{}};
    if (kind == "GROUPING_SET_SIMPLE") {
      LP_ASSIGN_OR_RETURN(KeySet one, ElementKeys(g, agg, items, used));
      return std::vector<KeySet>{one};
    }
    for (const json& x : b.value("content", json::array())) {
      LP_ASSIGN_OR_RETURN(KeySet one, ElementKeys(x, agg, items, used));
      elements.push_back(one);
    }
    if (kind == "GROUPING_SET_ROLLUP") {
      // ROLLUP(a, b, c) = (a, b, c), (a, b), (a), ().
      for (size_t n = elements.size() + 1; n-- > 0;) {
        KeySet s;
        for (size_t i = 0; i < n; ++i) s.insert(elements[i].begin(), elements[i].end());
        sets.push_back(s);
      }
      return sets;
    }
    if (kind == "GROUPING_SET_CUBE") {
      if (elements.size() > 12) return NotSupportedAt(LocOf(b), "CUBE of more than 12 elements (4096 grouping sets)");
      size_t n = elements.size();
      for (uint64_t mask = (uint64_t{1} << n); mask-- > 0;) {
        KeySet s;
        for (size_t i = 0; i < n; ++i) {
          if (mask & (uint64_t{1} << (n - 1 - i))) s.insert(elements[i].begin(), elements[i].end());
        }
        sets.push_back(s);
      }
      return sets;
    }
    return NotSupportedAt(LocOf(b), "grouping set kind " + kind);
  }

  Result<PlanPtr> PlanAggregate(const json& s, PlanPtr input, std::vector<ProjectItem>* items, ExprPtr* having) {
    auto agg = std::make_shared<PlanNode>();
    agg->kind = PlanKind::kAggregate;
    agg->loc = input->loc;
    std::set<std::string> used_names;
    grouping_sets_ = false;
    if (s.contains("groupClause")) {
      agg->loc = LocOf(Body(s["groupClause"][0]));
      std::vector<KeySet> sets = {KeySet{}};
      bool set_syntax = false;
      bool group_by_all = false;
      for (const json& g : s["groupClause"]) {
        if (NodeType(g) == "GroupingSet") {
          const json& b = Body(g);
          int location = b.value("location", -1);
          if (b.value("kind", "") == "GROUPING_SET_EMPTY" && location >= 0 &&
              rw_.group_by_all.count(static_cast<size_t>(location))) {
            if (s["groupClause"].size() != 1) return ErrorAt(LocOf(b), "GROUP BY ALL cannot be combined with other GROUP BY items");
            group_by_all = true;
            continue;
          }
          if (b.value("kind", "") != "GROUPING_SET_EMPTY") set_syntax = true;
        }
        LP_ASSIGN_OR_RETURN(std::vector<KeySet> item_sets, SetsOf(g, agg.get(), items, &used_names));
        // Several GROUP BY items: every combination of their sets (Spark's cross product).
        std::vector<KeySet> product;
        for (const auto& a : sets) {
          for (const auto& b : item_sets) {
            KeySet u = a;
            u.insert(b.begin(), b.end());
            product.push_back(u);
          }
        }
        sets = std::move(product);
      }
      if (group_by_all) {
        // Spark's GROUP BY ALL: every select-list expression without an aggregate.
        for (const auto& item : *items) {
          if (item.is_star) return ErrorAt(item.loc, "GROUP BY ALL with * in the select list; list the grouped columns");
          if (!ContainsAggregate(item.expr)) {
            LP_RETURN_IF_ERROR(AddGroupKey(item.expr, "", agg.get(), &used_names).status());
          }
        }
      }
      const int k = static_cast<int>(agg->group_keys.size());
      bool plain = !set_syntax || (sets.size() == 1 && static_cast<int>(sets[0].size()) == k);
      if (!plain) {
        if (k > 62) return NotSupportedAt(agg->loc, "grouping sets over more than 62 GROUP BY expressions");
        std::set<int64_t> seen;
        for (const auto& set : sets) {
          int64_t id = 0;
          for (int i = 0; i < k; ++i) {
            if (!set.count(i)) id |= int64_t{1} << (k - 1 - i);
          }
          if (!seen.insert(id).second) {
            return NotSupportedAt(agg->loc, "not built yet: the same grouping set listed twice (Spark returns its rows twice); "
                                            "list each grouping set once");
          }
          agg->grouping_ids.push_back(id);
        }
        grouping_sets_ = k > 0;
        if (k == 0) agg->grouping_ids.clear();
      }
    }
    for (const auto& item : *items) {
      if (item.is_star) return ErrorAt(item.loc, "* in the select list of an aggregate query; list the grouped columns");
      LP_RETURN_IF_ERROR(CollectAggregates(item.expr, &agg->aggregates));
    }
    if (*having) LP_RETURN_IF_ERROR(CollectAggregates(*having, &agg->aggregates));
    // Arity, types and DISTINCT are checked by the binder (expr/aggregate_functions.h).
    agg->inputs.push_back(input);
    PlanPtr plan = agg;
    if (*having) {
      LP_ASSIGN_OR_RETURN(ExprPtr pred, OverAggregate(*having, agg->group_keys, agg->aggregates));
      auto f = std::make_shared<PlanNode>();
      f->kind = PlanKind::kFilter;
      f->loc = LocFromPos((*having)->pos);
      f->predicate = pred;
      f->inputs.push_back(plan);
      plan = f;
    }
    for (auto& item : *items) {
      LP_ASSIGN_OR_RETURN(item.expr, OverAggregate(item.expr, agg->group_keys, agg->aggregates));
    }
    return plan;
  }

  // ---- FROM items ---------------------------------------------------------------------

  Result<PlanPtr> PlanFromItem(const json& node) {
    std::string type = NodeType(node);
    const json& b = Body(node);
    if (type == "RangeVar") return PlanRangeVar(b);
    if (type == "RangeFunction") return PlanRangeFunction(b);
    if (type == "RangeSubselect") {
      if (b.value("lateral", false)) return NotSupportedAt(FirstLocIn(b), "LATERAL subqueries");
      LP_ASSIGN_OR_RETURN(PlanPtr q, PlanSelect(b["subquery"]));
      auto alias = std::make_shared<PlanNode>();
      alias->kind = PlanKind::kSubqueryAlias;
      alias->loc = q->loc;
      if (b.contains("alias")) {
        LP_RETURN_IF_ERROR(CheckAlias(b["alias"], alias->loc));
        alias->alias = b["alias"].value("aliasname", "");
      }
      alias->inputs.push_back(q);
      return PlanPtr(alias);
    }
    if (type == "JoinExpr") return PlanJoin(b);
    return NotSupportedAt(FirstLocIn(b), "FROM item " + type);
  }

  SourceLocation FirstLocIn(const json& b) { return Loc(FirstOffsetIn(b)); }

  Status CheckAlias(const json& alias, const SourceLocation& loc) {
    if (alias.contains("colnames")) return NotSupportedAt(loc, "column aliases on a FROM item (AS t(a, b))");
    return Status::OK();
  }

  Status TakeStreamAndWatermark(int location, PlanNode* scan) {
    if (location < 0) return Status::OK();
    size_t off = static_cast<size_t>(location);
    if (rw_.streaming_refs.count(off)) {
      scan->streaming = true;
      consumed_streams_.insert(off);
    }
    auto it = rw_.watermarks.find(off);
    if (it != rw_.watermarks.end()) {
      scan->watermark = it->second;
      consumed_watermarks_.insert(off);
    }
    auto opts = rw_.table_options.find(off);
    if (opts != rw_.table_options.end()) {
      consumed_options_.insert(off);
      bool change_feed_option = false;
      for (const auto& [key, value] : opts->second.options) {
        std::string k = key, v = value;
        for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (k == "startingversion" || k == "startingtimestamp" || k == "endingversion" || k == "endingtimestamp") {
          return NotSupportedAt(opts->second.loc, "read option `" + key + "` is not built yet: a streaming read of the "
                                "change data feed starts with the table's current rows as inserts, then its changes; "
                                "for a version range use table_changes('t', start, end)");
        }
        if (k != "skipchangecommits" && k != "readchangefeed") {
          return NotSupportedAt(opts->second.loc, "read option `" + key + "` (supported: skipChangeCommits, readChangeFeed)");
        }
        if (scan->kind != PlanKind::kTableScan || !scan->streaming || scan->read_change_feed) {
          return ErrorAt(opts->second.loc, key + " applies to a streaming read of a table: STREAM(table) WITH (...)");
        }
        if (v != "true" && v != "false") return ErrorAt(opts->second.loc, key + " must be true or false");
        if (k == "readchangefeed") {
          change_feed_option = v == "true";
        } else {
          scan->skip_change_commits = v == "true";
        }
      }
      scan->read_change_feed = change_feed_option;
      if (scan->read_change_feed && scan->skip_change_commits) {
        return ErrorAt(opts->second.loc, "readChangeFeed reads every change; skipChangeCommits would drop them: use one");
      }
    }
    return Status::OK();
  }

  Result<PlanPtr> PlanRangeVar(const json& b) {
    SourceLocation loc = LocOf(b);
    if (b.contains("catalogname")) {
      return NotSupportedAt(loc, "reading `" + b.value("catalogname", "") + "." + b.value("schemaname", "") + "." +
                                     b.value("relname", "") + "`: a three-part name; another pipeline's table is "
                                     "<pipeline>.<table> (docs/catalog.md), this pipeline's the bare name");
    }
    std::string name = b.value("relname", "");
    if (b.contains("schemaname")) {
      // Another pipeline's table, resolved through the catalog (docs/catalog.md): the
      // scan carries the qualified name. A WITH query is never qualified.
      name = b.value("schemaname", "") + "." + name;
    }
    int location = b.value("location", -1);
    auto cte = ctes_.find(ToLower(name));
    if (cte != ctes_.end() && !rw_.streaming_refs.count(static_cast<size_t>(location))) {
      if (b.contains("alias")) {
        LP_RETURN_IF_ERROR(CheckAlias(b["alias"], loc));
        auto alias = std::make_shared<PlanNode>(*cte->second);
        alias->alias = b["alias"].value("aliasname", "");
        return PlanPtr(alias);
      }
      if (rw_.watermarks.count(static_cast<size_t>(location))) {
        return NotSupportedAt(loc, "WATERMARK on a WITH query");
      }
      return cte->second;
    }
    auto scan = std::make_shared<PlanNode>();
    scan->kind = PlanKind::kTableScan;
    scan->loc = loc;
    scan->table = name;
    scan->alias = name;
    if (b.contains("alias")) {
      LP_RETURN_IF_ERROR(CheckAlias(b["alias"], loc));
      scan->alias = b["alias"].value("aliasname", "");
    }
    LP_RETURN_IF_ERROR(TakeStreamAndWatermark(location, scan.get()));
    return PlanPtr(scan);
  }

  Result<std::string> OptionValue(const json& n, const std::string& option) {
    std::string type = NodeType(n);
    const json& b = Body(n);
    if (type == "A_Const") {
      if (b.contains("sval")) return b["sval"].value("sval", "");
      if (b.contains("ival")) {
        LP_ASSIGN_OR_RETURN(int64_t v, IntConst(b));
        return std::to_string(v);
      }
      if (b.contains("fval")) return b["fval"].value("fval", "");
      if (b.contains("boolval")) return std::string(b["boolval"].value("boolval", false) ? "true" : "false");
    }
    return ErrorAt(FirstLocIn(b), "option `" + option + "` must be a literal ('text', number or true/false)");
  }

  Result<PlanPtr> PlanRangeFunction(const json& b) {
    SourceLocation loc = FirstLocIn(b);
    if (b.value("lateral", false)) return NotSupportedAt(loc, "LATERAL table functions");
    if (b.value("ordinality", false)) return NotSupportedAt(loc, "WITH ORDINALITY");
    const json& fns = b["functions"];
    if (fns.size() != 1) return NotSupportedAt(loc, "ROWS FROM (...)");
    const json& items = Body(fns[0])["items"];
    if (items.empty() || NodeType(items[0]) != "FuncCall") return NotSupportedAt(loc, "this table function");
    const json& call = Body(items[0]);
    std::string fname = ToLower(Sval(call["funcname"].back()));
    loc = LocOf(call);
    if (IsStreamSourceFunction(fname)) return PlanStreamSource(b, call, fname, loc);
    if (fname == "table_changes") return PlanTableChanges(b, call, loc);
    if (fname != "read_files") {
      return NotSupportedAt(loc, "table-valued function `" + fname + "` (supported: read_files(...), read_kafka(...), "
                                     "table_changes(...); cloud_files() is the legacy spelling of read_files)");
    }
    auto scan = std::make_shared<PlanNode>();
    scan->kind = PlanKind::kReadFiles;
    scan->loc = loc;
    ReadFilesSpec& spec = scan->read_files;
    bool have_path = false;
    SourceLocation schema_loc;
    for (const json& arg : call.value("args", json::array())) {
      if (NodeType(arg) == "NamedArgExpr") {
        const json& na = Body(arg);
        std::string key = ToLower(na.value("name", ""));
        LP_ASSIGN_OR_RETURN(std::string value, OptionValue(na["arg"], key));
        if (spec.options.count(key)) return ErrorAt(LocOf(na), "read_files option `" + key + "` given twice");
        spec.options[key] = value;
        if (key == "schema") schema_loc = LocOf(na);
        continue;
      }
      if (have_path) return ErrorAt(FirstLocIn(Body(arg)), "read_files takes one path; options are written name => value");
      LP_ASSIGN_OR_RETURN(spec.path, OptionValue(arg, "path"));
      have_path = true;
    }
    if (!have_path || spec.path.empty()) return ErrorAt(loc, "read_files needs a path: read_files('/landing/orders', format => 'csv')");
    if (!options_.base_dir.empty() && spec.path[0] != '/' && spec.path.find("://") == std::string::npos) {
      spec.path = NormalizePath(options_.base_dir + "/" + spec.path);
    }
    // cleanSource's archive folder is a path as the source's is: relative to the pipeline folder.
    auto archive = spec.options.find("sourcearchivedir");
    if (archive != spec.options.end() && !options_.base_dir.empty() && !archive->second.empty() &&
        archive->second[0] != '/' && archive->second.find("://") == std::string::npos) {
      archive->second = NormalizePath(options_.base_dir + "/" + archive->second);
    }
    auto fmt = spec.options.find("format");
    if (fmt == spec.options.end()) {
      return ErrorAt(loc, "read_files needs format => 'csv' | 'json' | 'parquet' (lakepipe does not guess the format)");
    }
    spec.format = ToLower(fmt->second);
    if (spec.format != "csv" && spec.format != "json" && spec.format != "parquet") {
      return NotSupportedAt(loc, "read_files format '" + fmt->second + "' (supported: csv, json, parquet)");
    }
    auto schema = spec.options.find("schema");
    if (schema != spec.options.end()) {
      Result<Schema> parsed = Schema::ParseDDL(schema->second);
      if (!parsed.ok()) return ErrorAt(schema_loc, "read_files schema: " + parsed.status().message());
      spec.schema = *parsed;
    }
    if (spec.format != "parquet") {
      auto rescued = spec.options.find("rescueddatacolumn");
      spec.rescued_data_column = rescued == spec.options.end() ? "_rescued_data" : rescued->second;
    }
    scan->alias = "";
    if (b.contains("alias")) {
      LP_RETURN_IF_ERROR(CheckAlias(b["alias"], loc));
      scan->alias = b["alias"].value("aliasname", "");
    }
    LP_RETURN_IF_ERROR(TakeStreamAndWatermark(call.value("location", -1), scan.get()));
    if (!levels_.empty()) levels_.back().read_files_scans.push_back(scan);
    return PlanPtr(scan);
  }

  // read_kafka(name => value, ...): named arguments only; the options are checked when
  // the node is resolved (sql/stream_source.h).
  Result<PlanPtr> PlanStreamSource(const json& b, const json& call, const std::string& fname, SourceLocation loc) {
    auto scan = std::make_shared<PlanNode>();
    scan->kind = PlanKind::kReadStream;
    scan->loc = loc;
    scan->stream_source.function = fname;
    for (const json& arg : call.value("args", json::array())) {
      if (NodeType(arg) != "NamedArgExpr") {
        return ErrorAt(FirstLocIn(Body(arg)), fname + " takes named options only: " + fname +
                                                  "(bootstrapServers => 'host:9092', subscribe => 'topic')");
      }
      const json& na = Body(arg);
      std::string key = ToLower(na.value("name", ""));
      LP_ASSIGN_OR_RETURN(std::string value, OptionValue(na["arg"], key));
      if (scan->stream_source.options.count(key)) return ErrorAt(LocOf(na), fname + " option `" + key + "` given twice");
      scan->stream_source.options[key] = value;
    }
    scan->alias = "";
    if (b.contains("alias")) {
      LP_RETURN_IF_ERROR(CheckAlias(b["alias"], loc));
      scan->alias = b["alias"].value("aliasname", "");
    }
    LP_RETURN_IF_ERROR(TakeStreamAndWatermark(call.value("location", -1), scan.get()));
    return PlanPtr(scan);
  }

  // table_changes('t', start[, end]): the change data feed of pipeline table t, versions
  // start..end (a batch read; a kTableScan with read_change_feed).
  Result<PlanPtr> PlanTableChanges(const json& b, const json& call, const SourceLocation& loc) {
    const json args = call.value("args", json::array());
    const char* usage = "table_changes takes a table name and a start version, and optionally an end version: "
                        "table_changes('customers', 1) or table_changes('customers', 1, 5)";
    if (args.size() < 2 || args.size() > 3) return ErrorAt(loc, usage);
    auto scan = std::make_shared<PlanNode>();
    scan->kind = PlanKind::kTableScan;
    scan->loc = loc;
    scan->read_change_feed = true;
    for (size_t i = 0; i < args.size(); ++i) {
      const json& a = args[i];
      SourceLocation at = FirstLocIn(Body(a));
      if (NodeType(a) != "A_Const") return ErrorAt(at, usage);
      const json& c = Body(a);
      if (i == 0) {
        if (!c.contains("sval")) return ErrorAt(at, usage);
        scan->table = c["sval"].value("sval", "");
        if (scan->table.rfind("LIVE.", 0) == 0 || scan->table.rfind("live.", 0) == 0) scan->table = scan->table.substr(5);
        if (scan->table.find('.') != std::string::npos) {
          return NotSupportedAt(at, "table_changes of `" + scan->table + "`: only tables of this pipeline can be read");
        }
        continue;
      }
      if (c.contains("sval")) {
        return NotSupportedAt(at, "table_changes by timestamp is not built yet; give versions (lakepipe table history "
                                  "lists them)");
      }
      if (!c.contains("ival")) return ErrorAt(at, usage);
      LP_ASSIGN_OR_RETURN(int64_t v, IntConst(c));
      if (v < 0) return ErrorAt(at, "table_changes versions must not be negative");
      if (i == 1) scan->change_feed_start = v;
      else scan->change_feed_end = v;
    }
    if (scan->change_feed_end && *scan->change_feed_end < scan->change_feed_start) {
      return ErrorAt(loc, "table_changes: the end version is before the start version");
    }
    scan->alias = scan->table;
    if (b.contains("alias")) {
      LP_RETURN_IF_ERROR(CheckAlias(b["alias"], loc));
      scan->alias = b["alias"].value("aliasname", "");
    }
    int location = call.value("location", -1);
    if (location >= 0 && rw_.streaming_refs.count(static_cast<size_t>(location))) {
      return NotSupportedAt(loc, "STREAM table_changes(...): for a streaming read of the change data feed write "
                                 "STREAM(" + scan->table + ") WITH (readChangeFeed = true)");
    }
    LP_RETURN_IF_ERROR(TakeStreamAndWatermark(location, scan.get()));
    return PlanPtr(scan);
  }

  Result<PlanPtr> PlanJoin(const json& b) {
    LP_ASSIGN_OR_RETURN(PlanPtr left, PlanFromItem(b["larg"]));
    LP_ASSIGN_OR_RETURN(PlanPtr right, PlanFromItem(b["rarg"]));
    auto j = std::make_shared<PlanNode>();
    j->kind = PlanKind::kJoin;
    j->loc = right->loc;
    std::string type = b.value("jointype", "JOIN_INNER");
    if (type == "JOIN_INNER") {
      j->join_type = JoinType::kInner;
    } else if (type == "JOIN_LEFT") {
      j->join_type = JoinType::kLeft;
    } else if (type == "JOIN_RIGHT") {
      return NotSupportedAt(right->loc, "RIGHT JOIN (swap the tables and use LEFT JOIN)");
    } else if (type == "JOIN_FULL") {
      return NotSupportedAt(right->loc, "FULL OUTER JOIN");
    } else {
      return NotSupportedAt(right->loc, "join type " + type);
    }
    if (b.value("isNatural", false)) return NotSupportedAt(right->loc, "NATURAL JOIN (write ON a.x = b.x)");
    if (b.contains("usingClause")) return NotSupportedAt(right->loc, "JOIN ... USING (write ON a.x = b.x)");
    if (b.contains("alias")) return NotSupportedAt(right->loc, "an alias on a parenthesized join");
    if (b.contains("quals")) {
      LP_ASSIGN_OR_RETURN(j->join_condition, Translate(b["quals"]));
      LP_RETURN_IF_ERROR(RefuseAggregates(j->join_condition, "a join condition"));
    } else if (j->join_type == JoinType::kLeft) {
      return ErrorAt(right->loc, "LEFT JOIN needs an ON condition");
    }
    j->inputs = {left, right};
    return PlanPtr(j);
  }

  // ---- expressions --------------------------------------------------------------------

  Result<int64_t> IntConst(const json& a_const) {
    // libpg-query's JSON drops negative and zero ivals; read the digits from the text.
    int loc = a_const.value("location", -1);
    if (loc >= 0) {
      const std::string& t = text_.text();
      size_t i = static_cast<size_t>(loc);
      bool neg = false;
      if (i < t.size() && t[i] == '-') {
        neg = true;
        ++i;
        while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
      }
      if (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
        int64_t v = 0;
        while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) v = v * 10 + (t[i++] - '0');
        return neg ? -v : v;
      }
    }
    return a_const.contains("ival") ? a_const["ival"].value("ival", int64_t{0}) : int64_t{0};
  }

  Result<ExprPtr> TranslateConst(const json& b) {
    expr::SourcePos pos = PosOf(b);
    if (b.value("isnull", false)) return Expr::Literal(Value::Null(), DataType::Null(), pos);
    if (b.contains("ival")) {
      LP_ASSIGN_OR_RETURN(int64_t v, IntConst(b));
      return Expr::Literal(Value::Int(v, TypeId::kInt), DataType::Int(), pos);
    }
    if (b.contains("sval")) return Expr::Literal(Value::String(b["sval"].value("sval", "")), DataType::String(), pos);
    if (b.contains("boolval")) return Expr::Literal(Value::Bool(b["boolval"].value("boolval", false)), DataType::Boolean(), pos);
    if (b.contains("fval")) {
      std::string text = b["fval"].value("fval", "");
      bool exponent = text.find_first_of("eE") != std::string::npos;
      bool point = text.find('.') != std::string::npos;
      if (!exponent && !point) {
        errno = 0;
        char* end = nullptr;
        long long v = std::strtoll(text.c_str(), &end, 10);
        if (errno == 0 && end && *end == 0) return Expr::Literal(Value::Int(v, TypeId::kLong), DataType::Long(), pos);
      }
      if (exponent) return Expr::Literal(Value::Double(std::strtod(text.c_str(), nullptr)), DataType::Double(), pos);
      // Spark reads 1.5 as DECIMAL(2,1): precision = all digits, scale = digits after '.'.
      int digits = 0, scale = 0;
      bool after = false, leading = true;
      for (char c : text) {
        if (c == '.') {
          after = true;
          continue;
        }
        if (!std::isdigit(static_cast<unsigned char>(c))) continue;
        if (after) ++scale;
        if (c != '0' || after || !leading) {
          ++digits;
          leading = false;
        }
      }
      int precision = std::max(digits, scale);
      if (precision == 0) precision = 1;
      if (precision > 38) return Expr::Literal(Value::Double(std::strtod(text.c_str(), nullptr)), DataType::Double(), pos);
      Result<int128_t> unscaled = ParseDecimal(text, precision, scale);
      if (!unscaled.ok()) return ErrorAt(LocOf(b), "bad number " + text + ": " + unscaled.status().message());
      return Expr::Literal(Value::Decimal(*unscaled, precision, scale), DataType::Decimal(precision, scale), pos);
    }
    return NotSupportedAt(LocOf(b), "this kind of constant (bit strings)");
  }

  Result<DataType> TranslateType(const json& type_name, const SourceLocation& loc) {
    if (type_name.contains("arrayBounds")) return NotSupportedAt(loc, "array types written as t[]");
    std::vector<std::string> names;
    for (const json& n : type_name.value("names", json::array())) names.push_back(Sval(n));
    if (names.size() == 1) {
      Result<DataType> t = ParseDataType(names[0]);
      if (!t.ok()) return ErrorAt(loc, "unknown type `" + names[0] + "`: " + t.status().message());
      return *t;
    }
    if (names.size() == 2 && names[0] == "pg_catalog") {
      const std::string& n = names[1];
      if (n == "bool") return DataType::Boolean();
      if (n == "int2") return DataType::Short();
      if (n == "int4") return DataType::Int();
      if (n == "int8") return DataType::Long();
      if (n == "float4") return DataType::Float();
      if (n == "float8") return DataType::Double();
      if (n == "varchar" || n == "bpchar" || n == "text") return DataType::String();
      if (n == "timestamp" || n == "timestamptz") return DataType::Timestamp();
      if (n == "date") return DataType::Date();
      if (n == "interval") return NotSupportedAt(loc, "INTERVAL values");
      return NotSupportedAt(loc, "type " + n);
    }
    std::string joined;
    for (const auto& n : names) joined += (joined.empty() ? "" : ".") + n;
    return NotSupportedAt(loc, "type " + joined);
  }

  Result<std::vector<ExprPtr>> TranslateList(const json& list) {
    std::vector<ExprPtr> out;
    for (const json& n : list) {
      LP_ASSIGN_OR_RETURN(ExprPtr e, Translate(n));
      out.push_back(e);
    }
    return out;
  }

  // PostgreSQL lower-cases unquoted keywords used as names (Year, Name, Value); Spark keeps
  // the case as written. Reads the dotted name at `location` in the rewritten text and
  // takes each part's spelling from there when it matches case-insensitively.
  void RecoverCase(int location, std::vector<std::string>* parts) {
    if (location < 0) return;
    const std::string& t = text_.text();
    size_t i = static_cast<size_t>(location);
    for (size_t k = 0; k < parts->size() && i < t.size(); ++k) {
      std::string spelled;
      if (t[i] == '"') {
        size_t j = i + 1;
        while (j < t.size()) {
          if (t[j] == '"') {
            if (j + 1 < t.size() && t[j + 1] == '"') {
              spelled.push_back('"');
              j += 2;
              continue;
            }
            break;
          }
          spelled.push_back(t[j++]);
        }
        i = j + 1;
      } else {
        size_t j = i;
        while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '_' || t[j] == '$' ||
                                static_cast<unsigned char>(t[j]) >= 0x80)) {
          ++j;
        }
        spelled = t.substr(i, j - i);
        i = j;
      }
      if (EqualsIgnoreCase(spelled, (*parts)[k])) (*parts)[k] = spelled;
      while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
      if (i >= t.size() || t[i] != '.') return;
      ++i;
      while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
    }
  }

  Result<ExprPtr> TranslateColumnRef(const json& b) {
    SourceLocation loc = LocOf(b);
    expr::SourcePos pos = Pos(loc);
    std::vector<std::string> parts;
    for (const json& f : b["fields"]) {
      if (NodeType(f) == "A_Star") return ErrorAt(loc, "* is only allowed in the select list and count(*)");
      parts.push_back(Sval(f));
    }
    RecoverCase(b.value("location", -1), &parts);
    auto metadata = [&](const std::string& qualifier, const std::string& field) -> Result<ExprPtr> {
      std::string f = ToLower(field);
      if (!MetadataFields().count(f)) {
        return ErrorAt(loc, "unknown _metadata field `" + field +
                                "`; available: file_path, file_name, file_size, file_modification_time, "
                                "file_block_start, file_block_length");
      }
      if (levels_.empty()) return ErrorAt(loc, "_metadata." + f + " is only available in a query over read_files(...)");
      levels_.back().metadata_refs.push_back({qualifier, f, loc});
      return Expr::Column("_metadata." + f, qualifier, pos);
    };
    if (parts.size() == 1) {
      if (EqualsIgnoreCase(parts[0], "_metadata")) return NotSupportedAt(loc, "the whole _metadata struct; name a field such as _metadata.file_path");
      return Expr::Column(parts[0], "", pos);
    }
    if (parts.size() == 2) {
      if (EqualsIgnoreCase(parts[0], "_metadata")) return metadata("", parts[1]);
      return Expr::Column(parts[1], parts[0], pos);
    }
    if (parts.size() == 3 && EqualsIgnoreCase(parts[1], "_metadata")) return metadata(parts[0], parts[2]);
    // a.b.c.d: `a.b` is a table's column or a struct's field (the binder decides), and
    // every further part is a field of what precedes it.
    ExprPtr e = Expr::Column(parts[1], parts[0], pos);
    for (size_t i = 2; i < parts.size(); ++i) e = FieldAccess(e, parts[i], pos);
    return e;
  }

  static ExprPtr FieldAccess(ExprPtr base, const std::string& field, expr::SourcePos pos) {
    return Expr::Call("get_field", {std::move(base), Expr::Literal(Value::String(field), DataType::String(), pos)}, pos);
  }

  // expr[k], expr[k].field, (expr).field: subscripts and field access after any expression.
  Result<ExprPtr> TranslateIndirection(const json& b) {
    LP_ASSIGN_OR_RETURN(ExprPtr e, Translate(b["arg"]));
    for (const json& step : b["indirection"]) {
      std::string kind = NodeType(step);
      const json& sb = Body(step);
      SourceLocation loc = FirstLocIn(sb).line > 0 ? FirstLocIn(sb) : LocFromPos(e->pos);
      if (kind == "String") {
        e = FieldAccess(e, Sval(step), e->pos);
      } else if (kind == "A_Indices") {
        if (sb.value("is_slice", false) || !sb.contains("uidx")) return NotSupportedAt(loc, "array slices x[a:b] (use slice(x, start, length))");
        LP_ASSIGN_OR_RETURN(ExprPtr k, Translate(sb["uidx"]));
        e = Expr::Call("subscript", {e, k}, e->pos);
      } else if (kind == "A_Star") {
        return NotSupportedAt(loc, "x.* on an expression (name the fields)");
      } else {
        return NotSupportedAt(loc, "indirection " + kind);
      }
    }
    return e;
  }

  Result<ExprPtr> TranslateFuncCall(const json& b) {
    SourceLocation loc = LocOf(b);
    expr::SourcePos pos = Pos(loc);
    std::vector<std::string> names;
    for (const json& n : b["funcname"]) names.push_back(Sval(n));
    std::string name = ToLower(names.back());
    if (names.size() > 1 && names[0] != "pg_catalog") {
      return NotSupportedAt(loc, "qualified function name " + names[0] + "." + names.back());
    }
    if (b.contains("agg_order") || b.value("agg_within_group", false)) {
      return NotSupportedAt(loc, "ORDER BY inside aggregate " + name);
    }
    if (b.value("func_variadic", false)) return NotSupportedAt(loc, "VARIADIC arguments");
    const bool is_window = b.contains("over");
    if (is_window && (windows_ == nullptr || window_depth_ > 0)) {
      return ErrorAt(loc, "window function `" + name + "` is not allowed here; window functions go in the select "
                          "list or in QUALIFY (not in WHERE, GROUP BY, HAVING, ORDER BY or another window function)");
    }
    if (is_window) ++window_depth_;
    struct LeaveArgs {
      int* d;
      bool on;
      ~LeaveArgs() { if (on) --*d; }
    } leave_args{&window_depth_, is_window};
    std::vector<ExprPtr> args;
    for (const json& a : b.value("args", json::array())) {
      if (NodeType(a) == "NamedArgExpr") {
        return NotSupportedAt(LocOf(Body(a)), "named arguments (name => value) outside read_files");
      }
      LP_ASSIGN_OR_RETURN(ExprPtr e, Translate(a));
      args.push_back(e);
    }
    bool distinct = b.value("agg_distinct", false);
    if (b.contains("over")) {
      if (b.value("agg_star", false) && name != "count") return ErrorAt(loc, name + "(*) is not valid; only count(*)");
      if (name == "count" && (b.value("agg_star", false) ||
                              (args.size() == 1 && args[0]->kind == expr::ExprKind::kLiteral && !args[0]->literal.is_null()))) {
        args.clear();  // count(*) / count(1)
      }
      return TranslateWindowCall(b["over"], Expr::Call(name, std::move(args), pos, distinct), loc);
    }
    if (b.value("agg_star", false)) {
      if (name != "count") return ErrorAt(loc, name + "(*) is not valid; only count(*)");
      if (!b.contains("agg_filter")) return Expr::Call("count", {}, pos, false);
    }
    bool sql_syntax = b.value("funcformat", "") == "COERCE_SQL_SYNTAX";
    if (sql_syntax) {
      if (name == "extract" || name == "date_part") {
        if (args.size() != 2 || args[0]->kind != expr::ExprKind::kLiteral || args[0]->literal.is_null()) {
          return ErrorAt(loc, "EXTRACT(field FROM value)");
        }
        std::string field = ToLower(args[0]->literal.string_value());
        static const std::map<std::string, std::string> kFields = {
            {"year", "year"}, {"month", "month"}, {"day", "day"}, {"hour", "hour"},
            {"minute", "minute"}, {"second", "second"}, {"quarter", "quarter"},
            {"week", "weekofyear"}, {"doy", "dayofyear"}};
        auto it = kFields.find(field);
        if (it == kFields.end()) return NotSupportedAt(loc, "EXTRACT(" + field + " FROM ...)");
        return Expr::Call(it->second, {args[1]}, pos);
      }
      if (name == "position" && args.size() == 2) return Expr::Call("position", {args[1], args[0]}, pos);
      if (name == "btrim" && args.size() == 1) return Expr::Call("trim", args, pos);
      if ((name == "ltrim" || name == "rtrim" || name == "btrim") && args.size() == 2) {
        return Expr::Call(name, args, pos);
      }
      if (name == "substring") return Expr::Call("substring", args, pos);
      if (name == "like_escape" || name == "similar_to_escape") return NotSupportedAt(loc, "LIKE ... ESCAPE");
      if (name == "timezone") return NotSupportedAt(loc, "AT TIME ZONE (use from_utc_timestamp)");
      return NotSupportedAt(loc, "the SQL-syntax form of " + name);
    }
    if (name == "mean") name = "avg";
    if (IsUnbuiltAggregate(name)) {
      return NotSupportedAt(loc, "not built yet: aggregate function `" + name + "` (docs/functions.md lists the aggregates lakepipe runs)");
    }
    const bool aggregate = expr::IsAggregateFunction(name);
    if (distinct && !aggregate) return ErrorAt(loc, "DISTINCT is only allowed in aggregate functions");
    ExprPtr filter;
    if (b.contains("agg_filter")) {
      if (!aggregate) return ErrorAt(loc, "FILTER (WHERE ...) is only allowed on aggregate functions, not " + name);
      LP_ASSIGN_OR_RETURN(filter, Translate(b["agg_filter"]));
      if (ContainsAggregate(filter)) return ErrorAt(LocFromPos(filter->pos), "aggregate inside FILTER (WHERE ...) of " + name);
    }
    if (name == "count" && args.size() == 1 && args[0]->kind == expr::ExprKind::kLiteral &&
        !args[0]->literal.is_null() && !distinct) {
      args.clear();  // count(1) == count(*)
    }
    if (name == "try_cast" || name == "cast") return ErrorAt(loc, name + " needs the form " + name + "(x AS type)");
    if (!filter) return Expr::Call(name, std::move(args), pos, distinct);
    auto call = std::make_shared<Expr>(*Expr::Call(name, std::move(args), pos, distinct));
    call->filter = filter;
    return ExprPtr(call);
  }

  Result<ExprPtr> Translate(const json& node) {
    std::string type = NodeType(node);
    if (type.empty()) return Status::Internal("empty node in libpg-query's parse tree");
    const json& b = Body(node);
    SourceLocation loc = LocOf(b);
    expr::SourcePos pos = Pos(loc);
    // Translation, binding and evaluation all recurse over the expression tree: the depth
    // is bounded here so that `1+1+...` with thousands of terms is an error, not a crash.
    struct DepthGuard {
      int* d;
      explicit DepthGuard(int* depth) : d(depth) { ++*d; }
      ~DepthGuard() { --*d; }
    } guard(&expr_depth_);
    if (expr_depth_ > kMaxExpressionDepth) {
      return ErrorAt(loc, "expression nested deeper than " + std::to_string(kMaxExpressionDepth) +
                              " levels (a long chain such as a+b+c+...: sum the values in a "
                              "subquery or split the expression)");
    }
    if (type == "ColumnRef") return TranslateColumnRef(b);
    if (type == "A_Const") return TranslateConst(b);
    if (type == "TypeCast") {
      LP_ASSIGN_OR_RETURN(ExprPtr arg, Translate(b["arg"]));
      LP_ASSIGN_OR_RETURN(DataType t, TranslateType(b["typeName"], loc));
      int location = b.value("location", -1);
      bool is_try = location >= 0 && rw_.try_casts.count(static_cast<size_t>(location));
      return Expr::Cast(arg, t, is_try, pos);
    }
    if (type == "FuncCall") return TranslateFuncCall(b);
    if (type == "BoolExpr") {
      std::string op = b.value("boolop", "");
      LP_ASSIGN_OR_RETURN(std::vector<ExprPtr> args, TranslateList(b["args"]));
      if (op == "NOT_EXPR") return Expr::Call("not", args, pos);
      // PostgreSQL's parser flattens `a OR b OR c ...` into one list. A short list folds
      // to the left, as written; a long one becomes a balanced tree in the same order, so
      // the depth stays logarithmic (10,000 ORs nest 14 deep, not 10,000).
      std::string fn = op == "AND_EXPR" ? "and" : "or";
      if (args.size() <= 64) {
        ExprPtr acc = args[0];
        for (size_t i = 1; i < args.size(); ++i) acc = Expr::Call(fn, {acc, args[i]}, args[i]->pos);
        return acc;
      }
      auto build = [&](auto& self, size_t lo, size_t hi) -> ExprPtr {
        if (hi - lo == 1) return args[lo];
        size_t mid = lo + (hi - lo) / 2;
        ExprPtr l = self(self, lo, mid);
        ExprPtr r = self(self, mid, hi);
        return Expr::Call(fn, {l, r}, args[mid]->pos);
      };
      return build(build, 0, args.size());
    }
    if (type == "NullTest") {
      LP_ASSIGN_OR_RETURN(ExprPtr arg, Translate(b["arg"]));
      bool is_null = b.value("nulltesttype", "IS_NULL") == "IS_NULL";
      return Expr::Call(is_null ? "is_null" : "is_not_null", {arg}, pos);
    }
    if (type == "BooleanTest") {
      LP_ASSIGN_OR_RETURN(ExprPtr arg, Translate(b["arg"]));
      std::string t = b.value("booltesttype", "");
      auto lit = [&](bool v) { return Expr::Literal(Value::Bool(v), DataType::Boolean(), pos); };
      if (t == "IS_TRUE") return Expr::Call("<=>", {arg, lit(true)}, pos);
      if (t == "IS_NOT_TRUE") return Expr::Call("not", {Expr::Call("<=>", {arg, lit(true)}, pos)}, pos);
      if (t == "IS_FALSE") return Expr::Call("<=>", {arg, lit(false)}, pos);
      if (t == "IS_NOT_FALSE") return Expr::Call("not", {Expr::Call("<=>", {arg, lit(false)}, pos)}, pos);
      if (t == "IS_UNKNOWN") return Expr::Call("is_null", {arg}, pos);
      return Expr::Call("is_not_null", {arg}, pos);
    }
    if (type == "A_Expr") return TranslateAExpr(b);
    if (type == "CaseExpr") {
      ExprPtr subject;
      if (b.contains("arg")) {
        LP_ASSIGN_OR_RETURN(subject, Translate(b["arg"]));
      }
      std::vector<ExprPtr> args;
      for (const json& w_node : b["args"]) {
        const json& w = Body(w_node);
        LP_ASSIGN_OR_RETURN(ExprPtr cond, Translate(w["expr"]));
        if (subject) cond = Expr::Call("=", {subject, cond}, cond->pos);
        LP_ASSIGN_OR_RETURN(ExprPtr result, Translate(w["result"]));
        args.push_back(cond);
        args.push_back(result);
      }
      if (b.contains("defresult")) {
        LP_ASSIGN_OR_RETURN(ExprPtr d, Translate(b["defresult"]));
        args.push_back(d);
      }
      return Expr::Call("case", std::move(args), pos);
    }
    if (type == "CoalesceExpr") {
      LP_ASSIGN_OR_RETURN(std::vector<ExprPtr> args, TranslateList(b["args"]));
      return Expr::Call("coalesce", std::move(args), pos);
    }
    if (type == "MinMaxExpr") {
      LP_ASSIGN_OR_RETURN(std::vector<ExprPtr> args, TranslateList(b["args"]));
      return Expr::Call(b.value("op", "") == "IS_GREATEST" ? "greatest" : "least", std::move(args), pos);
    }
    if (type == "SQLValueFunction") {
      std::string op = b.value("op", "");
      if (op == "SVFOP_CURRENT_TIMESTAMP" || op == "SVFOP_LOCALTIMESTAMP") return Expr::Call("current_timestamp", {}, pos);
      if (op == "SVFOP_CURRENT_DATE") return Expr::Call("current_date", {}, pos);
      return NotSupportedAt(loc, "SQL value function " + op.substr(6));
    }
    if (type == "SubLink") {
      return NotSupportedAt(loc, "subqueries inside expressions (IN (SELECT ...), EXISTS, scalar subqueries); join instead");
    }
    if (type == "A_Indirection") return TranslateIndirection(b);
    if (type == "A_ArrayExpr") return NotSupportedAt(loc, "ARRAY[...] constructors");
    if (type == "RowExpr") return NotSupportedAt(loc, "row constructors");
    if (type == "CollateClause") return NotSupportedAt(loc, "COLLATE");
    if (type == "ParamRef") return NotSupportedAt(loc, "$n parameters");
    if (type == "GroupingFunc") {
      // PostgreSQL's GROUPING(a, b) is Spark's grouping_id(a, b); GROUPING(a) is grouping(a).
      LP_ASSIGN_OR_RETURN(std::vector<ExprPtr> args, TranslateList(b["args"]));
      return Expr::Call(args.size() == 1 ? "grouping" : "grouping_id", std::move(args), pos);
    }
    return NotSupportedAt(FirstLocIn(b), "expression " + type);
  }

  Result<ExprPtr> TranslateAExpr(const json& b) {
    SourceLocation loc = LocOf(b);
    expr::SourcePos pos = Pos(loc);
    std::string kind = b.value("kind", "");
    std::string op = b.contains("name") && !b["name"].empty() ? Sval(b["name"].back()) : "";
    ExprPtr l, r;
    if (b.contains("lexpr")) {
      LP_ASSIGN_OR_RETURN(l, Translate(b["lexpr"]));
    }
    auto right = [&]() -> Result<ExprPtr> { return Translate(b["rexpr"]); };
    if (kind == "AEXPR_OP") {
      LP_ASSIGN_OR_RETURN(r, right());
      if (!l) {
        if (op == "-") return Expr::Call("negate", {r}, pos);
        if (op == "+") return r;
        return NotSupportedAt(loc, "prefix operator " + op);
      }
      static const std::map<std::string, std::string> kOps = {
          {"+", "+"}, {"-", "-"}, {"*", "*"}, {"/", "/"}, {"%", "%"}, {"=", "="}, {"==", "="},
          {"<>", "<>"}, {"!=", "<>"}, {"<", "<"}, {"<=", "<="}, {">", ">"}, {">=", ">="},
          {"<=>", "<=>"}, {"||", "||"}, {"~", "rlike"}};
      auto it = kOps.find(op);
      if (it == kOps.end()) return NotSupportedAt(loc, "operator " + op);
      return Expr::Call(it->second, {l, r}, pos);
    }
    if (kind == "AEXPR_DISTINCT" || kind == "AEXPR_NOT_DISTINCT") {
      LP_ASSIGN_OR_RETURN(r, right());
      ExprPtr eq = Expr::Call("<=>", {l, r}, pos);
      return kind == "AEXPR_DISTINCT" ? Expr::Call("not", {eq}, pos) : eq;
    }
    if (kind == "AEXPR_NULLIF") {
      LP_ASSIGN_OR_RETURN(r, right());
      return Expr::Call("nullif", {l, r}, pos);
    }
    if (kind == "AEXPR_IN") {
      if (NodeType(b["rexpr"]) != "List") return NotSupportedAt(loc, "IN with a subquery; join instead");
      LP_ASSIGN_OR_RETURN(std::vector<ExprPtr> list, TranslateList(Body(b["rexpr"])["items"]));
      std::vector<ExprPtr> args = {l};
      for (auto& e : list) args.push_back(e);
      ExprPtr in = Expr::Call("in", std::move(args), pos);
      return op == "<>" ? Expr::Call("not", {in}, pos) : in;
    }
    if (kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE") {
      LP_ASSIGN_OR_RETURN(r, right());
      ExprPtr like = Expr::Call(kind == "AEXPR_LIKE" ? "like" : "ilike", {l, r}, pos);
      return op.rfind("!", 0) == 0 ? Expr::Call("not", {like}, pos) : like;
    }
    if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN") {
      const json& items = Body(b["rexpr"])["items"];
      LP_ASSIGN_OR_RETURN(ExprPtr lo, Translate(items[0]));
      LP_ASSIGN_OR_RETURN(ExprPtr hi, Translate(items[1]));
      ExprPtr between = Expr::Call("and", {Expr::Call(">=", {l, lo}, pos), Expr::Call("<=", {l, hi}, pos)}, pos);
      return kind == "AEXPR_BETWEEN" ? between : Expr::Call("not", {between}, pos);
    }
    if (kind == "AEXPR_BETWEEN_SYM" || kind == "AEXPR_NOT_BETWEEN_SYM") return NotSupportedAt(loc, "BETWEEN SYMMETRIC");
    if (kind == "AEXPR_SIMILAR") return NotSupportedAt(loc, "SIMILAR TO (use RLIKE)");
    if (kind == "AEXPR_OP_ANY" || kind == "AEXPR_OP_ALL") return NotSupportedAt(loc, "ANY / ALL");
    return NotSupportedAt(loc, "operator kind " + kind);
  }

  const RewrittenSql& rw_;
  const MappedText& text_;
  PlanOptions options_;
  std::map<std::string, PlanPtr> ctes_;
  std::vector<Level> levels_;
  std::set<size_t> consumed_streams_;
  std::set<size_t> consumed_watermarks_;
  std::set<size_t> consumed_options_;
  std::set<size_t> consumed_excepts_;
  int expr_depth_ = 0;  // Translate() calls in progress
  // The window functions of the SELECT being planned (null where they are not allowed),
  // its WINDOW clause, and how deep inside a window function's own expressions we are.
  std::vector<PendingWindow>* windows_ = nullptr;
  std::map<std::string, const json*>* named_windows_ = nullptr;
  int window_depth_ = 0;
  bool grouping_sets_ = false;  // the aggregate being planned has grouping sets
};

// Runs libpg-query over the rewritten text: the statements as JSON, or a syntax error
// mapped back to the original file:line:col.
Result<json> ParseWithPostgres(const MappedText& text) {
  PgQueryParseResult r = pg_query_parse(text.text().c_str());
  if (r.error) {
    int cursor = r.error->cursorpos > 0 ? r.error->cursorpos - 1 : 0;
    std::string message = r.error->message ? r.error->message : "syntax error";
    pg_query_free_parse_result(r);
    return ErrorAt(text.Locate(static_cast<size_t>(cursor)), message);
  }
  json tree = json::parse(r.parse_tree, nullptr, /*allow_exceptions=*/false);
  pg_query_free_parse_result(r);
  if (tree.is_discarded()) return Status::Internal("libpg-query returned malformed JSON");
  return tree;
}

}  // namespace

Result<PlanPtr> PlanQuery(const MappedText& sql, const PlanOptions& options) {
  LP_ASSIGN_OR_RETURN(RewrittenSql rw, RewriteSparkSql(sql));
  LP_ASSIGN_OR_RETURN(json tree, ParseWithPostgres(rw.text));
  const json& stmts = tree.value("stmts", json::array());
  if (stmts.size() != 1) {
    return ErrorAt(sql.Locate(0), stmts.empty() ? "expected a SELECT query" : "expected one query, found several (a missing ; ?)");
  }
  const json& stmt = stmts[0].value("stmt", json::object());
  if (NodeType(stmt) != "SelectStmt") {
    return ErrorAt(sql.Locate(0), "expected a SELECT query, found " + NodeType(stmt));
  }
  Planner planner(rw, options);
  return planner.PlanTop(stmt);
}

Result<ExprPtr> ParseExpression(const MappedText& sql) {
  MappedText wrapped;
  wrapped.set_file(sql.file());
  wrapped.AppendSynthetic("SELECT ", sql.OriginOf(0));
  wrapped.AppendMapped(sql, 0, sql.text().size());
  LP_ASSIGN_OR_RETURN(RewrittenSql rw, RewriteSparkSql(wrapped));
  LP_ASSIGN_OR_RETURN(json tree, ParseWithPostgres(rw.text));
  const json& stmts = tree.value("stmts", json::array());
  if (stmts.size() != 1) return ErrorAt(sql.Locate(0), "expected one expression");
  const json& stmt = stmts[0].value("stmt", json::object());
  if (NodeType(stmt) != "SelectStmt") return ErrorAt(sql.Locate(0), "expected an expression");
  const json& s = Body(stmt);
  if (s.contains("fromClause") || s.contains("whereClause") || !s.contains("targetList") ||
      s["targetList"].size() != 1 || s.value("op", "SETOP_NONE") != "SETOP_NONE") {
    return ErrorAt(sql.Locate(0), "expected one expression");
  }
  const json& target = Body(s["targetList"][0]);
  if (target.contains("name")) return ErrorAt(sql.Locate(0), "expected an expression without an alias");
  Planner planner(rw, {});
  LP_ASSIGN_OR_RETURN(ExprPtr e, planner.TranslateTopExpr(target["val"]));
  return e;
}

}  // namespace lakepipe::sql
