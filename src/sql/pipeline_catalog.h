// The pipeline catalog (docs/catalog.md): a YAML file, named by `catalog:` in
// pipeline.yaml, that maps pipeline names to the folders their tables are stored in, so
// that a query can read another pipeline's table as `<pipeline>.<table>`.
//
// Owns: parsing the catalog file (every mistake names catalog.yaml:line:col), and turning
// a qualified name into the Delta table folder it stands for, or into an error that names
// the query's file:line:col and the catalog entry (unknown pipeline, a table the pipeline
// does not publish or has not stored, this pipeline's own name). Reading the table's
// schema is the runtime's (runtime/external_tables.h): this module does not read Delta.
//
// Also: whether pipelines read each other's tables in a cycle, found through the entries
// that name their pipeline folder (`folder:`).
//
// Immutable once loaded; thread-safe for reading. All file access goes through FileSystem.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "sql/source.h"

namespace lakepipe::sql {

struct Pipeline;
struct PipelineSettings;

// Whether a table name read by a query is another pipeline's: `<pipeline>.<table>`.
// (A pipeline's own datasets cannot have a dot in their names: sql/statement.cc.)
bool IsQualifiedTableName(std::string_view name);

// One pipeline of the catalog.
struct CatalogEntry {
  std::string pipeline;             // its name, as its pipeline.yaml `name:` says
  std::string storage;              // the folder its tables are stored in (absolute or
                                    // relative to the working directory, as resolved)
  std::string folder;               // its pipeline folder; empty when not given
  std::optional<std::vector<std::string>> tables;  // the tables it publishes; none: all stored
  SourceLocation loc;               // of its key in the catalog file
};

// Where `<pipeline>.<table>` is stored.
struct CatalogTable {
  std::string name;      // lower case `pipeline.table`, the name plans carry
  std::string pipeline;  // as the catalog spells it
  std::string table;     // as stored (the folder's name)
  std::string path;      // the Delta table's folder
  SourceLocation entry;  // the catalog entry it came from
};

class PipelineCatalog {
 public:
  // Parses catalog text. `${key}` in values is replaced by the reading pipeline's
  // configuration value `key`, else the environment variable; relative paths are
  // relative to the catalog file's folder.
  static Result<PipelineCatalog> Parse(const std::string& yaml_text, const std::string& file,
                                       const std::map<std::string, std::string>& configuration, FileSystem* fs);
  // The catalog `settings` names (`catalog:` in its pipeline.yaml); nullopt when it names none.
  static Result<std::optional<PipelineCatalog>> LoadFor(const PipelineSettings& settings, FileSystem* fs);

  const std::string& file() const { return file_; }
  const std::vector<CatalogEntry>& entries() const { return entries_; }
  const CatalogEntry* Find(std::string_view pipeline) const;  // case-insensitive

  // The stored table `qualified` (`pipeline.table`, as a query wrote it at `loc`) names,
  // for a query of pipeline `reader`. Errors name `loc` and the catalog entry.
  Result<CatalogTable> Resolve(const std::string& qualified, const SourceLocation& loc, const std::string& reader,
                               FileSystem* fs) const;

 private:
  std::string file_;
  std::vector<CatalogEntry> entries_;
};

// Checks that `pipeline`'s reads of other pipelines' tables form no cycle at the table
// level (A.x reads B.y, which reads A.x): a cycle could never be computed once. Follows
// the catalog entries that name a pipeline folder (their SQL is parsed, not resolved);
// entries without one end the search. The error lists the tables around the cycle.
Status CheckNoCrossPipelineCycle(const Pipeline& pipeline, const PipelineCatalog& catalog, FileSystem* fs);

}  // namespace lakepipe::sql
