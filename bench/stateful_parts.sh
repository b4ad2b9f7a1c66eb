#!/bin/bash
# Steps that keep state, by parts (docs/BENCHMARKS.md, "Steps that keep state, by parts"):
# each binary runs `run --once` on fresh storage, ROUNDS times alternated, over
# - bench/stateful: LINES order lines (`generate orders --seed 1`) through a join with a
#   stored table, a keyed de-duplication and a daily window under watermarks;
# - examples/shop: SHOP_DAYS days of `generate shop --sessions-per-day 40000` (its click
#   stream de-duplicated by event_id and cut into session windows).
# It prints each run's wall, user and system CPU, peak RSS and the load average.
# Usage: bench/stateful_parts.sh [--lines 5000000] [--shop-days 14] [--rounds 3] BIN...
set -euo pipefail
LINES=5000000 SHOP_DAYS=14 ROUNDS=3 BINS=()
while [ $# -gt 0 ]; do
  case $1 in
    --lines) LINES=$2; shift 2;;
    --shop-days) SHOP_DAYS=$2; shift 2;;
    --rounds) ROUNDS=$2; shift 2;;
    *) BINS+=("$(realpath "$1")"); shift;;
  esac
done
[ ${#BINS[@]} -gt 0 ] || { echo "usage: $0 [--lines N] [--shop-days N] [--rounds N] BIN..." >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
D=${TMPDIR:-/tmp}/stateful_parts
rm -rf "$D"; mkdir -p "$D/landing" "$D/dims"
B=${BINS[0]}
$B generate orders --rows "$LINES" --seed 1 --out "$D/landing/orders.csv" >/dev/null
printf 'Country,region\nUnited Kingdom,Europe\nFrance,Europe\nGermany,Europe\nAustralia,Oceania\n' >"$D/dims/countries.csv"
$B generate shop --days "$SHOP_DAYS" --sessions-per-day 40000 --out "$D/shop" >/dev/null
echo "orders: $LINES lines; shop: $SHOP_DAYS days; $(nproc) CPUs"
run() {  # run LABEL BIN ARGS...: one timed run on fresh storage
  local label=$1 bin=$2; shift 2
  rm -rf "$D/storage"
  /usr/bin/time -f '%e %U %S %M' -o "$D/time" "$bin" run "$@" --once --no-server --set storage="$D/storage" \
    >"$D/out" 2>&1 || { cat "$D/out"; exit 1; }
  read -r wall user sys rss <"$D/time"
  echo "$label $bin: ${wall} s wall, ${user} s user, ${sys} s sys, $((rss / 1024)) MB peak; load $(cut -d' ' -f1 /proc/loadavg)"
}
for round in $(seq 1 "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    run "round $round orders" "$bin" "$HERE/stateful" --set landing="$D/landing" --set dims="$D/dims"
  done
  for bin in "${BINS[@]}"; do
    run "round $round shop" "$bin" "$HERE/../examples/shop" --set landing="$D/shop"
  done
done
