// AUTO CDC throughput (issue 10, "Benchmark"): a --keys-key dimension (default 1,000,000)
// is loaded, then --events change events (default 1,000,000: 10% deletes, 30% updates of
// existing keys, 60% inserts of new keys) arrive in micro-batches of --batch (10,000).
// lakepipe applies them with an AUTO CDC flow (SCD type 1: SCD type 2 is not built yet),
// one Delta commit per micro-batch; DuckDB (npm, 2 threads) applies the same batches with
// MERGE INTO on its own table, in the same run. Reports events/s of both, the ratio, and
// lakepipe's rewritten bytes per batch (the commits' numAddedBytes: copy-on-write rewrites
// every file holding an affected key). Both final tables are compared (count and a hash).
//
// Usage: node bench/cdc_bench.mjs --bin B [--keys N] [--events N] [--batch N] [--json OUT]
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Duck, argValue, binary, fail, join, removeDir, runSync, sqlString, tempDir, parquetSource } from '../tests/crash/lib.mjs';

const bin = binary();
const KEYS = Number(argValue('--keys', '1000000'));
const EVENTS = Number(argValue('--events', '1000000'));
const BATCH = Number(argValue('--batch', '10000'));
const jsonOut = argValue('--json', null);

function rng(seed) {
  let s = BigInt(seed);
  return () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    return Number(s >> 33n);
  };
}

const work = tempDir('lakepipe-cdc-bench-');
const initial = join(work, 'initial');
const changes = join(work, 'changes');
mkdirSync(initial, { recursive: true });
mkdirSync(changes, { recursive: true });

// The initial dimension (sequence 0), then the change batches (sequences from 1).
{
  const r = rng(3);
  let text = '';
  for (let k = 0; k < KEYS; ++k) text += `{"id":${k},"name":"n${k}","city":"c${r() % 100}","op":"UPSERT","seq":0}\n`;
  writeFileSync(join(initial, '0000.json'), text);
  let nextKey = KEYS, seq = 1;
  const live = KEYS;
  for (let b = 0; b * BATCH < EVENTS; ++b) {
    let lines = '';
    for (let i = 0; i < BATCH && b * BATCH + i < EVENTS; ++i) {
      const x = r() % 10;
      if (x === 0) lines += `{"id":${r() % nextKey},"op":"DELETE","seq":${seq++}}\n`;
      else if (x <= 3) lines += `{"id":${r() % nextKey},"name":"u${seq}","city":"c${r() % 100}","op":"UPSERT","seq":${seq++}}\n`;
      else lines += `{"id":${nextKey++},"name":"i${seq}","city":"c${r() % 100}","op":"UPSERT","seq":${seq++}}\n`;
    }
    writeFileSync(join(changes, `${String(b).padStart(5, '0')}.json`), lines);
  }
  void live;
}
const batches = readdirSync(changes).length;

// lakepipe: the initial load as its own run (not timed), then every batch.
const pdir = join(work, 'p');
mkdirSync(pdir);
const storage = join(work, 'storage');
const landing = join(work, 'landing');
mkdirSync(landing);
writeFileSync(join(pdir, 'pipeline.yaml'), `name: cdc_bench\nstorage: ${storage}\nlibraries: [p.sql]\n`);
writeFileSync(join(pdir, 'p.sql'),
  `CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('${landing}', format => 'json',\n` +
  `  schema => 'id BIGINT, name STRING, city STRING, op STRING, seq BIGINT', maxFilesPerTrigger => 1);\n` +
  `CREATE OR REFRESH STREAMING TABLE dim;\n` +
  `CREATE FLOW dim_cdc AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id) APPLY AS DELETE WHEN op = 'DELETE'\n` +
  `  SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n`);
