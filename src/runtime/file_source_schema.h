// The schema of a read_files scan without `schema =>` (Auto Loader's
// cloudFiles.schemaLocation): inferred from the files (formats/options/infer_schema.h),
// and for a streaming scan kept in the flow's checkpoint as numbered versions
// (`schemas/<scan>/<version>`, docs/checkpoint.md "Inferred schemas"), so that a restart
// reads with the same columns and only schemaEvolutionMode addNewColumns changes them.
//
// Call order: `validate` and `run` resolve the pipeline with ReadFilesSchemaLookupFor (it
// reads kept schemas, infers the others, writes nothing); a flow writes version 0 of an
// inferred schema when it plans a batch (KeepInferredSchema), after a full refresh has
// cleared its checkpoint; reading a batch that brings new fields writes the next version
// and stops the flow (ReadSourceFiles, through StopForNewFields); the runner then
// resolves the pipeline again (the same lookup) and restarts the flow.
// Functions are thread-safe for different locations; one flow writes a location.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "sql/plan.h"
#include "sql/resolve.h"
#include "types/schema.h"

namespace lakepipe::runtime {

struct KeptSchema {
  int64_t version = 0;
  Schema schema;       // the data columns, hints applied
  std::string reason;  // why this version exists (inferred from N files / new fields ...)
};

// `<storage>/_checkpoints/<dataset>[/flows/<flow>]/schemas/<scan index>`.
std::string SchemaLocation(const std::string& storage, const sql::ReadFilesScanContext& where);

// The newest version under `location`; nullopt when there is none. Corruption for a
// file that does not parse.
Result<std::optional<KeptSchema>> ReadLatestKeptSchema(FileSystem* fs, const std::string& location);
// Writes `kept` as version kept.version (put-if-absent: an existing version is never
// replaced; AlreadyExists then).
Status WriteKeptSchema(FileSystem* fs, const std::string& location, const KeptSchema& kept, int64_t now_millis);

// The lookup `validate` and `run` resolve with: a streaming scan takes its kept schema
// if there is one, otherwise (and a batch read always) the schema inferred from the
// files the scan selects now, in plan order; schemaHints are applied last.
sql::ReadFilesSchemaLookup ReadFilesSchemaLookupFor(FileSystem* fs, std::string storage);

// Before a flow plans a batch: writes version 0 of the scan's inferred schema when its
// location holds none (the first batch, or after a full refresh). No-op for declared
// schemas and batch reads.
Status KeepInferredSchema(FileSystem* fs, const sql::ReadFilesSpec& spec, int64_t now_millis);

// A field of the files that the scan's schema lacks, where it first appears: a top-level
// one, or a key a struct column lacks (`path` {"post", "device"}, name "post.device").
struct NewFieldSeen {
  std::string name;
  std::string file;  // full path
  int64_t line = 0;
  std::vector<std::string> path;  // empty: {name}
};

// A batch of a streaming scan met fields its kept schema lacks. addNewColumns: infers
// their types from `files` (the batch's files, full paths), writes the next schema
// version with them appended (top-level ones after the columns, nested ones after their
// struct's fields; unless the newest version already has them), and returns the error
// that stops the flow, naming the fields, files and lines. failOnNewColumns: only the
// error. Never OK.
Status StopForNewFields(FileSystem* fs, const sql::ReadFilesSpec& spec, const std::vector<std::string>& files,
                        const std::vector<NewFieldSeen>& seen, int64_t now_millis);

// The words of the addNewColumns stop, which the runner recognises (IsSchemaEvolutionStop)
// to re-plan the pipeline and restart the flow (docs/sql-reference.md, "Schema inference
// and evolution").
inline constexpr const char* kSchemaEvolutionStop = "schemaEvolutionMode addNewColumns stops the stream once here";
// Whether `status` is StopForNewFields' addNewColumns stop (its context may be prefixed).
bool IsSchemaEvolutionStop(const Status& status);

}  // namespace lakepipe::runtime
