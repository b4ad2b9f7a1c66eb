#!/usr/bin/env bash
# `make demo` (until the streaming pipeline lands): generate order lines, write them into a
# Delta table with `lakepipe table write`, then print the table's description, history and
# a few rows. Usage: scripts/demo.sh [path/to/lakepipe]
set -euo pipefail

BIN="${1:-build/lakepipe}"
ROWS="${DEMO_ROWS:-200000}"
DEMO_DIR="${LAKEPIPE_DEMO_DIR:-${TMPDIR:-/tmp}/lakepipe-demo}"
CSV="$DEMO_DIR/landing/orders.csv"
TABLE="$DEMO_DIR/tables/bronze_orders"
SCHEMA='TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING, Price DOUBLE, Quantity INT, CustomerNo STRING, Country STRING'

if [[ ! -x "$BIN" ]]; then
  echo "demo: $BIN is not built (run make build)" >&2
  exit 1
fi
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR/landing" "$DEMO_DIR/tables"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Generating $ROWS order lines"
if "$BIN" generate --help >/dev/null 2>&1; then
  "$BIN" generate orders --rows "$ROWS" --out "$CSV"
else
  # Fallback generator: the columns and look of the online-shop dataset.
  awk -v rows="$ROWS" 'BEGIN {
    srand(42)
    split("United Kingdom,United Kingdom,United Kingdom,United Kingdom,Germany,France,EIRE,Spain,Netherlands,Belgium", countries, ",")
    print "TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country"
    for (i = 0; i < rows; i++) {
      tx = 536000 + int(i / 4); p = int(rand() * 3700)
      printf "%s%d,%d/%d/2019,%d,\"Product %d, \"\"classic\"\"\",%.2f,%d,%d,%s\n",
        (rand() < 0.02 ? "C" : ""), tx, 1 + int(rand() * 12), 1 + int(rand() * 28), 21000 + p, p,
        1 + rand() * rand() * 40, 1 + int(rand() * 24), 12000 + int(rand() * 4700),
        countries[1 + int(rand() * 10)]
    }
  }' > "$CSV"
fi
echo "$CSV ($(du -h "$CSV" | cut -f1), $(($(wc -l < "$CSV") - 1)) lines)"

step "2. Writing it as a Delta table"
start=$(date +%s.%N)
"$BIN" table write --from "$CSV" --to "$TABLE" --schema "$SCHEMA"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "took %.2f s\n", e - s }'

step "3. lakepipe table describe"
"$BIN" table describe "$TABLE"

step "4. lakepipe table history"
"$BIN" table history "$TABLE"

step "5. lakepipe table show --limit 5"
"$BIN" table show "$TABLE" --limit 5

printf '\nThe table is at %s: any Delta reader (Spark, DuckDB, delta-rs) can open it.\n' "$TABLE"
