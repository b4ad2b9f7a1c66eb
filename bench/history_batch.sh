#!/bin/bash
# A batch against stored history (docs/BENCHMARKS.md, "A batch against stored history"):
# examples/orders first takes HISTORY lines (`generate orders --seed 5`) with `run --once`,
# then each binary takes LINES more (`--seed 9`: new lines, many of the same transactions
# and customers, as the generator draws them from fixed pools) with `run --once` on a copy
# of that storage, ROUNDS times alternated. It prints each run's wall, user and system CPU,
# peak RSS and the update time of every table. The state is what a pipeline that has run
# for a while holds: Silver's DISTINCT keys and the views' count(DISTINCT) pairs are stored,
# so probes read them (a fresh storage, as in `latency.mjs --backlog-at-start`, never does).
# Usage: bench/history_batch.sh [--history 3000000] [--lines 3000000] [--rounds 2] BIN...
set -euo pipefail
HISTORY=3000000 LINES=3000000 ROUNDS=2 BINS=()
while [ $# -gt 0 ]; do
  case $1 in
    --history) HISTORY=$2; shift 2;;
    --lines) LINES=$2; shift 2;;
    --rounds) ROUNDS=$2; shift 2;;
    *) BINS+=("$(realpath "$1")"); shift;;
  esac
done
[ ${#BINS[@]} -gt 0 ] || { echo "usage: $0 [--history N] [--lines N] [--rounds N] BIN..." >&2; exit 2; }
EXAMPLE=$(cd "$(dirname "$0")/../examples/orders" && pwd)
D=${TMPDIR:-/tmp}/history_batch
rm -rf "$D"; mkdir -p "$D/landing"
B=${BINS[0]}
$B generate orders --rows "$HISTORY" --seed 5 --out "$D/history.csv" >/dev/null
$B generate orders --rows "$LINES" --seed 9 --out "$D/new.csv" >/dev/null
$B produce --from "$D/history.csv" --to "$D/landing" --rate 100000000 --lines-per-file 10000 --prefix history >/dev/null
$B run "$EXAMPLE" --once --no-server --set landing="$D/landing" --set storage="$D/storage0" >/dev/null
$B produce --from "$D/new.csv" --to "$D/landing" --rate 100000000 --lines-per-file 10000 --prefix new >/dev/null
echo "history: $HISTORY lines stored; batch: $LINES lines; $(nproc) CPUs"
for round in $(seq 1 "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    rm -rf "$D/storage"; cp -a "$D/storage0" "$D/storage"; sync
    /usr/bin/time -f '%e %U %S %M' -o "$D/time" "$bin" run "$EXAMPLE" --once --no-server \
      --set landing="$D/landing" --set storage="$D/storage" >"$D/out" 2>&1 || { cat "$D/out"; exit 1; }
    read -r wall user sys rss <"$D/time"
    tables=$(grep -oE '^ +[a-z_]+ \([a-z ]+\): updated, .* ([0-9]+) ms' "$D/out" |
      sed -E 's/^ +([a-z_]+) .* ([0-9]+) ms$/\1 \2/' | awk '{printf "%s%s %.2f s", sep, $1, $2 / 1000; sep = ", "}')
    echo "round $round $bin: ${wall} s wall, ${user} s user, ${sys} s sys, $((rss / 1024)) MB peak; load $(cut -d' ' -f1 /proc/loadavg); $tables"
  done
done
rm -rf "$D"
