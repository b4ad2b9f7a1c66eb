#include "sql/resolve.h"

#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "common/path_within.h"
#include "expr/binder.h"
#include "expr/generator.h"
#include "formats/options/read_options.h"
#include "sql/lexer.h"
#include "sql/pipeline_catalog.h"
#include "sql/stream_join.h"
#include "sql/stream_source.h"
#include "sql/streaming_rules.h"
#include "sql/table_properties.h"
#include "sql/window.h"
#include "sql/time_window.h"

namespace lakepipe::sql {

using expr::Expr;
using expr::ExprPtr;

namespace {

// The binder reports "line:col: message"; add the file in front.
Status InFile(const Status& s, const std::string& file) {
  if (s.ok()) return s;
  const std::string& m = s.message();
  std::string message = !m.empty() && std::isdigit(static_cast<unsigned char>(m[0])) ? file + ":" + m : file + ": " + m;
  return Status(s.code(), message);
}

// Not matched by `*`: read_files' _metadata columns and kWindow's `$window<i>` results
// (a select-list generator's columns are left out by their `$gen<i>` qualifier).
bool IsHidden(const std::string& name) {
  return name.rfind("_metadata.", 0) == 0 || name.rfind("$window", 0) == 0 || name.rfind("$order", 0) == 0;
}

DataType MetadataType(const std::string& field) {
  if (field == "file_size" || field == "file_block_start" || field == "file_block_length") return DataType::Long();
  if (field == "file_modification_time") return DataType::Timestamp();
  return DataType::String();
}

ExprPtr StripQualifiers(const ExprPtr& e) {
  if (e->kind == expr::ExprKind::kColumn) return e->qualifier.empty() ? e : Expr::Column(e->name, "", e->pos);
  if (e->args.empty()) return e;
  std::vector<ExprPtr> args;
  for (const auto& a : e->args) args.push_back(StripQualifiers(a));
  if (e->kind == expr::ExprKind::kCast) return Expr::Cast(args[0], e->cast_type, e->try_cast, e->pos);
  return Expr::Call(e->function, std::move(args), e->pos, e->distinct);
}

void SplitConjuncts(const ExprPtr& e, std::vector<ExprPtr>* out) {
  if (e->kind == expr::ExprKind::kCall && e->function == "and" && e->args.size() == 2) {
    SplitConjuncts(e->args[0], out);
    SplitConjuncts(e->args[1], out);
    return;
  }
  out->push_back(e);
}

class Resolver {
 public:
  Resolver(const TableSchemaLookup& tables, const ReadFilesSchemaLookup& files, ReadFilesScanContext where)
      : tables_(tables), files_(files), where_(std::move(where)) {}

  Result<PlanPtr> Resolve(const PlanPtr& plan) {
    auto out = std::make_shared<PlanNode>(*plan);
    out->inputs.clear();
    for (const auto& in : plan->inputs) {
      LP_ASSIGN_OR_RETURN(PlanPtr r, Resolve(in));
      out->inputs.push_back(r);
    }
    LP_RETURN_IF_ERROR(ResolveNode(out.get()));
    out->resolved = true;
    if (out->kind == PlanKind::kSort) {
      if (PlanPtr dropped = DropCarriedSortKeys(out)) return dropped;
    }
    return PlanPtr(out);
  }

 private:
  Result<expr::BoundExpr> Bind(const ExprPtr& e, const PlanNode& input, const SourceLocation& where,
                               bool allow_aggregates = false) {
    return Bind(e, input.schema, input.qualifiers, where, allow_aggregates);
  }
  Result<expr::BoundExpr> Bind(const ExprPtr& e, const Schema& schema, const std::vector<QualifiedRange>& qualifiers,
                               const SourceLocation& where, bool allow_aggregates = false) {
    expr::BindContext ctx;
    ctx.qualifiers = qualifiers;
    ctx.allow_aggregates = allow_aggregates;
    Result<expr::BoundExpr> b = expr::Bind(*e, schema, ctx);
    if (!b.ok()) return InFile(b.status(), where.file);
    return b;
  }

  static std::vector<QualifiedRange> Whole(const std::string& alias, const Schema& schema) {
    if (alias.empty()) return {};
    return {QualifiedRange{alias, 0, static_cast<int>(schema.size())}};
  }

  // cleanSource (runtime/source_cleaner.h) on one scan; CheckCleanedFolders checks the
  // pipeline's other readers of the folder.
  static Status CheckCleanSource(const PlanNode& n, const formats::FileSourceSettings& source) {
    if (source.clean_source == formats::CleanSourceMode::kOff) return Status::OK();
    if (!n.streaming) {
      return ErrorAt(n.loc, "read_files option cleanSource cleans the files a stream has committed, but this is a "
                            "batch read (it reads the whole folder each time): read FROM STREAM read_files(...) in a "
                            "streaming table, or leave the option out");
    }
    const std::string& dir = source.source_archive_dir;
    const std::string& path = n.read_files.path;
    if (source.clean_source == formats::CleanSourceMode::kArchive &&
        (PathIsWithin(dir, path) || PathIsWithin(path, dir))) {
      // Spark refuses an archive folder whose path meets the source's at their common depth.
      bool above = !PathIsWithin(dir, path);
      return ErrorAt(n.loc, "read_files option sourceArchiveDir '" + dir + "' " +
                                (above ? "holds" : "is, or lies inside,") + " the source folder " + path +
                                ": archived files (moved under it with their whole path) could be listed again as "
                                "new ones (Spark refuses this too); choose a folder outside " + path);
    }
    return Status::OK();
  }

