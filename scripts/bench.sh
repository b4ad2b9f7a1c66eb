#!/usr/bin/env bash
# `make bench`: lakepipe against DuckDB (npm, 2 threads) on the generated 5-million-line
# orders file, in the same run; prints a table of times and ratios and writes
# docs/BENCHMARKS.md. Usage: scripts/bench.sh BUILD_DIR (a build with -DLAKEPIPE_BENCH=ON).
#
# Steps: generate the orders CSV once (cached in bench/out/, keyed by the generator's
# sources); DuckDB loads it, writes Parquet from memory and from CSV, reads it back;
# bench/lp_parquet_benchmark does the same with lakepipe's CSV reader and Parquet
# writer/reader; DuckDB reads lakepipe's file (a correctness check of that file); DuckDB runs
# DESIGN §9's three-step job and the fused query; `lakepipe run examples/orders --once`
# runs if it exists. A step that fails is reported as such; the others still run.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=$(cd "${1:-build-bench}" && pwd)
BIN="$BUILD/lakepipe"
BENCH_BIN="$BUILD/bench/lp_parquet_benchmark"
ROWS=${LAKEPIPE_BENCH_ROWS:-5000000}
OUT="$ROOT/bench/out"
RESULTS="$OUT/results"
mkdir -p "$OUT"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
cut -d' ' -f1-3 /proc/loadavg > "$RESULTS/load_start.txt"
date -u +%Y-%m-%dT%H:%M:%SZ > "$RESULTS/date.txt"
git rev-parse --short HEAD > "$RESULTS/commit.txt" 2>/dev/null || true
# Changed tracked files (the build measured holds them); empty when the tree is the commit.
git status --porcelain --untracked-files=no > "$RESULTS/changed.txt" 2>/dev/null || true
realpath --relative-to="$ROOT" "$BUILD" > "$RESULTS/build.txt"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
fail_json() { printf '{"error": %s}\n' "$(printf '%s' "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.stringify(s.slice(-2000))))')"; }

