// DuckDB side of `make bench`: times the same jobs lakepipe does, with 2 threads, and prints
// one JSON object of timings (seconds) and results on stdout. Run by scripts/bench.sh.
//
//   node bench/duckdb_bench.mjs table CSV OUTDIR     load, Parquet write from memory,
//                                                    CSV -> Parquet, read of its own file
//   node bench/duckdb_bench.mjs read PARQUET         read every column into a temp table (min
//                                                    of 3) + checksums
//   node bench/duckdb_bench.mjs pipeline CSV OUTDIR  DESIGN §9's three-step job (with the four
//                                                    gold tables of examples/orders) and fused
//
// The table is typed as lakepipe loads it (bench/orders_loader.h): Price DOUBLE and
// Quantity INTEGER by TRY_CAST (unparseable -> NULL), short lines padded with NULLs.
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync, rmSync, mkdirSync } from 'node:fs';

const [mode, input, outDir] = process.argv.slice(2);
// DuckDB's COPY does not create folders: the output folder is made here, so a first run works.
if (outDir) mkdirSync(outDir, { recursive: true });
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run('SET threads=2');

const q = (s) => s.replaceAll("'", "''");
const csvSource = (path) =>
  `(SELECT TransactionNo, Date, ProductNo, ProductName,
           TRY_CAST(Price AS DOUBLE) AS Price, TRY_CAST(Quantity AS INTEGER) AS Quantity,
           CustomerNo, Country
    FROM read_csv('${q(path)}', header=true, delim=',', quote='"', escape='"',
                  all_varchar=true, null_padding=true))`;

async function timed(sql) {
  const start = performance.now();
  await conn.run(sql);
  return (performance.now() - start) / 1000;
}
async function rows(sql) {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJson();
}
function size(path) {
  try { return statSync(path).size; } catch { return null; }
}
function remove(path) { rmSync(path, { force: true }); }

// Checksums of an orders file (not timed): the same data read from two files must agree.
const checksumSql = (path) => `SELECT count(*)::BIGINT AS rows,
    sum(length(TransactionNo))::BIGINT AS txn_chars, sum(length(Date))::BIGINT AS date_chars,
    sum(length(ProductNo))::BIGINT AS product_no_chars,
    sum(length(ProductName))::BIGINT AS product_name_chars,
    round(sum(Price), 2) AS price_sum, sum(Quantity)::BIGINT AS quantity_sum,
    sum(length(CustomerNo))::BIGINT AS customer_chars, sum(length(Country))::BIGINT AS country_chars
  FROM read_parquet('${q(path)}')`;

// The timed read materialises every column in memory, as lakepipe's FileReader::ReadAll
// does: aggregates (count, sum(length(...))) would let DuckDB decode without building the
// values, and count(*) alone would skip the data pages. Best of `times`.
async function readBest(path, times = 3) {
  let best = Infinity;
  for (let i = 0; i < times; i++) {
    const seconds = await timed(`CREATE OR REPLACE TEMP TABLE read_back AS SELECT * FROM read_parquet('${q(path)}')`);
    best = Math.min(best, seconds);
  }
  await conn.run('DROP TABLE read_back');
  // Any Parquet file can be timed; the checksums need the orders columns.
  let result = null;
  try {
    result = (await rows(checksumSql(path)))[0];
  } catch {
    result = { rows: Number((await rows(`SELECT count(*)::BIGINT AS n FROM read_parquet('${q(path)}')`))[0].n) };
  }
  return { seconds: best, result };
}

const out = { duckdb_version: (await rows('SELECT version() AS v'))[0].v, threads: 2 };