  Status ResolveNode(PlanNode* n) {
    switch (n->kind) {
      case PlanKind::kTableScan: {
        LP_ASSIGN_OR_RETURN(n->schema, tables_(n->table, n->loc));
        if (n->read_change_feed) {
          // The change data feed's columns (delta/change_feed.h: ChangeFeedSchema).
          for (const char* c : {"_change_type", "_commit_version", "_commit_timestamp"}) {
            if (n->schema.FindField(c) >= 0) {
              return ErrorAt(n->loc, "table `" + n->table + "` has a column named " + c +
                                         ", which its change data feed adds itself");
            }
          }
          n->schema.AddField(Field{"_change_type", DataType::String(), true});
          n->schema.AddField(Field{"_commit_version", DataType::Long(), true});
          n->schema.AddField(Field{"_commit_timestamp", DataType::Timestamp(), true});
        }
        n->qualifiers = Whole(n->alias, n->schema);
        return CheckWatermark(n);
      }
      case PlanKind::kReadFiles: {
        ReadFilesSpec& spec = n->read_files;
        // The reader options, checked by the same function `run` builds its readers with.
        auto settings = formats::ReadFilesSettingsFrom(spec.options);
        if (!settings.ok()) {
          return Status(settings.status().code(), n->loc.ToString() + ": " + settings.status().message());
        }
        LP_RETURN_IF_ERROR(CheckCleanSource(*n, settings->source));
        if (!spec.schema) {
          if (!files_) {
            return NotSupportedAt(n->loc, "read_files without schema => '...' needs the files to infer it from, "
                                          "which this statement cannot read; give the columns, e.g. "
                                          "schema => 'id BIGINT, name STRING'");
          }
          ReadFilesScanContext where = where_;
          where.scan_index = scans_++;
          where.streaming = n->streaming;
          auto inferred = files_(spec, where);
          if (!inferred.ok()) {
            return Status(inferred.status().code(), n->loc.ToString() + ": " + inferred.status().message());
          }
          spec.schema = std::move(inferred->schema);
          spec.schema_inferred = true;
          spec.schema_location = std::move(inferred->location);
          spec.schema_version = inferred->version;
        }
        Schema s = *spec.schema;
        if (!spec.rescued_data_column.empty()) {
          if (s.FindField(spec.rescued_data_column) >= 0) {
            return ErrorAt(n->loc, "read_files schema already has a column named " + spec.rescued_data_column +
                                       " (the rescued data column)");
          }
          s.AddField(Field{spec.rescued_data_column, DataType::String(), true});
        }
        for (const std::string& m : spec.metadata_columns) s.AddField(Field{"_metadata." + m, MetadataType(m), false});
        n->schema = s;
        n->qualifiers = Whole(n->alias, n->schema);
        return CheckWatermark(n);
      }
      case PlanKind::kReadStream: {
        if (!n->streaming) {
          return NotSupportedAt(n->loc, "not built yet: a batch read of " + n->stream_source.function +
                                            "(...); read it as a stream, FROM STREAM " + n->stream_source.function +
                                            "(...), in a streaming table");
        }
        auto schema = StreamSourceSchema(n->stream_source);
        if (!schema.ok()) return Status(schema.status().code(), n->loc.ToString() + ": " + schema.status().message());
        n->schema = *schema;
        n->qualifiers = Whole(n->alias, n->schema);
        return CheckWatermark(n);
      }
      case PlanKind::kFilter: {
        const PlanNode& in = *n->inputs[0];
        LP_ASSIGN_OR_RETURN(expr::BoundExpr b, Bind(n->predicate, in, n->loc));
        if (b.type.id() != TypeId::kBoolean && b.type.id() != TypeId::kNull) {
          return ErrorAt(LocOf(n->predicate, n->loc), "condition `" + n->predicate->ToString() + "` is " +
                                                          b.type.ToString() + ", not boolean");
        }
        n->schema = in.schema;
        n->qualifiers = in.qualifiers;
        return Status::OK();
      }
      case PlanKind::kProject: return ResolveProject(n);
      case PlanKind::kAggregate: {
        const PlanNode& in = *n->inputs[0];
        Schema s;
        for (size_t i = 0; i < n->group_keys.size(); ++i) {
          const NamedExpr& k = n->group_keys[i];
          const std::string alias = i < n->group_key_aliases.size() ? n->group_key_aliases[i] : "";
          if (!alias.empty() && in.schema.FindField(alias) >= 0) {
            return ErrorAt(LocOf(k.expr, n->loc), "GROUP BY `" + alias +
                                                      "` is both an input column and a select-list alias; "
                                                      "write the expression or its position instead");
          }
          if (IsTimeWindowCall(*k.expr)) {
            LP_ASSIGN_OR_RETURN(DataType t, ResolveTimeWindow(*n, *k.expr, in));
            s.AddField(Field{k.name, t, true});
            continue;
          }
          LP_ASSIGN_OR_RETURN(expr::BoundExpr b, Bind(k.expr, in, n->loc));
          s.AddField(Field{k.name, b.type, b.nullable || !n->grouping_ids.empty()});
        }
        if (!n->grouping_ids.empty()) s.AddField(Field{"_grouping_id", DataType::Long(), false});
        for (const auto& a : n->aggregates) {
          LP_ASSIGN_OR_RETURN(expr::BoundExpr b, Bind(a.expr, in, n->loc, /*allow_aggregates=*/true));
          s.AddField(Field{a.name, b.type, b.nullable});
        }
        n->schema = s;
        n->qualifiers.clear();
        return Status::OK();
      }
      case PlanKind::kJoin: return ResolveJoin(n);
      case PlanKind::kUnionAll: {
        const PlanNode& first = *n->inputs[0];
        Schema s = first.schema;
        for (size_t i = 1; i < n->inputs.size(); ++i) {
          const PlanNode& other = *n->inputs[i];
          if (other.schema.size() != s.size()) {
            return ErrorAt(other.loc, "UNION ALL: this query has " + std::to_string(other.schema.size()) +
                                          " columns, the first has " + std::to_string(s.size()) + " (" +
                                          first.loc.ToString() + ")");
          }
          for (size_t c = 0; c < s.size(); ++c) {
            Result<DataType> t = expr::CommonType(s.field(c).type, other.schema.field(c).type);
            if (!t.ok()) {
              return ErrorAt(other.loc, "UNION ALL column " + std::to_string(c + 1) + " (`" + s.field(c).name +
                                            "`): " + t.status().message());
            }
            s.mutable_fields()[c].type = *t;
            s.mutable_fields()[c].nullable = s.field(c).nullable || other.schema.field(c).nullable;
          }
        }
        n->schema = s;
        n->qualifiers.clear();
        return Status::OK();
      }
      case PlanKind::kSort: return ResolveSort(n);
      case PlanKind::kLimit:
      case PlanKind::kDistinct:
        n->schema = n->inputs[0]->schema;
        n->qualifiers = n->inputs[0]->qualifiers;
        return Status::OK();
      case PlanKind::kSubqueryAlias:
        n->schema = n->inputs[0]->schema;
        n->qualifiers = Whole(n->alias, n->schema);
        return Status::OK();
      case PlanKind::kGenerate: {
        const PlanNode& in = *n->inputs[0];
        expr::BindContext ctx;
        ctx.qualifiers = in.qualifiers;
        auto g = expr::BindGenerator(*n->generator, in.schema, ctx);
        if (!g.ok()) return InFile(g.status(), n->loc.file);
        if (!n->generator_names.empty() && n->generator_names.size() != g->outputs.size()) {
          return ErrorAt(n->loc, "`" + n->generator->ToString() + "` gives " + std::to_string(g->outputs.size()) +
                                     " columns, but " + std::to_string(n->generator_names.size()) + " names are given");
        }
        Schema s = in.schema;
        for (size_t i = 0; i < g->outputs.size(); ++i) {
          Field f = g->outputs[i];
          if (!n->generator_names.empty()) f.name = n->generator_names[i];
          s.AddField(f);
        }
        n->qualifiers = in.qualifiers;
        if (!n->generator_alias.empty()) {
          n->qualifiers.push_back(QualifiedRange{n->generator_alias, static_cast<int>(in.schema.size()), static_cast<int>(s.size())});
        }
        n->schema = s;
        return Status::OK();
      }
      case PlanKind::kWindow: {
        const PlanNode& in = *n->inputs[0];
        expr::BindContext ctx;
        ctx.qualifiers = in.qualifiers;
        Schema s = in.schema;
        for (const WindowFunction& w : n->window_functions) {
          LP_ASSIGN_OR_RETURN(BoundWindowFunction b, BindWindowFunction(w, in.schema, ctx, n->loc.file));
          s.AddField(Field{w.name, b.type, b.nullable});
        }
        n->schema = s;
        n->qualifiers = in.qualifiers;
        return Status::OK();
      }
    }
    return Status::Internal("unknown plan node");
  }