# 1. The input, generated once per generator version.
GEN_HASH=$(cat src/generator/*.h src/generator/*.cc | sha1sum | cut -c1-10)
CSV="$OUT/orders_${ROWS}_${GEN_HASH}.csv"
if [ ! -f "$CSV" ]; then
  rm -f "$OUT"/orders_*.csv
  echo "== generating $ROWS order lines into $CSV"
  t=$(now)
  if "$BIN" generate orders --rows "$ROWS" --seed 1 --out "$CSV.tmp"; then
    mv "$CSV.tmp" "$CSV"
    printf '{"seconds": %s, "rows": %s, "bytes": %s}\n' "$(elapsed "$t")" "$ROWS" \
      "$(stat -c %s "$CSV")" > "$RESULTS/generate.json"
  else
    echo "bench: cannot generate the input with $BIN" >&2
    exit 1
  fi
else
  echo "== using the cached input $CSV"
fi

# 2. DuckDB: load, write from memory, CSV -> Parquet, read.
echo "== DuckDB: load, Parquet write, read"
if ! node bench/duckdb_bench.mjs table "$CSV" "$OUT" > "$RESULTS/duckdb_table.json" 2> "$RESULTS/err"; then
  fail_json "$(cat "$RESULTS/err")" > "$RESULTS/duckdb_table.json"
fi

# 3. lakepipe: the same with its CSV reader and Parquet writer/reader.
echo "== lakepipe: generator, CSV load, Parquet write, read"
rm -f "$OUT/lakepipe_orders.parquet"
if [ -x "$BENCH_BIN" ]; then
  LAKEPIPE_BENCH_CSV="$CSV" LAKEPIPE_BENCH_OUT="$OUT" \
  LAKEPIPE_BENCH_DUCKDB_PARQUET="$OUT/duckdb_orders.parquet" \
    "$BENCH_BIN" --benchmark_out="$RESULTS/lakepipe.json" --benchmark_out_format=json \
    || echo "bench: lp_parquet_benchmark failed" >&2
else
  echo "bench: $BENCH_BIN is missing (configure with -DLAKEPIPE_BENCH=ON)" >&2
fi

# 4. DuckDB reads lakepipe's file: timing, and the checksums must equal its own file's.
if [ -f "$OUT/lakepipe_orders.parquet" ]; then
  echo "== DuckDB reads lakepipe's Parquet file"
  if ! node bench/duckdb_bench.mjs read "$OUT/lakepipe_orders.parquet" \
      > "$RESULTS/duckdb_read_lakepipe.json" 2> "$RESULTS/err"; then
    fail_json "$(cat "$RESULTS/err")" > "$RESULTS/duckdb_read_lakepipe.json"
  fi
fi

# 5. DuckDB: DESIGN §9's three steps and the fused query.
echo "== DuckDB: bronze -> silver -> gold, and fused"
if ! node bench/duckdb_bench.mjs pipeline "$CSV" "$OUT" > "$RESULTS/duckdb_pipeline.json" 2> "$RESULTS/err"; then
  fail_json "$(cat "$RESULTS/err")" > "$RESULTS/duckdb_pipeline.json"
fi

# 6. lakepipe run examples/orders --once, when it exists.
if "$BIN" run --help > /dev/null 2>&1 && [ -d examples/orders ]; then
  echo "== lakepipe run examples/orders --once"
  P="$OUT/pipeline"
  rm -rf "$P"
  LANDING="$P/landing"
  # The example reads ${landing}/orders when its SQL says so, else ${landing} itself.
  if grep -rqs '${landing}/orders' examples/orders; then DEST="$LANDING/orders"; else DEST="$LANDING"; fi
  mkdir -p "$DEST"
  ln "$CSV" "$DEST/orders.csv" 2>/dev/null || cp "$CSV" "$DEST/orders.csv"
  t=$(now)
  if timeout 900 "$BIN" run examples/orders --once --set "landing=$LANDING" --set "storage=$P/storage" \
      > "$RESULTS/pipeline.log" 2>&1; then
    printf '{"seconds": %s}\n' "$(elapsed "$t")" > "$RESULTS/pipeline.json"
  else
    fail_json "$(tail -20 "$RESULTS/pipeline.log")" > "$RESULTS/pipeline.json"
  fi
  rm -rf "$P"
else
  echo "pipeline benchmark: not built yet (lakepipe run is missing)"
  echo '{"not_built": "lakepipe run is missing"}' > "$RESULTS/pipeline.json"
fi
# 6c. Scale (issue 15): `run examples/orders --once` on the 5M-line input and on a 20M-line
# one (generated once, cached in bench/out/ beside the 5M file) under /usr/bin/time -v: wall,
# CPU, peak RSS and each table's time; the 20M run a second time under an address-space
# limit (`ulimit -v`, LAKEPIPE_BENCH_LIMIT_MB, 3072 by default), which it must pass because
# it runs by parts (docs/execution.md). LAKEPIPE_BENCH_SCALE_ROWS=0 skips the step.
SCALE_ROWS=${LAKEPIPE_BENCH_SCALE_ROWS:-20000000}
LIMIT_MB=${LAKEPIPE_BENCH_LIMIT_MB:-3072}
mkdir -p "$RESULTS/sections"
if [ "$SCALE_ROWS" != 0 ] && [ -x /usr/bin/time ] && "$BIN" run --help > /dev/null 2>&1; then
  BIG="$OUT/orders_${SCALE_ROWS}_${GEN_HASH}.csv"
  if [ ! -f "$BIG" ]; then
    echo "== generating $SCALE_ROWS order lines into $BIG"
    "$BIN" generate orders --rows "$SCALE_ROWS" --seed 1 --out "$BIG.tmp" > /dev/null && mv "$BIG.tmp" "$BIG"
  fi
  SECTION="$RESULTS/sections/15-scale.md"
  {
    printf '## Scale: %s and %s lines (issue 15; docs/execution.md)\n\n' "$ROWS" "$SCALE_ROWS"
    printf '`lakepipe run examples/orders --once` under `/usr/bin/time -v`, each input on a fresh storage folder; load at the start of the step: %s.\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '| input | limit | exit | wall | user + sys CPU | peak RSS | per table |\n|---|---|---|---|---|---|---|\n'
  } > "$SECTION"
  scale_run() {  # CSV LABEL LIMIT_KB(or empty)
    local P="$OUT/scale" lines rc wall user sys rss tables
    rm -rf "$P"
    mkdir -p "$P/landing"
    ln "$1" "$P/landing/orders.csv" 2>/dev/null || cp "$1" "$P/landing/orders.csv"
    echo "== scale: $2${3:+ under ulimit -v $3}"
    ( if [ -n "$3" ]; then ulimit -v "$3"; fi
      exec /usr/bin/time -v -o "$RESULTS/scale_$2.time" timeout 1800 "$BIN" run examples/orders --once \
        --set "landing=$P/landing" --set "storage=$P/storage" ) > "$RESULTS/scale_$2.log" 2>&1
    rc=$?
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$RESULTS/scale_$2.time")
    user=$(sed -n 's/.*User time (seconds): //p' "$RESULTS/scale_$2.time")
    sys=$(sed -n 's/.*System time (seconds): //p' "$RESULTS/scale_$2.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$RESULTS/scale_$2.time")
    tables=$(sed -n 's/^  \([a-z_]*\) ([a-z ]*): .*, \([0-9]*\) ms$/\1 \2 ms/p' "$RESULTS/scale_$2.log" | paste -sd, - | sed 's/,/, /g')
    printf '| %s | %s | %s | %s | %s + %s s | %s MB | %s |\n' "$2" "${3:+$(($3 / 1024)) MB}" "$rc" "$wall" \
      "$user" "$sys" "$(( ${rss:-0} / 1024 ))" "$tables" >> "$SECTION"
    echo "${rss:-0}" > "$RESULTS/scale_$2.rss"
    rm -rf "$P"
  }
  scale_run "$CSV" "${ROWS}" ""
  scale_run "$BIG" "${SCALE_ROWS}" ""
  scale_run "$BIG" "${SCALE_ROWS}-limited" "$((LIMIT_MB * 1024))"
  awk -v a="$(cat "$RESULTS/scale_${ROWS}.rss")" -v b="$(cat "$RESULTS/scale_${SCALE_ROWS}.rss")" \
    'BEGIN { if (a > 0) printf "\nPeak RSS at %s lines / at %s: %.2f× (target ≤ 1.2×).\n", "'"$SCALE_ROWS"'", "'"$ROWS"'", b / a }' >> "$SECTION"
fi

# 6b. End-to-end latency and throughput in continuous mode (bench/latency.mjs), and the
# long kill -9 crash test (tests/crash/kill9.mjs, 20 kills); each writes a section of
# docs/BENCHMARKS.md into $RESULTS/sections/.
mkdir -p "$RESULTS/sections"
if "$BIN" produce --help > /dev/null 2>&1; then
  # The backlog is dropped while the pipeline is stopped and timed from the run started on
  # it (--backlog-at-start): the drain alone, not capped by the producer's own rate.
  echo "== latency: lakepipe produce at 1,000, 10,000 and 50,000 lines/s into lakepipe run, then a 1M-line backlog"
  if ! node bench/latency.mjs --bin "$BIN" --rates 1000,10000,50000 --seconds 20 --max-lines 1000000 \
      --backlog-lines 1000000 --backlog-at-start --json "$RESULTS/latency.json" \
      --md "$RESULTS/sections/20-latency.md" > "$RESULTS/latency.log" 2>&1; then
    printf '## End-to-end latency (issue 4)\n\nFailed:\n\n```\n%s\n```\n' "$(tail -15 "$RESULTS/latency.log")" \
      > "$RESULTS/sections/20-latency.md"
  fi
  echo "== publication: Gold commit -> visible in PostgreSQL at the demo's rate"
  if ! node bench/publish_latency.mjs --bin "$BIN" --rate 2000 --seconds 40 --json "$RESULTS/publish_latency.json" \
      --md "$RESULTS/sections/25-publish.md" > "$RESULTS/publish_latency.log" 2>&1; then
    [ -s "$RESULTS/sections/25-publish.md" ] || \
      printf '## Publication to PostgreSQL (issue 13)\n\nFailed:\n\n```\n%s\n```\n' "$(tail -15 "$RESULTS/publish_latency.log")" \
        > "$RESULTS/sections/25-publish.md"
  fi
  echo "== crash test: kill -9 the pipeline 20 times while lakepipe produce drops files"
  if node tests/crash/kill9.mjs --bin "$BIN" --kills 20 --rows 40000 --rate 2000 --lines-per-file 200 \
      > "$RESULTS/kill9.log" 2>&1; then verdict="passed"; else verdict="FAILED"; fi
  printf '## Crash test: kill -9 (issue 4, docs/crash-testing.md)\n\n`node tests/crash/kill9.mjs --kills 20 --rows 40000 --rate 2000`: %s\n\n```\n%s\n```\n' \
    "$verdict" "$(tail -8 "$RESULTS/kill9.log")" > "$RESULTS/sections/30-crash.md"
  # Issue 10's benchmark: 1,000,000 change events (10% deletes, 30% updates, 5% re-inserts,
  # the rest new keys) on a 1,000,000-key dimension in batches of 10,000, SCD type 2 (the
  # issue's case) and type 1, each against DuckDB doing the same per batch in the same run.
  # LAKEPIPE_BENCH_CDC_EVENTS scales both down (e.g. 200000 for a quick look).
  CDC_EVENTS=${LAKEPIPE_BENCH_CDC_EVENTS:-1000000}
  echo "== AUTO CDC SCD type 2: $CDC_EVENTS change events on a 1,000,000-key dimension, batches of 10,000, vs DuckDB"
  if node bench/cdc_bench.mjs --bin "$BIN" --scd 2 --events "$CDC_EVENTS" --json "$RESULTS/cdc_scd2.json" > "$RESULTS/cdc_scd2.log" 2>&1; then
    verdict="tables equal"; else verdict="FAILED"; fi
  printf '## AUTO CDC, SCD type 2 (issue 10)\n\n`node bench/cdc_bench.mjs --scd 2 --events %s` (one `lakepipe run --once` per batch: process start and the bronze table included; rewritten bytes = the commits'"'"' numAddedBytes; see docs/delta.md, "Patching instead of rewriting"): %s\n\n```\n%s\n```\n' \
    "$CDC_EVENTS" "$verdict" "$(tail -6 "$RESULTS/cdc_scd2.log")" > "$RESULTS/sections/45-cdc.md"
  echo "== AUTO CDC SCD type 1: $CDC_EVENTS change events on a 1,000,000-key dimension, batches of 10,000, vs DuckDB MERGE INTO"
  if node bench/cdc_bench.mjs --bin "$BIN" --events "$CDC_EVENTS" --json "$RESULTS/cdc.json" > "$RESULTS/cdc.log" 2>&1; then
    verdict="tables equal"; else verdict="FAILED"; fi
  printf '## AUTO CDC, SCD type 1 (issue 10)\n\n`node bench/cdc_bench.mjs --events %s` (SCD type 1: deletes remove rows, so every touched file is rewritten whole): %s\n\n```\n%s\n```\n' \
    "$CDC_EVENTS" "$verdict" "$(tail -6 "$RESULTS/cdc.log")" > "$RESULTS/sections/46-cdc-scd1.md"
  echo "== stream-stream join: state size over 5 minutes at 10,000 events/s per side"
  if node bench/stream_join_state.mjs --bin "$BIN" --rate 10000 --seconds 300 --json "$RESULTS/stream_join_state.json" \
      > "$RESULTS/stream_join_state.log" 2>&1; then verdict="flat"; else verdict="FAILED"; fi
  printf '## Stream-stream join state (issue 9)\n\n`node bench/stream_join_state.mjs --rate 10000 --seconds 300`: %s\n\n```\n%s\n```\n' \
    "$verdict" "$(tail -8 "$RESULTS/stream_join_state.log")" > "$RESULTS/sections/40-stream-join.md"
  echo "== Kafka: drain of 1,000,000 messages against kcat -C; produce -> Gold latency at 10,000 and 50,000 msg/s"
  if ! node bench/kafka_bench.mjs --bin "$BIN" --drain-messages 1000000 --partitions 32 --rates 10000,50000 --seconds 20 \
      --json "$RESULTS/kafka.json" --md "$RESULTS/sections/50-kafka.md" > "$RESULTS/kafka.log" 2>&1; then
    printf '## Kafka (issue 11)\n\n`node bench/kafka_bench.mjs` failed:\n\n```\n%s\n```\n' "$(tail -15 "$RESULTS/kafka.log")" \
      > "$RESULTS/sections/50-kafka.md"
  fi
  echo "== per-batch cost against the history: table at version 100 vs 3,000, flow checkpoint with 100 vs 3,000 batches"
  SNAP_BIN="$BUILD/bench/lp_snapshot_benchmark"
  if [ -x "$SNAP_BIN" ] && "$SNAP_BIN" > "$RESULTS/snapshot.log" 2>&1; then verdict="ran"; else verdict="FAILED"; fi
  printf '## Per-batch cost against the history (issue 16)\n\n`bench/lp_snapshot_benchmark` (bench/snapshot_benchmark.cc; the argument is the table version or the number of batches in the flow checkpoint; a cost that does not grow with the history shows the same time for both; load %s): %s\n\n```\n%s\n```\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$verdict" "$(grep '^BM_' "$RESULTS/snapshot.log")" > "$RESULTS/sections/56-snapshot-cost.md"
  echo "== PostgreSQL CDC: commit -> Gold latency at 5,000 orders/s; snapshot of 5,000,000 rows against psql \\copy"
  if ! node bench/pgcdc_bench.mjs --bin "$BIN" --rate 5000 --seconds 20 --snapshot-rows 5000000 \
      --json "$RESULTS/pgcdc.json" --md "$RESULTS/sections/55-pgcdc.md" > "$RESULTS/pgcdc.log" 2>&1; then
    printf '## PostgreSQL change data capture (issue 12)\n\n`node bench/pgcdc_bench.mjs` failed:\n\n```\n%s\n```\n' \
      "$(tail -15 "$RESULTS/pgcdc.log")" > "$RESULTS/sections/55-pgcdc.md"
  fi
  echo "== windowed aggregation: latency to window output at 10,000 events/s"
  if node bench/window_latency.mjs --bin "$BIN" --rate 10000 --seconds 60 --json "$RESULTS/window_latency.json" \
      > "$RESULTS/window_latency.log" 2>&1; then verdict="passed"; else verdict="FAILED"; fi
  printf '## Windowed aggregation latency (issue 9)\n\n`node bench/window_latency.mjs --rate 10000 --seconds 60` (1-second windows, 2-second watermark delay; from the landing of the file that lets the watermark pass a window to the commit that writes it; the load average is in the line): %s\n\n```\n%s\n```\n' \
    "$verdict" "$(tail -4 "$RESULTS/window_latency.log")" > "$RESULTS/sections/45-window-latency.md"
fi
# 6d. The seen-key commit of a streaming DISTINCT (issue 15): the commit alone of N new
# keys into a store of M, with and without event times, ns and CPU ns per key.
SEEN_BIN="$BUILD/bench/lp_seen_key_store_benchmark"
if [ -x "$SEEN_BIN" ]; then
  echo "== seen-key commit: 10k, 100k and 1M new keys into stores of 0 and 1M keys"
  mkdir -p "$RESULTS/sections"
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  if "$SEEN_BIN" --benchmark_filter=BM_CommitNew > "$RESULTS/seen_key_commit.log" 2>&1; then verdict="ran"; else verdict="FAILED"; fi
  printf '## Seen-key commit per key (issue 15)

`bench/lp_seen_key_store_benchmark --benchmark_filter=BM_CommitNew` (bench/seen_key_store_benchmark.cc; the commit alone of `new` keys into a store of `stored`, `times` 1 with event times; `ns_per_key` wall, `cpu_ns_per_key` all threads; load at the start %s): %s

```
%s
```
' \
    "$load" "$verdict" "$(grep '^BM_' "$RESULTS/seen_key_commit.log")" > "$RESULTS/sections/57-seen-key-commit.md"
fi

rm -f "$RESULTS/err" "$OUT"/*.parquet
cut -d' ' -f1-3 /proc/loadavg > "$RESULTS/load_end.txt"

# 7. The table and docs/BENCHMARKS.md.
node bench/report.mjs "$RESULTS" "$CSV" docs/BENCHMARKS.md
