#include "runtime/external_tables.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "delta/log.h"
#include "delta/table.h"
#include "sql/pipeline_catalog.h"

namespace lakepipe::runtime {

sql::ExternalTableLookup ExternalTableLookupFor(FileSystem* fs, const sql::Pipeline& pipeline) {
  // Loaded on the first qualified name: pipelines that read none need no catalog.
  auto catalog = std::make_shared<std::optional<sql::PipelineCatalog>>();
  const sql::Pipeline* p = &pipeline;
  return [fs, p, catalog](const std::string& name, const sql::SourceLocation& loc) -> Result<sql::ExternalTable> {
    if (!catalog->has_value()) {
      LP_ASSIGN_OR_RETURN(std::optional<sql::PipelineCatalog> loaded, sql::PipelineCatalog::LoadFor(p->settings, fs));
      if (!loaded) {
        return sql::ErrorAt(loc, "reading `" + name + "`, another pipeline's table, needs a catalog: add `catalog: "
                                 "../catalog.yaml` to " + p->settings.settings_file +
                                 ", a file mapping pipeline names to their storage (docs/catalog.md)");
      }
      LP_RETURN_IF_ERROR(sql::CheckNoCrossPipelineCycle(*p, *loaded, fs));
      *catalog = std::move(loaded);
    }
    LP_ASSIGN_OR_RETURN(sql::CatalogTable where, (*catalog)->Resolve(name, loc, p->settings.name, fs));
    auto table = delta::DeltaTable::Open(where.path, fs);
    if (!table.ok()) {
      return sql::ErrorAt(loc, "reading `" + name + "` at " + where.path + ": " + table.status().message());
    }
    auto snap = (*table)->Latest();
    if (!snap.ok()) {
      return sql::ErrorAt(loc, "reading `" + name + "` at " + where.path + ": " + snap.status().message());
    }
    sql::ExternalTable out;
    out.name = where.name;
    out.pipeline = where.pipeline;
    out.table = where.table;
    out.path = where.path;
    out.schema = (*snap)->schema();
    out.version = (*snap)->version();
    out.entry = where.entry;
    return out;
  };
}

ExternalTableWatch::ExternalTableWatch(FileSystem* fs, std::vector<Watched> tables, int64_t period_micros)
    : fs_(fs), tables_(std::move(tables)), period_micros_(period_micros) {}

ExternalTableWatch::~ExternalTableWatch() { Stop(); }

void ExternalTableWatch::Start() {
  if (tables_.empty() || thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { Loop(); });
}

void ExternalTableWatch::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void ExternalTableWatch::Loop() {
  while (!stop_.load()) {
    for (auto& t : tables_) {
      bool advanced = false;
      // Every commit since the last poll (Delta versions are contiguous).
      while (fs_->Exists(JoinPath(delta::LogDir(t.path), delta::CommitFileName(t.version + 1)))) {
        ++t.version;
        advanced = true;
      }
      if (advanced && t.on_commit) t.on_commit();
    }
    // Sleep in short steps so that Stop returns promptly.
    for (int64_t slept = 0; slept < period_micros_ && !stop_.load(); slept += 20'000) {
      std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(20'000, period_micros_ - slept)));
    }
  }
}

}  // namespace lakepipe::runtime
