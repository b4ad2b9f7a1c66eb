#!/usr/bin/env bash
# `make fuzz`: builds every libFuzzer target (src/**/*_fuzz.cc) with clang, ASan and UBSan
# in $BUILD, then runs each for FUZZ_SECONDS (60 by default) from its corpus kept in
# tests/fuzz/corpus/<target>/ (docs/fuzzing.md). New inputs go to $BUILD/corpus/<target>/,
# crashes to $BUILD/crashes/. Exits 1 when a target crashed, naming the inputs to keep.
# Usage: scripts/fuzz.sh [BUILD]   (FUZZ_SECONDS=600 FUZZ_TARGETS="csv_reader_fuzz ..." to choose)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-$(nproc)}

scripts/install-deps.sh fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DLAKEPIPE_FUZZ=ON -DLAKEPIPE_TESTS=OFF -DLAKEPIPE_KILL_POINTS=OFF >/dev/null
targets=${FUZZ_TARGETS:-$(find src -name '*_fuzz.cc' -printf '%f\n' | sed 's/\.cc$//' | sort)}
# shellcheck disable=SC2086 # one word per target
ninja -C "$build" -j "$jobs" $targets
mkdir -p "$build/crashes"
summary="$build/fuzz-summary.txt"
: >"$summary"
failed=()
for t in $targets; do
  bin=$(find "$build/src" -type f -name "$t" -perm -u+x | head -1)
  if [ -z "$bin" ]; then echo "fuzz: no binary for $t" >&2; exit 2; fi
  seeds="tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  mkdir -p "$work"
  echo "== $t: ${seconds}s from $seeds"
  log="$build/$t.log"
  # libFuzzer adds what it finds to the first folder; the kept corpus is read only.
  if (LAKEPIPE_SOURCE_DIR=$(pwd) "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "$work" "$seeds" >"$log" 2>&1); then
    result=ok
  else
    result=CRASH
    failed+=("$t")
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "$t $result ${seconds}s execs=$execs corpus=$(ls "$work" | wc -l)" | tee -a "$summary"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}: see $build/<target>.log and $build/crashes/;" >&2
  echo "fix them, then copy each crashing input into tests/fuzz/corpus/<target>/ as a regression input." >&2
  exit 1
fi
echo "fuzz: no crash; summary in $summary"