  // window(ts, size[, slide[, start]]) as a group key: a struct<start, end> column.
  Result<DataType> ResolveTimeWindow(const PlanNode& agg, const Expr& call, const PlanNode& in) {
    SourceLocation loc = agg.loc;
    if (call.pos.line > 0) {
      loc.line = call.pos.line;
      loc.column = call.pos.column;
    }
    int windows = 0;
    for (const auto& k : agg.group_keys) windows += IsTimeWindowCall(*k.expr) ? 1 : 0;
    if (windows > 1) return ErrorAt(loc, "GROUP BY has more than one time window");
    Result<TimeWindow> tw = ParseTimeWindow(call);
    if (!tw.ok()) return InFile(tw.status(), loc.file);
    if (!agg.grouping_ids.empty()) {
      return NotSupportedAt(loc, "GROUPING SETS / ROLLUP / CUBE with a time window is not built yet; group by the "
                                 "window and the keys");
    }
    LP_ASSIGN_OR_RETURN(expr::BoundExpr time, Bind(call.args[0], in, agg.loc));
    if (!time.type.is_timestamp()) {
      return ErrorAt(loc, "the time of " + call.function + "(...) is " + time.type.ToString() + ", not a timestamp");
    }
    return TimeWindowType();
  }

  SourceLocation LocOf(const ExprPtr& e, const SourceLocation& fallback) {
    if (e->pos.line <= 0) return fallback;
    SourceLocation loc = fallback;
    loc.line = e->pos.line;
    loc.column = e->pos.column;
    return loc;
  }

  Status CheckWatermark(const PlanNode* n) {
    if (!n->watermark) return Status::OK();
    int i = n->schema.FindField(n->watermark->column);
    if (i < 0) {
      return ErrorAt(n->watermark->loc, "WATERMARK column `" + n->watermark->column + "` not found; available: " +
                                            [&] {
                                              std::string s;
                                              for (const auto& f : n->schema.names()) s += (s.empty() ? "" : ", ") + f;
                                              return s;
                                            }());
    }
    if (!n->schema.field(i).type.is_timestamp()) {
      return ErrorAt(n->watermark->loc, "WATERMARK column `" + n->watermark->column + "` is " +
                                            n->schema.field(i).type.ToString() + ", not a timestamp");
    }
    return Status::OK();
  }

  // ORDER BY binds to the select list first (names, aliases, positions), then, as Spark
  // does for a plain projection, to the columns under it: such a key is carried through
  // the projection as a hidden `$order<i>` column, removed again above the sort (Resolve).
  Status ResolveSort(PlanNode* n) {
    const PlanPtr input = n->inputs[0];
    const PlanNode& in = *input;
    std::shared_ptr<PlanNode> widened;  // `in` with the carried keys, made on the first
    std::vector<int> visible;
    for (size_t i = 0; i < in.schema.size(); ++i) {
      if (!IsHidden(in.schema.field(i).name)) visible.push_back(static_cast<int>(i));
    }
    for (size_t k = 0; k < n->sort_keys.size(); ++k) {
      SortKey& key = n->sort_keys[k];
      if (key.ordinal > 0) {
        if (key.ordinal > static_cast<int>(visible.size())) {
          return ErrorAt(key.loc, "ORDER BY position " + std::to_string(key.ordinal) + " is not in the select list (" +
                                      std::to_string(visible.size()) + " columns)");
        }
        key.expr = Expr::Column(in.schema.field(visible[key.ordinal - 1]).name, "", {key.loc.line, key.loc.column});
        continue;
      }
      Result<expr::BoundExpr> b = Bind(key.expr, in, n->loc);
      if (b.ok()) continue;
      // ORDER BY o.x over a projection: the projection keeps the name, not the alias.
      ExprPtr stripped = StripQualifiers(key.expr);
      if (Bind(stripped, in, n->loc).ok()) {
        key.expr = stripped;
        continue;
      }
      if (in.kind != PlanKind::kProject) return b.status();
      const PlanNode& below = *in.inputs[0];
      Result<expr::BoundExpr> under = Bind(key.expr, below, n->loc);
      if (!under.ok()) return b.status();
      if (!widened) widened = std::make_shared<PlanNode>(in);
      ProjectItem carried;
      carried.expr = key.expr;
      carried.name = "$order" + std::to_string(k);
      carried.loc = n->loc;
      widened->items.push_back(carried);
      widened->schema.AddField(Field{carried.name, under->type, under->nullable});
      key.expr = Expr::Column(carried.name, "", key.expr->pos);
    }
    if (widened) n->inputs[0] = widened;
    n->schema = n->inputs[0]->schema;
    n->qualifiers = n->inputs[0]->qualifiers;
    return Status::OK();
  }

  // The projection above a sort that carried hidden `$order<i>` keys, or null.
  static PlanPtr DropCarriedSortKeys(const PlanPtr& sort) {
    std::vector<ProjectItem> keep;
    bool carried = false;
    Schema s;
    for (size_t i = 0; i < sort->schema.size(); ++i) {
      const Field& f = sort->schema.field(i);
      if (f.name.rfind("$order", 0) == 0) {
        carried = true;
        continue;
      }
      ProjectItem item;
      item.expr = Expr::Column(f.name, "", {sort->loc.line, sort->loc.column});
      item.name = f.name;
      item.loc = sort->loc;
      keep.push_back(item);
      s.AddField(f);
    }
    if (!carried) return nullptr;
    auto project = std::make_shared<PlanNode>();
    project->kind = PlanKind::kProject;
    project->loc = sort->loc;
    project->items = std::move(keep);
    project->schema = std::move(s);
    project->inputs.push_back(sort);
    project->resolved = true;
    return project;
  }

