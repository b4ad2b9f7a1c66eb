#include "sql/pipeline_catalog.h"

#include <cstdlib>
#include <functional>
#include <set>

#include "sql/lexer.h"
#include "sql/pipeline.h"
#include "sql/plan.h"
#include "sql/yaml_reader.h"

namespace lakepipe::sql {

namespace {

std::string ResolveAgainst(const std::string& folder, const std::string& p) {
  if ((!p.empty() && p[0] == '/') || folder.empty()) return p;
  std::string rel = p;
  while (rel.rfind("./", 0) == 0) rel = rel.substr(2);
  if (rel.empty() || rel == ".") return folder;
  return JoinPath(folder, rel);
}

std::string JoinList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

class CatalogReader : public YamlReader {
 public:
  CatalogReader(std::string file, const std::map<std::string, std::string>& configuration)
      : YamlReader(std::move(file)), configuration_(configuration) {}

  // `${key}`: the reading pipeline's configuration value, else the environment variable;
  // an unset one is an error, never the literal text.
  Result<std::string> Value(const YAML::Node& n, const std::string& where) const {
    LP_ASSIGN_OR_RETURN(std::string text, String(n, where));
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
      size_t open = text.find("${", i);
      if (open == std::string::npos) {
        out += text.substr(i);
        break;
      }
      out += text.substr(i, open - i);
      size_t close = text.find('}', open + 2);
      if (close == std::string::npos) return ErrorAt(Loc(n), where + ": unterminated ${");
      std::string key = text.substr(open + 2, close - open - 2);
      if (key.empty()) return ErrorAt(Loc(n), where + ": empty ${}");
      auto it = configuration_.find(key);
      if (it != configuration_.end()) {
        out += it->second;
      } else if (const char* env = std::getenv(key.c_str()); env != nullptr) {
        out += env;
      } else {
        return ErrorAt(Loc(n), where + ": ${" + key + "} is not set: give it in the reading pipeline's configuration "
                                                      "(or --set " + key + "=...), or export it");
      }
      i = close + 1;
    }
    return out;
  }

 private:
  const std::map<std::string, std::string>& configuration_;
};

}  // namespace

bool IsQualifiedTableName(std::string_view name) { return name.find('.') != std::string_view::npos; }

