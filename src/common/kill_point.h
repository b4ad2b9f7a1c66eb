// Kill points: named places in the commit protocol where a crash test can stop the
// process dead (SIGKILL, no cleanup), as RocksDB's TEST_KILL_RANDOM does. Compiled in only
// when the build sets LAKEPIPE_KILL_POINTS (the test build; `make bench` builds without);
// otherwise LP_KILL_POINT is nothing.
//
// Controlled by the environment, read once:
//   LAKEPIPE_KILL_AT=name[:n]   kill at the n-th hit (1-based, default 1) of point `name`
//   LAKEPIPE_KILL_TRACE=file    append "name\n" to `file` at every hit (to list the points
//                               a run passes, so a test can then kill at each of them)
// Setting either in a build without kill points is a fatal error (exit 2) rather than a
// silent run, so a crash test can never pass by not crashing.
//
// Thread-safe (hit counts are atomic; the trace is appended with O_APPEND writes).
#pragma once

namespace lakepipe {

void KillPointHit(const char* name);
// Exits with a message when kill-point variables are set but points are not compiled in.
void CheckKillPointEnvironment();
bool KillPointsCompiledIn();

}  // namespace lakepipe

#if defined(LAKEPIPE_KILL_POINTS) && LAKEPIPE_KILL_POINTS
#define LP_KILL_POINT(name) ::lakepipe::KillPointHit(name)
#else
#define LP_KILL_POINT(name) ((void)0)
#endif