  Status ResolveProject(PlanNode* n) {
    const PlanNode& in = *n->inputs[0];
    std::vector<ProjectItem> items;
    Schema s;
    for (const ProjectItem& item : n->items) {
      if (!item.is_star) {
        LP_ASSIGN_OR_RETURN(expr::BoundExpr b, Bind(item.expr, in, item.loc));
        if (b.type.id() == TypeId::kNull) {
          // An untyped NULL column cannot be stored in Delta (Spark's void type).
        }
        items.push_back(item);
        s.AddField(Field{item.name, b.type, b.nullable});
        continue;
      }
      int begin = 0, end = static_cast<int>(in.schema.size());
      if (!item.star_qualifier.empty()) {
        bool found = false;
        std::string known;
        for (const auto& q : in.qualifiers) {
          known += (known.empty() ? "" : ", ") + q.qualifier;
          if (EqualsIgnoreCase(q.qualifier, item.star_qualifier)) {
            begin = q.begin;
            end = q.end;
            found = true;
          }
        }
        if (!found) {
          return ErrorAt(item.loc, "`" + item.star_qualifier + ".*`: no table or alias `" + item.star_qualifier +
                                       "` in FROM; available: " + (known.empty() ? "(none)" : known));
        }
      }
      std::set<std::string> except;
      for (const std::string& x : item.star_except) {
        bool found = false;
        for (int i = begin; i < end; ++i) {
          if (EqualsIgnoreCase(in.schema.field(i).name, x)) found = true;
        }
        if (!found) {
          std::string avail;
          for (int i = begin; i < end; ++i) {
            if (!IsHidden(in.schema.field(i).name)) avail += (avail.empty() ? "" : ", ") + in.schema.field(i).name;
          }
          return ErrorAt(item.loc, "* EXCEPT: column `" + x + "` not found; available: " + avail);
        }
        except.insert(ToLower(x));
      }
      // `$gen<i>.*` stands for a select-list generator's columns (select.cc); a plain `*`
      // leaves them out.
      bool generated = item.star_qualifier.rfind("$gen", 0) == 0;
      if (generated && !item.name.empty()) {
        if (end - begin != 1) {
          return NotSupportedAt(item.loc, "one alias (" + item.name + ") for a generator that gives " +
                                              std::to_string(end - begin) + " columns; name them with LATERAL VIEW ... t AS a, b");
        }
      }
      for (int i = begin; i < end; ++i) {
        const Field& f = in.schema.field(i);
        if (IsHidden(f.name) || except.count(ToLower(f.name))) continue;
        bool in_generator = false;
        for (const auto& q : in.qualifiers) {
          if (i >= q.begin && i < q.end && q.qualifier.rfind("$gen", 0) == 0) in_generator = true;
        }
        if (in_generator && !generated) continue;
        std::string qualifier;
        for (const auto& q : in.qualifiers) {
          if (i >= q.begin && i < q.end) qualifier = q.qualifier;
        }
        ProjectItem col;
        col.expr = Expr::Column(f.name, qualifier, {item.loc.line, item.loc.column});
        col.name = generated && !item.name.empty() ? item.name : f.name;
        col.loc = item.loc;
        items.push_back(col);
        s.AddField(Field{col.name, f.type, f.nullable, f.metadata, f.comment});
      }
    }
    n->items = std::move(items);
    n->schema = s;
    n->qualifiers.clear();
    return Status::OK();
  }

  // The hash join needs key pairs; refused here so that `validate` says it, not `run`.
  static Status NoEquiJoin(const PlanNode* n) {
    return NotSupportedAt(n->loc, "a join without an equality between the two sides (cross join or "
                                  "non-equi join); join ON left.col = right.col");
  }

  Status ResolveJoin(PlanNode* n) {
    const PlanNode& left = *n->inputs[0];
    const PlanNode& right = *n->inputs[1];
    Schema s = left.schema;
    for (const auto& f : right.schema.fields()) s.AddField(f);
    std::vector<QualifiedRange> qualifiers = left.qualifiers;
    int offset = static_cast<int>(left.schema.size());
    for (const auto& q : right.qualifiers) {
      for (const auto& existing : left.qualifiers) {
        if (EqualsIgnoreCase(existing.qualifier, q.qualifier)) {
          return ErrorAt(right.loc, "`" + q.qualifier + "` names two FROM items; give one an alias");
        }
      }
      qualifiers.push_back(QualifiedRange{q.qualifier, q.begin + offset, q.end + offset});
    }
    n->schema = s;
    n->qualifiers = qualifiers;
    n->left_keys.clear();
    n->right_keys.clear();
    n->residual = nullptr;
    if (!n->join_condition) return NoEquiJoin(n);
    LP_ASSIGN_OR_RETURN(expr::BoundExpr whole, Bind(n->join_condition, s, qualifiers, n->loc));
    if (whole.type.id() != TypeId::kBoolean) {
      return ErrorAt(LocOf(n->join_condition, n->loc), "join condition is " + whole.type.ToString() + ", not boolean");
    }
    std::vector<ExprPtr> conjuncts;
    SplitConjuncts(n->join_condition, &conjuncts);
    std::vector<ExprPtr> residual;
    for (const ExprPtr& c : conjuncts) {
      bool is_key = false;
      if (c->kind == expr::ExprKind::kCall && c->function == "=" && c->args.size() == 2) {
        for (int swap = 0; swap < 2 && !is_key; ++swap) {
          const ExprPtr& a = c->args[swap];
          const ExprPtr& b = c->args[1 - swap];
          Result<expr::BoundExpr> la = Bind(a, left, n->loc);
          Result<expr::BoundExpr> rb = Bind(b, right, n->loc);
          if (!la.ok() || !rb.ok() || la->ContainsAggregate() || rb->ContainsAggregate()) continue;
          // A constant side (a = 1) is a filter, not a key.
          if (la->is_literal() || rb->is_literal()) continue;
          ExprPtr lk = a, rk = b;
          if (la->type != rb->type) {
            Result<DataType> common = expr::CommonType(la->type, rb->type);
            if (!common.ok()) {
              return ErrorAt(LocOf(c, n->loc), "join keys `" + a->ToString() + "` (" + la->type.ToString() + ") and `" +
                                                   b->ToString() + "` (" + rb->type.ToString() + ") cannot be compared");
            }
            if (la->type != *common) lk = Expr::Cast(a, *common, false, a->pos);
            if (rb->type != *common) rk = Expr::Cast(b, *common, false, b->pos);
          }
          n->left_keys.push_back(lk);
          n->right_keys.push_back(rk);
          is_key = true;
        }
      }
      if (!is_key) residual.push_back(c);
    }
    for (const auto& r : residual) {
      n->residual = n->residual ? Expr::Call("and", {n->residual, r}, r->pos) : r;
    }
    if (n->left_keys.empty()) return NoEquiJoin(n);
    return Status::OK();
  }