Result<PipelineCatalog> PipelineCatalog::Parse(const std::string& yaml_text, const std::string& file,
                                               const std::map<std::string, std::string>& configuration,
                                               FileSystem* fs) {
  PipelineCatalog catalog;
  catalog.file_ = file;
  CatalogReader r(file, configuration);
  const std::string base = DirName(file);
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root || root.IsNull()) return ErrorAt(SourceLocation{file, 1, 1}, "empty catalog: `pipelines:` is required");
    LP_RETURN_IF_ERROR(r.CheckKeys(root, {"pipelines"}, "the catalog"));
    const YAML::Node& pipelines = root["pipelines"];
    if (!pipelines) return ErrorAt(r.Loc(root), "`pipelines:` is required (pipeline name: {storage: ..., folder: ...})");
    if (!pipelines.IsMap()) return ErrorAt(r.Loc(pipelines), "pipelines must map pipeline names to their storage");
    for (auto it = pipelines.begin(); it != pipelines.end(); ++it) {
      CatalogEntry e;
      e.pipeline = it->first.Scalar();
      e.loc = r.Loc(it->first);
      const std::string where = "pipelines." + e.pipeline;
      if (e.pipeline.empty() || IsQualifiedTableName(e.pipeline)) {
        return ErrorAt(e.loc, "`" + e.pipeline + "` is not a pipeline name (a name without dots)");
      }
      if (catalog.Find(e.pipeline) != nullptr) {
        return ErrorAt(e.loc, "pipeline `" + e.pipeline + "` is listed twice (first at " +
                                  catalog.Find(e.pipeline)->loc.ToString() + ")");
      }
      const YAML::Node& body = it->second;
      LP_RETURN_IF_ERROR(r.CheckKeys(body, {"storage", "folder", "tables"}, where));
      if (!body["storage"] && !body["folder"]) {
        return ErrorAt(e.loc, where + ": give `storage:` (the folder its tables are stored in) or `folder:` (its "
                                      "pipeline folder, whose pipeline.yaml names the storage)");
      }
      if (body["folder"]) {
        LP_ASSIGN_OR_RETURN(std::string folder, r.Value(body["folder"], where + ".folder"));
        e.folder = ResolveAgainst(base, folder);
        auto settings = LoadPipelineSettings(e.folder, {}, fs);
        if (!settings.ok()) {
          return ErrorAt(r.Loc(body["folder"]), where + ".folder: " + e.folder +
                                                    " is not a pipeline folder: " + settings.status().message());
        }
        if (!EqualsIgnoreCase(settings->name, e.pipeline)) {
          return ErrorAt(r.Loc(body["folder"]), where + ".folder: the pipeline in " + e.folder + " is named `" +
                                                    settings->name + "`, not `" + e.pipeline + "`");
        }
        e.storage = settings->storage;
      }
      if (body["storage"]) {
        LP_ASSIGN_OR_RETURN(std::string storage, r.Value(body["storage"], where + ".storage"));
        if (storage.empty()) return ErrorAt(r.Loc(body["storage"]), where + ".storage must not be empty");
        e.storage = ResolveAgainst(base, storage);
      }
      if (body["tables"]) {
        LP_ASSIGN_OR_RETURN(std::vector<std::string> tables, r.StringList(body["tables"], where + ".tables", "table names"));
        e.tables = std::move(tables);
      }
      catalog.entries_.push_back(std::move(e));
    }
  } catch (const YAML::Exception& ex) {
    return ErrorAt(SourceLocation{file, ex.mark.line + 1, ex.mark.column + 1}, "YAML: " + ex.msg);
  }
  return catalog;
}

Result<std::optional<PipelineCatalog>> PipelineCatalog::LoadFor(const PipelineSettings& settings, FileSystem* fs) {
  LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(settings.settings_file));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return ErrorAt(SourceLocation{settings.settings_file, e.mark.line + 1, e.mark.column + 1}, "YAML: " + e.msg);
  }
  if (!root.IsMap() || !root["catalog"]) return std::optional<PipelineCatalog>();
  CatalogReader r(settings.settings_file, settings.configuration);
  LP_ASSIGN_OR_RETURN(std::string path, r.Value(root["catalog"], "catalog"));
  std::string full = ResolveAgainst(settings.folder, path);
  auto catalog_text = fs->ReadFile(full);
  if (!catalog_text.ok()) {
    return ErrorAt(r.Loc(root["catalog"]), "catalog: cannot read " + full + ": " + catalog_text.status().message());
  }
  LP_ASSIGN_OR_RETURN(PipelineCatalog catalog, Parse(*catalog_text, full, settings.configuration, fs));
  return std::optional<PipelineCatalog>(std::move(catalog));
}

const CatalogEntry* PipelineCatalog::Find(std::string_view pipeline) const {
  for (const auto& e : entries_)
    if (EqualsIgnoreCase(e.pipeline, pipeline)) return &e;
  return nullptr;
}