const lp = (what) => {
  const t = process.hrtime.bigint();
  const r = runSync(bin, ['run', pdir, '--once']);
  if (r.status !== 0) fail(`${what}: lakepipe exited with ${r.status ?? r.signal}: ${(r.stdout + r.stderr).slice(-2000)}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
};
writeFileSync(join(landing, '00000-initial.json'), readFileSync(join(initial, '0000.json')));
lp('initial load');
// One `run --once` per micro-batch: the AUTO CDC flow reads the new bronze version as one
// batch (the time includes the bronze table and each process start, so it is a floor).
let lpSeconds = 0;
for (const f of readdirSync(changes).sort()) {
  writeFileSync(join(landing, `1-${f}`), readFileSync(join(changes, f)));
  lpSeconds += lp(`batch ${f}`);
}
// Rewritten bytes per batch, from the dim table's commits after the initial load.
const log = join(storage, 'dim', '_delta_log');
const added = [];
for (const f of readdirSync(log).filter((n) => n.endsWith('.json')).sort()) {
  for (const line of readFileSync(join(log, f), 'utf8').split('\n')) {
    if (!line.startsWith('{"commitInfo"')) continue;
    const ci = JSON.parse(line).commitInfo;
    if (ci.operation === 'STREAMING UPDATE' && ci.operationMetrics?.numAddedBytes !== undefined)
      added.push(Number(ci.operationMetrics.numAddedBytes));
  }
}
const perBatch = added;  // row-level commits (the initial load is a plain write)
const meanBytes = perBatch.reduce((a, b) => a + b, 0) / Math.max(1, perBatch.length);

// DuckDB: the same batches as MERGE INTO (last event per key within the batch first).
const duck = await Duck.open();
await duck.rows(`CREATE TABLE dim AS SELECT id, name, city, seq FROM read_json(${sqlString(join(initial, '0000.json'))}, ` +
  `columns = {id: 'BIGINT', name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'})`);
const t0 = process.hrtime.bigint();
for (const f of readdirSync(changes).sort()) {
  await duck.rows(`MERGE INTO dim USING (SELECT * FROM read_json(${sqlString(join(changes, f))}, ` +
    `columns = {id: 'BIGINT', name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'}) ` +
    `QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1) AS ev ON dim.id = ev.id ` +
    `WHEN MATCHED AND ev.op = 'DELETE' THEN DELETE ` +
    `WHEN MATCHED THEN UPDATE SET name = ev.name, city = ev.city, seq = ev.seq ` +
    `WHEN NOT MATCHED AND ev.op <> 'DELETE' THEN INSERT (id, name, city, seq) VALUES (ev.id, ev.name, ev.city, ev.seq)`);
}
const duckSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const theirs = (await duck.rows(`SELECT count(*)::BIGINT AS n, sum(hash(id, name, city))::VARCHAR AS h FROM dim`))[0];
const ours = (await duck.rows(`SELECT count(*)::BIGINT AS n, sum(hash(id, name, city))::VARCHAR AS h FROM ${parquetSource(join(storage, 'dim'))}`))[0];
duck.close();
const same = String(ours.n) === String(theirs.n) && ours.h === theirs.h;

const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const result = {
  keys: KEYS, events: EVENTS, batch: BATCH, batches,
  lakepipe_seconds: lpSeconds, note: 'lakepipe: one run --once per batch, process start and bronze table included', lakepipe_events_per_second: EVENTS / lpSeconds,
  duckdb_seconds: duckSeconds, duckdb_events_per_second: EVENTS / duckSeconds,
  ratio_lakepipe_over_duckdb: (EVENTS / lpSeconds) / (EVENTS / duckSeconds),
  rewritten_bytes_per_batch: Math.round(meanBytes), final_rows: Number(ours.n), same_final_table: same, load,
};
console.log(`cdc_bench: ${EVENTS} events on ${KEYS} keys in batches of ${BATCH} (${batches} batches), load ${load}`);
console.log(`  lakepipe AUTO CDC (SCD 1, incl. the bronze table): ${lpSeconds.toFixed(1)} s, ` +
  `${Math.round(result.lakepipe_events_per_second)} events/s; rewritten bytes per batch ${Math.round(meanBytes)}`);
console.log(`  DuckDB MERGE INTO per batch: ${duckSeconds.toFixed(1)} s, ${Math.round(result.duckdb_events_per_second)} events/s`);
console.log(`  ratio (lakepipe / DuckDB events/s): ${result.ratio_lakepipe_over_duckdb.toFixed(2)}; ` +
  `final tables ${same ? 'equal' : 'DIFFER'} (${ours.n} rows)`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
removeDir(work);
if (!same) process.exit(1);