  const TableSchemaLookup& tables_;
  const ReadFilesSchemaLookup& files_;
  ReadFilesScanContext where_;
  int scans_ = 0;  // read_files scans without a schema seen so far, in plan order
};

// Window functions in a streaming table: only keyed de-duplication (streaming_rules.h).
Status CheckStreamingWindows(const std::string& table, const PlanNode& n, const PlanNode* parent) {
  if (n.kind == PlanKind::kWindow) LP_RETURN_IF_ERROR(CheckKeyedDedup(table, n, parent));
  for (const auto& in : n.inputs) LP_RETURN_IF_ERROR(CheckStreamingWindows(table, *in, &n));
  return Status::OK();
}

const PlanNode* FindKind(const PlanPtr& p, PlanKind kind) {
  if (p->kind == kind) return p.get();
  for (const auto& in : p->inputs) {
    if (const PlanNode* found = FindKind(in, kind)) return found;
  }
  return nullptr;
}

// Intervals exist in expressions only: Delta has no interval type.
std::string IntervalColumnMessage(const DatasetDefinition& def, const Field& f) {
  return "column `" + f.name + "` of `" + def.name + "` is an " + f.type.ToString() +
         ": Delta tables cannot store intervals; store a number (timestampdiff(SECOND, a, b)) or text (CAST(x AS STRING))";
}

Status CheckDataset(const DatasetDefinition& def, ResolvedDataset* out, const ViewPlanLookup& views) {
  Schema& s = out->schema;
  // Unique column names (Delta tables cannot have two columns with one name).
  std::map<std::string, std::string> seen;
  for (const auto& f : s.fields()) {
    if (!seen.emplace(ToLower(f.name), f.name).second) {
      return ErrorAt(def.loc, "`" + def.name + "` would have two columns named `" + f.name +
                                  "`; give one an alias (AS other_name)");
    }
    if (f.type.id() == TypeId::kNull && def.kind != DatasetKind::kView) {
      return ErrorAt(def.loc, "column `" + f.name + "` of `" + def.name + "` has no type (an untyped NULL); write CAST(NULL AS type)");
    }
    if (f.type.is_interval() && def.kind != DatasetKind::kView) {
      return ErrorAt(def.loc, IntervalColumnMessage(def, f));
    }
  }
  for (const auto& c : def.columns) {
    if (c.field.type.is_interval() && def.kind != DatasetKind::kView) return ErrorAt(def.loc, IntervalColumnMessage(def, c.field));
  }
  if (out->apply_changes) {
    // The target of AUTO CDC: declared columns must be the target's, with its types.
    for (const auto& c : def.columns) {
      int i = s.FindField(c.field.name);
      if (i < 0) {
        return ErrorAt(c.loc, "column `" + c.field.name + "` is declared but AUTO CDC into `" + def.name +
                                  "` does not write it; it writes: " + [&] {
                                    std::string n;
                                    for (const auto& name : s.names()) n += (n.empty() ? "" : ", ") + name;
                                    return n;
                                  }());
      }
      if (!SameTypeIgnoringNullability(s.field(static_cast<size_t>(i)).type, c.field.type)) {
        return NotSupportedAt(c.loc, "column `" + c.field.name + "` is declared " + c.field.type.ToString() +
                                         " but the change feed has " + s.field(static_cast<size_t>(i)).type.ToString() +
                                         "; casting in AUTO CDC is not built yet: cast in a view in front of the flow");
      }
    }
  } else if (!def.columns.empty()) {
    // Declared columns: each must be produced by the query; declared types win (a Project casts).
    if (def.columns.size() != s.size()) {
      for (const auto& f : s.fields()) {
        bool declared = false;
        for (const auto& c : def.columns) declared |= EqualsIgnoreCase(c.field.name, f.name);
        if (!declared) {
          return ErrorAt(def.loc, "the query of `" + def.name + "` produces column `" + f.name +
                                      "` that its column list does not declare");
        }
      }
    }
    bool needs_cast = false;
    std::vector<ProjectItem> items;
    Schema typed;
    for (const auto& f : s.fields()) {
      const ColumnDefinition* decl = nullptr;
      for (const auto& c : def.columns) {
        if (EqualsIgnoreCase(c.field.name, f.name)) decl = &c;
      }
      ProjectItem item;
      item.name = decl ? decl->field.name : f.name;
      item.expr = Expr::Column(f.name);
      item.loc = decl ? decl->loc : def.loc;
      Field out_field = f;
      if (decl) {
        out_field.name = decl->field.name;
        out_field.comment = decl->field.comment;
        out_field.nullable = decl->field.nullable;
        if (decl->field.type != f.type) {
          Result<expr::BoundExpr> cast = expr::Bind(*Expr::Cast(item.expr, decl->field.type), s, {});
          if (!cast.ok()) {
            return ErrorAt(decl->loc, "column `" + f.name + "` is " + f.type.ToString() + " and cannot become " +
                                          decl->field.type.ToString() + ": " + cast.status().message());
          }
          item.expr = Expr::Cast(item.expr, decl->field.type, false, {decl->loc.line, decl->loc.column});
          out_field.type = decl->field.type;
          needs_cast = true;
        }
      }
      items.push_back(item);
      typed.AddField(out_field);
    }
    for (const auto& c : def.columns) {
      if (s.FindField(c.field.name) < 0) {
        return ErrorAt(c.loc, "column `" + c.field.name + "` is declared but the query does not produce it; it produces: " +
                                  [&] {
                                    std::string n;
                                    for (const auto& name : s.names()) n += (n.empty() ? "" : ", ") + name;
                                    return n;
                                  }());
      }
    }
    if (needs_cast) {
      auto project = std::make_shared<PlanNode>();
      project->kind = PlanKind::kProject;
      project->loc = def.loc;
      project->items = items;
      project->inputs.push_back(out->plan);
      project->schema = typed;
      project->resolved = true;
      out->plan = project;
    }
    s = typed;
  }
  for (const Expectation& e : def.expectations) {
    LP_RETURN_IF_ERROR(BindExpectation(e, *out, out->apply_changes ? out->apply_changes->source_schema : s).status());
    if (out->apply_changes && out->apply_changes->spec->from_snapshot &&
        (e.action == ViolationAction::kDropRow || e.action == ViolationAction::kQuarantine)) {
      return NotSupportedAt(e.loc, "expectation `" + e.name + "` drops rows of the snapshots read by `" + def.name +
                                       "` (AUTO CDC FROM SNAPSHOT): a key whose row is dropped is missing from its "
                                       "snapshot, which deletes it; use ON VIOLATION FAIL UPDATE or no action (warn), "
                                       "or filter the rows in a view in front of the flow");
    }
  }
  for (const std::string& p : def.partition_columns) {
    int i = s.FindField(p);
    if (i < 0) return ErrorAt(def.loc, "PARTITIONED BY column `" + p + "` is not a column of `" + def.name + "`");
    if (s.field(i).type.is_nested()) return ErrorAt(def.loc, "cannot partition by `" + p + "` of type " + s.field(i).type.ToString());
  }
  if (def.flow_once) {
    // Written only by ONCE flows: its flow reads its inputs as they are, one time.
    if (ReadsStream(*out->plan, views)) {
      return ErrorAt(def.flow_loc, "ONCE flow `" + def.flow_name + "` runs one time over its inputs as they are: "
                                   "remove STREAM from its source (or drop ONCE for a flow that follows the stream)");
    }
    return Status::OK();
  }
  // A join of two streams is kept only with the bounds that make its state finite.
  if (def.kind == DatasetKind::kStreamingTable) LP_RETURN_IF_ERROR(CheckStreamJoins(*out->plan));
  if (def.kind == DatasetKind::kStreamingTable) LP_RETURN_IF_ERROR(CheckStreamingWindows(def.name, *out->plan, nullptr));
  return CheckStreamingRules(def, *out->plan, views);
}

bool SameColumns(const Schema& a, const Schema& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!EqualsIgnoreCase(a.field(i).name, b.field(i).name) || !SameTypeIgnoringNullability(a.field(i).type, b.field(i).type))
      return false;
  }
  return true;
}

