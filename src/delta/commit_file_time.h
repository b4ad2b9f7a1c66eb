// CommitFileMillis: the modification time of a commit file listed by ListLog (log.h),
// which lists names only. Kept out of log.h, which most of the tree includes, because
// only the readers of commit times need it. Thread-safe (stats the file).
#pragma once

#include <cstdint>
#include <string>

#include "common/fs.h"

namespace lakepipe::delta {

// The commit file's modification time in ms (0 when it is gone); a time already in
// `commit` (a listing that stat'ed it) is used as is.
int64_t CommitFileMillis(FileSystem* fs, const std::string& table_path, const FileInfo& commit);

}  // namespace lakepipe::delta