Result<CatalogTable> PipelineCatalog::Resolve(const std::string& qualified, const SourceLocation& loc,
                                              const std::string& reader, FileSystem* fs) const {
  size_t dot = qualified.find('.');
  std::string pipeline = qualified.substr(0, dot);
  std::string table = dot == std::string::npos ? std::string() : qualified.substr(dot + 1);
  if (table.empty() || IsQualifiedTableName(table)) {
    return ErrorAt(loc, "`" + qualified + "`: another pipeline's table is named <pipeline>.<table>");
  }
  if (EqualsIgnoreCase(pipeline, reader)) {
    return ErrorAt(loc, "`" + qualified + "` is this pipeline's own table: write `" + table + "`");
  }
  const CatalogEntry* e = Find(pipeline);
  if (e == nullptr) {
    std::vector<std::string> known;
    for (const auto& entry : entries_) known.push_back(entry.pipeline);
    return ErrorAt(loc, "reading `" + qualified + "`: pipeline `" + pipeline + "` is not in the catalog " + file_ +
                            " (it lists: " + JoinList(known) + ")");
  }
  const std::string entry_at = " (catalog entry " + e->loc.ToString() + ")";
  if (table[0] == '_') {
    return ErrorAt(loc, "`" + qualified + "` is pipeline " + e->pipeline +
                            "'s own bookkeeping, not a dataset; read its tables" + entry_at);
  }
  if (e->tables) {
    bool published = false;
    for (const auto& t : *e->tables) published = published || EqualsIgnoreCase(t, table);
    if (!published) {
      return ErrorAt(loc, "pipeline `" + e->pipeline + "` does not publish `" + table +
                              "`: its catalog entry lists " + JoinList(*e->tables) + entry_at);
    }
  }
  // The table's folder, matched case-insensitively as table names are.
  std::string stored;
  std::vector<std::string> stored_tables;
  auto listing = fs->ListNames(e->storage);
  if (!listing.ok() && !listing.status().IsNotFound()) {
    return ErrorAt(loc, "reading `" + qualified + "`: pipeline " + e->pipeline + "'s storage " + e->storage +
                            " cannot be listed: " + listing.status().message() + entry_at);
  }
  const bool storage_exists = listing.ok();
  for (const auto& f : listing.ok() ? *listing : std::vector<FileInfo>{}) {
    if (!f.is_dir || f.name.empty() || f.name[0] == '_') continue;
    if (!fs->Exists(JoinPath(JoinPath(e->storage, f.name), "_delta_log"))) continue;
    stored_tables.push_back(f.name);
    if (EqualsIgnoreCase(f.name, table)) stored = f.name;
  }
  if (stored.empty()) {
    std::string why = "no Delta table `" + table + "` in " + e->storage +
                      (storage_exists ? "" : ", which does not exist: has pipeline " + e->pipeline + " run?");
    if (!e->folder.empty()) {
      // The pipeline's own definitions say whether it is a view, a table not run yet, or
      // nothing it defines.
      auto other = LoadPipeline(e->folder, {}, fs);
      if (other.ok()) {
        const DatasetDefinition* def = nullptr;
        std::vector<std::string> names;
        for (const auto& d : other->datasets) {
          names.push_back(d.name);
          if (EqualsIgnoreCase(d.name, table)) def = &d;
        }
        if (def == nullptr) {
          why = "pipeline " + e->pipeline + " does not define `" + table + "` (it defines: " + JoinList(names) + ")";
        } else if (def->kind == DatasetKind::kView) {
          why = "`" + table + "` is a view of pipeline " + e->pipeline + " (" + def->loc.ToString() +
                "): views are not stored; read the tables it reads";
        } else {
          why = "`" + table + "` of pipeline " + e->pipeline + " has no commit yet in " + e->storage +
                ": run pipeline " + e->pipeline + " first";
        }
      }
    }
    return ErrorAt(loc, "reading `" + qualified + "`: " + why + "; stored tables: " + JoinList(stored_tables) + entry_at);
  }
  CatalogTable out;
  out.name = ToLower(e->pipeline) + "." + ToLower(table);
  out.pipeline = e->pipeline;
  out.table = stored;
  out.path = JoinPath(e->storage, stored);
  out.entry = e->loc;
  return out;
}

namespace {

void CollectTableReads(const PlanPtr& plan, std::vector<std::pair<std::string, SourceLocation>>* out) {
  if (!plan) return;
  if (plan->kind == PlanKind::kTableScan) out->push_back({plan->table, plan->loc});
  for (const auto& in : plan->inputs) CollectTableReads(in, out);
}

}  // namespace