std::string KeyList(const ResolvedApplyChanges& rc) {
  std::string s;
  for (const auto& k : rc.keys) s += (s.empty() ? "" : ", ") + k;
  return s;
}

// Another AUTO CDC flow into `def` agrees with its first one on what the shared per-key
// state means: the keys, the sequence's form and type, the SCD type, the target columns,
// the tracked columns and IGNORE NULL UPDATES.
Status CheckSameTarget(const DatasetDefinition& def, const ResolvedDataset& rd, const ResolvedApplyChanges& other,
                       const SourceLocation& loc) {
  const ResolvedApplyChanges& first = *rd.apply_changes;
  auto differ = [&](const std::string& what, const std::string& a, const std::string& b) {
    return ErrorAt(loc, "AUTO CDC flows `" + first.flow_name + "` and `" + other.flow_name + "` into `" + def.name +
                            "` share its per-key state, so they must agree on " + what + ": `" + first.flow_name +
                            "` has " + a + ", `" + other.flow_name + "` has " + b);
  };
  if (first.spec->scd_type != other.spec->scd_type) {
    return differ("the SCD type", std::to_string(first.spec->scd_type), std::to_string(other.spec->scd_type));
  }
  bool same_keys = first.keys.size() == other.keys.size();
  for (size_t i = 0; same_keys && i < first.keys.size(); ++i) {
    const Field& a = first.source_schema.field(static_cast<size_t>(first.source_schema.FindField(first.keys[i])));
    const Field& b = other.source_schema.field(static_cast<size_t>(other.source_schema.FindField(other.keys[i])));
    same_keys = EqualsIgnoreCase(a.name, b.name) && SameTypeIgnoringNullability(a.type, b.type);
  }
  if (!same_keys) return differ("KEYS (names, order and types)", "(" + KeyList(first) + ")", "(" + KeyList(other) + ")");
  bool same_sequence = first.sequence_parts.size() == other.sequence_parts.size() &&
                       SameTypeIgnoringNullability(first.sequence_type, other.sequence_type);
  if (!same_sequence) {
    return differ("SEQUENCE BY (the same type, written the same way)",
                  first.spec->sequence_sql + " (" + first.sequence_type.ToString() + ")",
                  other.spec->sequence_sql + " (" + other.sequence_type.ToString() + ")");
  }
  if (!SameColumns(first.target_schema, other.target_schema)) {
    return differ("the target's columns", "(" + first.target_schema.ToDDL() + ")", "(" + other.target_schema.ToDDL() + ")");
  }
  if (first.tracked != other.tracked) {
    return differ("TRACK HISTORY ON", std::to_string(first.tracked.size()) + " tracked columns",
                  std::to_string(other.tracked.size()));
  }
  if (first.spec->ignore_null_updates != other.spec->ignore_null_updates) {
    return differ("IGNORE NULL UPDATES", first.spec->ignore_null_updates ? "it" : "not",
                  other.spec->ignore_null_updates ? "it" : "not");
  }
  if (first.spec->ignore_null_updates && first.spec->scd_type == 1) {
    // Type 1 keeps only a key's last sequence, not its values: a NULL takes the value the
    // row has when the update arrives, so the result would depend on which flow's batch
    // ran first. Type 2 keeps the key's changes and recomputes them in sequence order.
    return NotSupportedAt(loc, "IGNORE NULL UPDATES with several AUTO CDC flows into the SCD type 1 target `" +
                                   def.name + "` (`" + first.flow_name + "` and `" + other.flow_name +
                                   "`) is not built yet: a NULL keeps the value the row has when the update is "
                                   "applied, so the table would depend on how the flows' batches interleave; "
                                   "union the sources into one flow (UNION ALL), or use STORED AS SCD TYPE 2, whose "
                                   "history keeps the values in sequence order");
  }
  return Status::OK();
}

