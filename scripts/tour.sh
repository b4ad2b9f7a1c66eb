#!/usr/bin/env bash
# `make tour`: a batch walk-through of the orders pipeline (examples/orders) on generated
# order lines (`make demo` is the live, continuous one with the dashboard).
# Two deliveries of files land in a landing folder; after each, one triggered update
# (`lakepipe run --once`) carries the new lines through Bronze, Silver and Gold exactly
# once. Then the Gold tables, the event log and a table's history are shown.
# Usage: scripts/tour.sh [path/to/lakepipe]
set -euo pipefail

BIN="${1:-build/lakepipe}"
ROWS="${DEMO_ROWS:-250000}"
DEMO_DIR="${LAKEPIPE_DEMO_DIR:-${TMPDIR:-/tmp}/lakepipe-tour}"
PIPELINE="$(cd "$(dirname "$0")/.." && pwd)/examples/orders"
LANDING="$DEMO_DIR/landing"
STORAGE="$DEMO_DIR/storage"
SETS=(--set "landing=$LANDING" --set "storage=$STORAGE")

if [[ ! -x "$BIN" ]]; then
  echo "tour: $BIN is not built (run make build)" >&2
  exit 1
fi
rm -rf "$DEMO_DIR"
mkdir -p "$LANDING"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
deliver() {  # deliver NAME SEED: a file of ROWS lines, renamed into place whole
  "$BIN" generate orders --rows "$ROWS" --seed "$2" --out "$LANDING/.$1.tmp" >/dev/null
  mv "$LANDING/.$1.tmp" "$LANDING/$1"
  echo "landed $LANDING/$1 ($ROWS lines)"
}
query() { "$BIN" query "$PIPELINE" "${SETS[@]}" "$1"; }

step "The pipeline: $PIPELINE"
"$BIN" graph "$PIPELINE" "${SETS[@]}"

step "1. First delivery"
deliver orders-001.csv 1
deliver orders-002.csv 2
"$BIN" run "$PIPELINE" --once "${SETS[@]}"

step "2. Gold: revenue by country (top 5) and the headline numbers"
query "SELECT Country, total_revenue, orders, customers FROM gold_revenue_by_country ORDER BY total_revenue DESC LIMIT 5"
query "SELECT * FROM gold_kpis"

step "3. Second delivery: only the new file is read"
deliver orders-003.csv 3
"$BIN" run "$PIPELINE" --once "${SETS[@]}"

step "4. Running again with nothing new changes nothing"
"$BIN" run "$PIPELINE" --once "${SETS[@]}"

step "5. Quarantined lines and the rules they broke"
query "SELECT TransactionNo, Price, Quantity, _failed_constraints FROM silver_orders_quarantine LIMIT 5"

step "6. The event log"
query "SELECT timestamp, table_name, event_type, message FROM _event_log WHERE table_name = 'silver_orders' ORDER BY timestamp"

step "7. bronze_orders: a Delta table any engine can read"
"$BIN" table history "$STORAGE/bronze_orders"

printf '\nTables are in %s (Delta Lake: Spark, DuckDB, delta-rs and Trino read them).\n' "$STORAGE"
printf 'Try: %s query %s --set storage=%s "SELECT * FROM gold_daily_revenue ORDER BY OrderDate DESC LIMIT 7"\n' \
  "$BIN" "$PIPELINE" "$STORAGE"
