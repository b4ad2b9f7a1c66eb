// The RocksDB half of the crash tests' power-cut simulation (common/crash_journal.h): a
// RocksDB Env whose file system journals RocksDB's creates, syncs, renames, links, removals
// and directory syncs into the same journal as lakepipe's own writes.
// Thread-safe (RocksDB calls it from its background threads).
#pragma once

namespace rocksdb {
class Env;
}

namespace lakepipe::state {

// The journaling Env when FileSystem::Default() journals (LAKEPIPE_CRASH_JOURNAL in a
// kill-point build), else nullptr (RocksDB's default Env). Lives for the process.
rocksdb::Env* CrashJournalEnvOrNull();

}  // namespace lakepipe::state