// A streaming table's other append flows: each writes its columns by name into the
// table's (same types; the table's other columns are NULL in its rows).
Status ResolveMoreFlows(const DatasetDefinition& def, const TableSchemaLookup& lookup,
                        const ReadFilesSchemaLookup& files, const ViewPlanLookup& views, ResolvedDataset* rd) {
  for (const auto& f : def.more_flows) {
    ResolvedDataset::MoreFlow out;
    out.name = f.name;
    out.once = f.once;
    LP_ASSIGN_OR_RETURN(out.plan, ResolvePlan(f.query, lookup, files, ReadFilesScanContext{def.name, f.name, 0}));
    if (f.apply_changes) {
      // Another AUTO CDC flow into the target: its changes are decided against the same
      // per-key state, so it must describe keys, sequences and versions the same way.
      LP_ASSIGN_OR_RETURN(out.apply_changes, ResolveApplyChanges(f.apply_changes, f.name, out.plan->schema));
      LP_RETURN_IF_ERROR(CheckSameTarget(def, *rd, *out.apply_changes, f.loc));
      for (const Expectation& e : def.expectations) {
        LP_RETURN_IF_ERROR(BindExpectation(e, *rd, out.apply_changes->source_schema).status());
        if (e.action == ViolationAction::kQuarantine &&
            !SameColumns(out.apply_changes->source_schema, rd->apply_changes->source_schema)) {
          return ErrorAt(f.loc, "flow `" + f.name + "` reads change events with columns (" +
                                    out.apply_changes->source_schema.ToDDL() + ") but `" + rd->apply_changes->flow_name +
                                    "` reads (" + rd->apply_changes->source_schema.ToDDL() + "), and `" + def.name +
                                    "_quarantine` (expectation `" + e.name + "`) keeps the events as they are: give "
                                    "both sources the same columns (a view in front of each flow)");
        }
      }
    }
    for (const Field& c : out.plan->schema.fields()) {
      if (f.apply_changes) break;  // change events, not rows of the table
      int i = rd->schema.FindField(c.name);
      if (i < 0) {
        return ErrorAt(f.loc, "flow `" + f.name + "` writes column `" + c.name + "`, which `" + def.name +
                                  "` does not have; it has: " + [&] {
                                    std::string n;
                                    for (const auto& name : rd->schema.names()) n += (n.empty() ? "" : ", ") + name;
                                    return n;
                                  }() + " (declare the table's columns, or select only those)");
      }
      const DataType& want = rd->schema.field(static_cast<size_t>(i)).type;
      if (!SameTypeIgnoringNullability(c.type, want)) {
        return ErrorAt(f.loc, "flow `" + f.name + "` writes column `" + c.name + "` as " + c.type.ToString() + ", but `" +
                                  def.name + "` has it as " + want.ToString() + "; CAST it in the flow's query");
      }
    }
    if (f.once) {
      // A backfill reads its inputs as they are, one time.
      if (ReadsStream(*out.plan, views)) {
        return ErrorAt(f.loc, "ONCE flow `" + f.name + "` runs one time over its inputs as they are: remove STREAM "
                              "from its query (or drop ONCE for a flow that follows the stream)");
      }
    } else {
      LP_RETURN_IF_ERROR(CheckStreamJoins(*out.plan));
      LP_RETURN_IF_ERROR(CheckStreamingWindows(def.name, *out.plan, nullptr));
      LP_RETURN_IF_ERROR(CheckStreamingRules(def, *out.plan, views));
    }
    rd->more_flows.push_back(std::move(out));
  }
  return Status::OK();
}

}  // namespace

const ResolvedDataset* ResolvedPipeline::Find(const std::string& name) const {
  for (const auto& d : datasets) {
    if (EqualsIgnoreCase(d.name, name)) return &d;
  }
  return nullptr;
}

const ExternalTable* ResolvedPipeline::FindExternal(const std::string& name) const {
  for (const auto& t : external_tables) {
    if (EqualsIgnoreCase(t.name, name)) return &t;
  }
  return nullptr;
}

Result<PlanPtr> ResolvePlan(const PlanPtr& plan, const TableSchemaLookup& tables, const ReadFilesSchemaLookup& files,
                            const ReadFilesScanContext& where) {
  Resolver r(tables, files, where);
  return r.Resolve(plan);
}

Result<expr::BoundExpr> BindExpectation(const Expectation& e, const ResolvedDataset& ds, const Schema& rows) {
  if (ds.apply_changes) {
    // The change events carry the target's columns except the SCD type 2 validity range;
    // the condition is first bound against just those, so that naming a source column the
    // flow does not write (or __START_AT) is refused the same way at validate and run.
    Schema carried;
    for (const Field& f : ds.apply_changes->target_schema.fields()) {
      if (f.name != "__START_AT" && f.name != "__END_AT") carried.AddField(f);
    }
    Result<expr::BoundExpr> check = expr::Bind(*e.condition, carried, {});
    if (!check.ok()) {
      return ErrorAt(e.loc, "expectation `" + e.name + "` of `" + ds.name + "`: " + check.status().message() +
                                " (the expectations of an AUTO CDC target check each change event's values of the "
                                "target's columns before it is applied; check other columns of the source in a view "
                                "in front of the flow)");
    }
  }
  Result<expr::BoundExpr> b = expr::Bind(*e.condition, rows, {});
  if (!b.ok()) return InFile(b.status(), e.loc.file);
  if (b->ContainsAggregate()) return ErrorAt(e.loc, "expectation `" + e.name + "` uses an aggregate");
  if (b->type.id() != TypeId::kBoolean) {
    return ErrorAt(e.loc, "expectation `" + e.name + "` is " + b->type.ToString() + ", not a boolean condition");
  }
  return std::move(b).value();
}

namespace {

// A folder that a read_files scan cleans (cleanSource) must have no other reader in the
// pipeline: the first flow to commit a file would take it from the others (Spark: "the
// source path should not be used from multiple sources or queries when enabling this
// option"). A flow's own repeated scans of one path are one source (planned once).
Status CheckCleanedFolders(const ResolvedPipeline& p) {
  struct Scan {
    std::string reader;  // the table, or table/flow
    const PlanNode* node = nullptr;
    formats::CleanSourceMode mode = formats::CleanSourceMode::kOff;
  };
  std::vector<Scan> scans;
  std::function<void(const PlanNode&, const std::string&)> collect = [&](const PlanNode& n, const std::string& reader) {
    if (n.kind == PlanKind::kReadFiles) {
      auto settings = formats::ReadFilesSettingsFrom(n.read_files.options);
      scans.push_back({reader, &n, settings.ok() ? settings->source.clean_source : formats::CleanSourceMode::kOff});
    }
    if (n.kind == PlanKind::kTableScan) {
      const ResolvedDataset* d = p.Find(n.table);
      if (d != nullptr && d->kind == DatasetKind::kView) collect(*d->plan, reader);
    }
    for (const auto& in : n.inputs)
      if (in) collect(*in, reader);
  };
  for (const auto& ds : p.datasets) {
    if (ds.kind == DatasetKind::kView) continue;  // read through its readers
    collect(*ds.plan, ds.name);
    for (const auto& f : ds.more_flows) collect(*f.plan, ds.name + " (flow " + f.name + ")");
  }
  for (const Scan& cleaner : scans) {
    if (cleaner.mode == formats::CleanSourceMode::kOff) continue;
    const std::string& path = cleaner.node->read_files.path;
    for (const Scan& other : scans) {
      if (&other == &cleaner) continue;
      const std::string& o = other.node->read_files.path;
      if (!PathIsWithin(o, path) && !PathIsWithin(path, o)) continue;
      if (other.reader == cleaner.reader && o == path) continue;
      return ErrorAt(cleaner.node->loc,
                     "read_files option cleanSource: the folder " + path + " is also read by `" + other.reader +
                         "` (" + other.node->loc.ToString() + ", " + o + "): cleaning removes a file once `" +
                         cleaner.reader + "` has committed it, so the other reader would miss it; let one flow read "
                         "a folder that is cleaned");
    }
  }
  return Status::OK();
}

}  // namespace