Status CheckNoCrossPipelineCycle(const Pipeline& pipeline, const PipelineCatalog& catalog, FileSystem* fs) {
  // Nodes are "pipeline.table" (lower case); each reads the nodes its queries scan. The
  // pipelines are loaded as the search reaches them.
  struct Reads {
    std::vector<std::pair<std::string, SourceLocation>> inputs;
  };
  std::map<std::string, std::map<std::string, Reads>> graphs;  // pipeline -> table -> reads
  std::set<std::string> loaded;
  auto add_pipeline = [&](const Pipeline& p) {
    std::string name = ToLower(p.settings.name);
    auto& g = graphs[name];
    for (const auto& d : p.datasets) {
      Reads r;
      CollectTableReads(d.query, &r.inputs);
      for (const auto& f : d.more_flows) CollectTableReads(f.query, &r.inputs);
      for (auto& [t, loc] : r.inputs) t = IsQualifiedTableName(t) ? ToLower(t) : name + "." + ToLower(t);
      g[ToLower(d.name)] = std::move(r);
    }
    loaded.insert(name);
  };
  add_pipeline(pipeline);
  auto reads_of = [&](const std::string& node) -> const Reads* {
    std::string p = node.substr(0, node.find('.'));
    if (!loaded.count(p)) {
      loaded.insert(p);  // tried once, loaded or not
      const CatalogEntry* e = catalog.Find(p);
      if (e != nullptr && !e->folder.empty()) {
        auto other = LoadPipeline(e->folder, {}, fs);
        if (other.ok()) add_pipeline(*other);  // a pipeline that does not load is its own error
      }
    }
    auto g = graphs.find(p);
    if (g == graphs.end()) return nullptr;
    auto t = g->second.find(node.substr(node.find('.') + 1));
    return t == g->second.end() ? nullptr : &t->second;
  };
  std::map<std::string, int> state;  // 1 on the stack, 2 done
  std::vector<std::pair<std::string, SourceLocation>> stack;
  Status found = Status::OK();
  std::function<bool(const std::string&, const SourceLocation&)> visit = [&](const std::string& node,
                                                                              const SourceLocation& at) -> bool {
    int& s = state[node];
    if (s == 2) return true;
    if (s == 1) {
      std::string path;
      size_t from = 0;
      while (from < stack.size() && stack[from].first != node) ++from;
      for (size_t i = from; i < stack.size(); ++i) path += stack[i].first + " reads ";
      path += node;
      // Point at this pipeline's read of another pipeline's table on the cycle: the
      // edge into stack[i] is read where stack[i - 1] is defined.
      auto own_name = [](const std::string& n) { return n.substr(0, n.find('.')); };
      const std::string own = own_name(stack.front().first);
      SourceLocation where = at;
      for (size_t i = from; i < stack.size(); ++i) {
        // The cycle's edge into stack[from] is the read that closes it (at `at`).
        const std::string& reader_node = stack[i == from ? stack.size() - 1 : i - 1].first;
        if (own_name(reader_node) == own && own_name(stack[i].first) != own) {
          where = i == from ? at : stack[i].second;
          break;
        }
      }
      found = ErrorAt(where, "pipelines read each other's tables in a cycle: " + path +
                              " (no update could ever start it; break one of the reads)");
      return false;
    }
    s = 1;
    stack.push_back({node, at});
    if (const Reads* r = reads_of(node)) {
      for (const auto& [in, loc] : r->inputs)
        if (!visit(in, loc)) return false;
    }
    stack.pop_back();
    state[node] = 2;
    return true;
  };
  std::string own = ToLower(pipeline.settings.name);
  for (const auto& d : pipeline.datasets) {
    if (!visit(own + "." + ToLower(d.name), d.loc)) return found;
  }
  return Status::OK();
}

}  // namespace lakepipe::sql