if (mode === 'table') {
  const pq = `${outDir}/duckdb_orders.parquet`;
  const e2e = `${outDir}/duckdb_orders_e2e.parquet`;
  remove(pq); remove(e2e);
  out.load_csv = await timed(`CREATE TABLE orders AS SELECT * FROM ${csvSource(input)}`);
  out.rows = Number((await rows('SELECT count(*)::BIGINT AS n FROM orders'))[0].n);
  out.write_from_memory = await timed(
    `COPY orders TO '${q(pq)}' (FORMAT PARQUET, COMPRESSION zstd)`);
  out.write_file_bytes = size(pq);
  out.csv_to_parquet = await timed(
    `COPY ${csvSource(input)} TO '${q(e2e)}' (FORMAT PARQUET, COMPRESSION zstd)`);
  remove(e2e);
  const read = await readBest(pq);
  out.read_own_file = read.seconds;
  out.read_own_file_result = read.result;
  out.parquet_path = pq;
} else if (mode === 'read') {
  const read = await readBest(input);
  out.read = read.seconds;
  out.read_result = read.result;
} else if (mode === 'pipeline') {
  const bronze = `${outDir}/duckdb_bronze.parquet`;
  const silver = `${outDir}/duckdb_silver.parquet`;
  const gold = `${outDir}/duckdb_gold.parquet`;
  const fused = `${outDir}/duckdb_gold_fused.parquet`;
  for (const p of [bronze, silver, gold, fused]) remove(p);
  const silverSelect = (from) => `SELECT DISTINCT TransactionNo,
        CAST(try_strptime(Date, '%m/%d/%Y') AS DATE) AS Date, ProductNo, ProductName,
        Price, Quantity, CustomerNo, Country, Price * Quantity AS line_total
      FROM ${from} WHERE Quantity > 0 AND Price > 0`;
  const goldSelect = (from) => `SELECT Country, sum(line_total) AS total_revenue,
        count(*) AS order_lines, count(DISTINCT TransactionNo) AS orders,
        count(DISTINCT CustomerNo) AS customers
      FROM ${from} GROUP BY Country`;
  out.bronze = await timed(`COPY (SELECT *, current_timestamp AS ingestion_time,
        '${q(input)}' AS source_file FROM ${csvSource(input)})
      TO '${q(bronze)}' (FORMAT PARQUET, COMPRESSION zstd)`);
  out.silver = await timed(`COPY (${silverSelect(`read_parquet('${q(bronze)}')`)})
      TO '${q(silver)}' (FORMAT PARQUET, COMPRESSION zstd)`);
  // Gold: the four tables of examples/orders (revenue by country, top products, daily
  // revenue, KPIs), each written to Parquet.
  const silverScan = `read_parquet('${q(silver)}')`;
  const goldTables = [
    [gold, goldSelect(silverScan)],
    [`${outDir}/duckdb_gold_top_products.parquet`, `SELECT ProductNo, max(ProductName) AS ProductName,
        sum(Quantity) AS units, round(sum(line_total), 2) AS revenue FROM ${silverScan}
        GROUP BY ProductNo ORDER BY revenue DESC, ProductNo LIMIT 50`],
    [`${outDir}/duckdb_gold_daily.parquet`, `SELECT Date AS OrderDate, round(sum(line_total), 2) AS revenue,
        count(DISTINCT TransactionNo) AS orders, count(*) AS order_lines FROM ${silverScan}
        WHERE Date IS NOT NULL GROUP BY Date ORDER BY Date`],
    [`${outDir}/duckdb_gold_kpis.parquet`, `SELECT round(sum(line_total), 2) AS total_revenue,
        count(DISTINCT TransactionNo) AS orders, count(DISTINCT CustomerNo) AS customers,
        round(sum(line_total) / count(DISTINCT TransactionNo), 2) AS average_order_value
        FROM ${silverScan}`],
  ];
  out.gold = 0;
  for (const [path, sql] of goldTables) {
    remove(path);
    out.gold += await timed(`COPY (${sql}) TO '${q(path)}' (FORMAT PARQUET, COMPRESSION zstd)`);
  }
  out.three_steps = out.bronze + out.silver + out.gold;
  out.fused = await timed(`COPY (${goldSelect(`(${silverSelect(csvSource(input))})`)})
      TO '${q(fused)}' (FORMAT PARQUET, COMPRESSION zstd)`);
  out.silver_rows = Number((await rows(`SELECT count(*)::BIGINT AS n FROM read_parquet('${q(silver)}')`))[0].n);
  out.gold_check = (await rows(`SELECT count(*)::BIGINT AS countries,
      round(sum(total_revenue), 2) AS revenue FROM read_parquet('${q(gold)}')`))[0];
  for (const p of [bronze, silver, fused, ...goldTables.slice(1).map(([p]) => p)]) remove(p);
} else {
  console.error('usage: duckdb_bench.mjs table CSV OUTDIR | read PARQUET | pipeline CSV OUTDIR');
  process.exit(2);
}
process.stdout.write(JSON.stringify(out) + '\n');
