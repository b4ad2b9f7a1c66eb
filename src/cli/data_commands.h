// MovesDataAtVolume: which command lines run with malloc on huge pages. Header-only so
// that main() and its test share it. Thread-safety: a pure function.
#pragma once

#include <cstring>

namespace lakepipe::cli {

// Whether the command line names a command that moves data at volume (run, demo, job,
// query, publish, serve, table, kafka). Only those run with malloc on huge pages
// (common/memory.h, ReexecWithMallocHugePages), which costs a second process start
// (~40 ms here); the others (status, validate, graph, generate, the crash tests' `crash
// power-loss`, ...) start once.
inline bool MovesDataAtVolume(int argc, char** argv) {
  static constexpr const char* kCommands[] = {"run", "demo", "job", "query", "publish",
                                              "serve", "table", "kafka"};
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;  // an option before the command (--help, --version)
    for (const char* c : kCommands)
      if (std::strcmp(argv[i], c) == 0) return true;
    return false;
  }
  return false;
}

}  // namespace lakepipe::cli