Result<ResolvedPipeline> ResolvePipeline(const Pipeline& pipeline, const ReadFilesSchemaLookup& files,
                                         const ExternalTableLookup& external) {
  ResolvedPipeline out;
  LP_ASSIGN_OR_RETURN(out.graph, PipelineGraph::Build(pipeline.datasets));
  std::map<std::string, Schema> schemas;
  TableSchemaLookup lookup = [&](const std::string& table, const SourceLocation& loc) -> Result<Schema> {
    if (IsQualifiedTableName(table)) {
      // Another pipeline's table (docs/catalog.md), looked up once per name.
      if (const ExternalTable* known = out.FindExternal(table)) return known->schema;
      if (!external) {
        return ErrorAt(loc, "reading `" + table + "`, another pipeline's table, needs a catalog: name it in "
                            "pipeline.yaml (catalog: ../catalog.yaml; docs/catalog.md)");
      }
      LP_ASSIGN_OR_RETURN(ExternalTable found, external(table, loc));
      out.external_tables.push_back(std::move(found));
      return out.external_tables.back().schema;
    }
    auto it = schemas.find(ToLower(table));
    if (it == schemas.end()) return ErrorAt(loc, "table `" + table + "` is not resolved yet");
    return it->second;
  };
  for (size_t idx : out.graph.topological_order()) {
    const GraphNode& node = out.graph.nodes()[idx];
    const DatasetDefinition& def = pipeline.datasets[node.dataset_index];
    ResolvedDataset rd;
    rd.name = def.name;
    rd.kind = def.kind;
    rd.dataset_index = node.dataset_index;
    rd.once = def.flow_once;
    LP_ASSIGN_OR_RETURN(rd.plan, ResolvePlan(def.query, lookup, files, ReadFilesScanContext{def.name, "", 0}));
    rd.schema = rd.plan->schema;
    if (def.apply_changes) {
      LP_ASSIGN_OR_RETURN(rd.apply_changes, ResolveApplyChanges(def.apply_changes, def.flow_name, rd.plan->schema));
      rd.schema = rd.apply_changes->target_schema;
    }
    ViewPlanLookup views = [&out](const std::string& name) -> const PlanNode* {
      const ResolvedDataset* d = out.Find(name);
      return d != nullptr && d->kind == DatasetKind::kView ? d->plan.get() : nullptr;
    };
    LP_RETURN_IF_ERROR(CheckDataset(def, &rd, views));
    LP_RETURN_IF_ERROR(ResolveMoreFlows(def, lookup, files, views, &rd));
    schemas[ToLower(def.name)] = rd.schema;
    out.datasets.push_back(std::move(rd));
  }
  LP_RETURN_IF_ERROR(CheckCleanedFolders(out));
  const PipelineSettings& settings = pipeline.settings;
  auto known = [&] {
    std::string s;
    for (const auto& d : pipeline.datasets) s += (s.empty() ? "" : ", ") + d.name;
    return s;
  };
  for (const auto& [table, trigger] : settings.triggers) {
    int i = out.graph.Find(table);
    if (i < 0) return ErrorAt(trigger.loc, "triggers: unknown table `" + table + "`; the pipeline defines: " + known());
    if (out.graph.nodes()[static_cast<size_t>(i)].kind == DatasetKind::kView) {
      return ErrorAt(trigger.loc, "triggers: `" + table + "` is a view (views are computed by their readers)");
    }
    for (const auto& def : pipeline.datasets) {
      if (ToLower(def.name) != ToLower(table)) continue;
      if (TablePropertiesOf(def.table_properties).trigger_interval_micros) {
        return ErrorAt(trigger.loc, "triggers: `" + table + "` also sets pipelines.trigger.interval in its TBLPROPERTIES (" +
                                        def.loc.ToString() + "); keep one of the two");
      }
    }
  }
  for (const auto& sla : settings.slas) {
    if (sla.layer) continue;
    int i = out.graph.Find(sla.scope);
    if (i < 0) {
      return ErrorAt(sla.loc, "sla: `" + sla.scope + "` is neither a layer (bronze, silver, gold) nor a table; the pipeline defines: " + known());
    }
    if (out.graph.nodes()[static_cast<size_t>(i)].kind == DatasetKind::kView) {
      return ErrorAt(sla.loc, "sla: `" + sla.scope + "` is a view (not stored, so never behind); set the SLA on the tables that read it");
    }
  }
  if (settings.publish.postgres) {
    for (const auto& t : settings.publish.postgres->tables) {
      const ResolvedDataset* d = out.Find(t.table);
      if (!d) return ErrorAt(t.loc, "publish.postgres: unknown table `" + t.table + "`; the pipeline defines: " + known());
      if (d->kind == DatasetKind::kView) return ErrorAt(t.loc, "publish.postgres: `" + t.table + "` is a view, not a table");
      for (const auto& k : t.key) {
        if (d->schema.FindField(k) < 0) {
          return ErrorAt(t.loc, "publish.postgres: key column `" + k + "` is not a column of `" + t.table + "`");
        }
      }
    }
  }
  if (settings.publish.kafka) {
    for (const auto& t : settings.publish.kafka->tables) {
      const ResolvedDataset* d = out.Find(t.table);
      if (!d) return ErrorAt(t.loc, "publish.kafka: unknown table `" + t.table + "`; the pipeline defines: " + known());
      if (d->kind == DatasetKind::kView) return ErrorAt(t.loc, "publish.kafka: `" + t.table + "` is a view, not a table");
      if (!t.key.empty() && d->schema.FindField(t.key) < 0) {
        return ErrorAt(t.loc, "publish.kafka: key column `" + t.key + "` is not a column of `" + t.table + "`");
      }
      if (d->kind == DatasetKind::kMaterializedView) {
        // A refresh rewrites the table: its versions remove rows, which a topic of new rows
        // cannot follow (nor can lakepipe record an MV's change feed yet).
        return ErrorAt(t.loc, "publish.kafka: `" + t.table + "` is a materialized view: each refresh rewrites it, "
                              "so it has no stream of new rows to send; send a streaming table, or publish it to "
                              "PostgreSQL (publish.postgres, kept by upserts)");
      }
    }
  }
  if (settings.publish.files) {
    for (const auto& t : settings.publish.files->tables) {
      const ResolvedDataset* d = out.Find(t.table);
      if (!d) return ErrorAt(t.loc, "publish.files: unknown table `" + t.table + "`; the pipeline defines: " + known());
      if (d->kind == DatasetKind::kView) return ErrorAt(t.loc, "publish.files: `" + t.table + "` is a view, not a table");
      if (!t.partition_by.empty() && d->schema.FindField(t.partition_by) < 0) {
        return ErrorAt(t.loc, "publish.files: partition_by column `" + t.partition_by + "` is not a column of `" +
                                  t.table + "`");
      }
    }
  }
  LP_ASSIGN_OR_RETURN(out.dashboard, ResolveDashboard(pipeline, out));
  return out;
}

}  // namespace lakepipe::sql
