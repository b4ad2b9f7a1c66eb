// AUTO CDC throughput (issue 10, "Benchmark"): a --keys-key dimension (default 1,000,000)
// is loaded, then --events change events (default 1,000,000: 10% deletes, 30% updates of
// existing keys, 60% inserts of new keys) arrive in micro-batches of --batch (10,000).
// lakepipe applies them with an AUTO CDC flow (--scd 1, the default, or --scd 2), one Delta
// commit per micro-batch; DuckDB (npm, 2 threads) applies the same batches to its own
// table in the same run: with SCD type 1 one MERGE INTO per batch; with type 2 the
// MERGE-equivalent of a history (one transaction per batch: close the current versions of
// the batch's keys, insert the batch's upserts as versions each ending at the key's next
// change in the batch). Reports events/s of both, the ratio, and
// lakepipe's rewritten bytes per batch (the commits' numAddedBytes: copy-on-write rewrites
// every file holding an affected key). Both final tables are compared (count and a hash).
//
// Usage: node bench/cdc_bench.mjs --bin B [--scd 1|2] [--keys N] [--events N] [--batch N] [--json OUT]
//        [--verbose] (per-batch times) [--keep] (keep the work folder, e.g. to profile a batch)
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Duck, argValue, binary, fail, join, removeDir, runSync, sqlString, tempDir, parquetSource } from '../tests/crash/lib.mjs';

const bin = binary();
const KEYS = Number(argValue('--keys', '1000000'));
const EVENTS = Number(argValue('--events', '1000000'));
const BATCH = Number(argValue('--batch', '10000'));
const jsonOut = argValue('--json', null);
const SCD = Number(argValue('--scd', '1'));
const verbose = process.argv.includes('--verbose');  // per-batch times
const keep = process.argv.includes('--keep');        // keep the work folder (for profiling)
const loadStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
if (SCD !== 1 && SCD !== 2) fail('--scd takes 1 or 2');

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

// The initial dimension (sequence 0), then the change batches (sequences from 1): per
// event 10% deletes and 30% updates of keys picked uniformly among the keys ever written
// (live ones for deletes, when one is found in a few draws), 5% re-inserts of a deleted
// key (a new insert while none is deleted), 55% inserts of new keys.
{
  const r = rng(3);
  let text = '';
  for (let k = 0; k < KEYS; ++k) text += `{"id":${k},"name":"n${k}","city":"c${r() % 100}","op":"UPSERT","seq":0}\n`;
  writeFileSync(join(initial, '0000.json'), text);
  let nextKey = KEYS, seq = 1;
  const deleted = new Set();
  const deletedList = [];
  for (let b = 0; b * BATCH < EVENTS; ++b) {
    let lines = '';
    for (let i = 0; i < BATCH && b * BATCH + i < EVENTS; ++i) {
      const x = r() % 20;
      if (x < 2) {
        let id = r() % nextKey;
        for (let t = 0; t < 4 && deleted.has(id); ++t) id = r() % nextKey;
        if (!deleted.has(id)) deleted.add(id), deletedList.push(id);
        lines += `{"id":${id},"op":"DELETE","seq":${seq++}}\n`;
      } else if (x < 8 || (x === 8 && deletedList.length > 0)) {
        let id;
        if (x === 8) {
          const j = r() % deletedList.length;
          id = deletedList[j];
          deletedList[j] = deletedList[deletedList.length - 1];
          deletedList.pop();
        } else {
          id = r() % nextKey;
        }
        if (deleted.delete(id) && x !== 8) {
          const j = deletedList.indexOf(id);
          deletedList[j] = deletedList[deletedList.length - 1];
          deletedList.pop();
        }
        lines += `{"id":${id},"name":"u${seq}","city":"c${r() % 100}","op":"UPSERT","seq":${seq++}}\n`;
      } else {
        lines += `{"id":${nextKey++},"name":"i${seq}","city":"c${r() % 100}","op":"UPSERT","seq":${seq++}}\n`;
      }
    }
    writeFileSync(join(changes, `${String(b).padStart(5, '0')}.json`), lines);
  }
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
  `  SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data)${SCD === 2 ? ' STORED AS SCD TYPE 2' : ''};\n`);
// CPU seconds (user + system) as well as wall time: on a shared machine the load makes wall
// times of both sides noisy, CPU times much less so. /usr/bin/time measures lakepipe;
// DuckDB runs in this process (process.cpuUsage, every thread).
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const cpuFile = join(work, 'cpu.txt');
let lpCpu = 0;
const lp = (what) => {
  const t = process.hrtime.bigint();
  const r = timeBin ? runSync(timeBin, ['-f', '%U %S', '-o', cpuFile, bin, 'run', pdir, '--once'])
                    : runSync(bin, ['run', pdir, '--once']);
  if (r.status !== 0) fail(`${what}: lakepipe exited with ${r.status ?? r.signal}: ${(r.stdout + r.stderr).slice(-2000)}`);
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (timeBin) {
    const [u, sys] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    lpCpu += u + sys;
  }
  return seconds;
};
writeFileSync(join(landing, '00000-initial.json'), readFileSync(join(initial, '0000.json')));
lp('initial load');
lpCpu = 0;
// One `run --once` per micro-batch: the AUTO CDC flow reads the new bronze version as one
// batch (the time includes the bronze table and each process start, so it is a floor).
let lpSeconds = 0;
const lpBatch = [];
for (const f of readdirSync(changes).sort()) {
  writeFileSync(join(landing, `1-${f}`), readFileSync(join(changes, f)));
  const s = lp(`batch ${f}`);
  lpBatch.push(s);
  lpSeconds += s;
  if (verbose) console.log(`  lakepipe batch ${f}: ${(s * 1000).toFixed(0)} ms`);
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
const maxBytes = perBatch.reduce((a, b) => Math.max(a, b), 0);
// The size of the table's live files at the end (adds minus removes over the whole log).
const live = new Map();
for (const f of readdirSync(log).filter((n) => n.endsWith('.json')).sort()) {
  for (const line of readFileSync(join(log, f), 'utf8').split('\n')) {
    if (line.startsWith('{"add"')) { const x = JSON.parse(line).add; live.set(x.path, x.size); }
    else if (line.startsWith('{"remove"')) live.delete(JSON.parse(line).remove.path);
  }
}
const tableBytes = [...live.values()].reduce((a, b) => a + b, 0);

// DuckDB: the same batches as MERGE INTO (last event per key within the batch first), or
// for SCD type 2 the history's MERGE-equivalent.
const duck = await Duck.open();
const cols = `columns = {id: 'BIGINT', name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'}`;
if (SCD === 1) {
  await duck.rows(`CREATE TABLE dim AS SELECT id, name, city, seq FROM read_json(${sqlString(join(initial, '0000.json'))}, ${cols})`);
} else {
  await duck.rows(`CREATE TABLE dim AS SELECT id, name, city, seq AS __START_AT, NULL::BIGINT AS __END_AT ` +
    `FROM read_json(${sqlString(join(initial, '0000.json'))}, ${cols})`);
}
const duckBatch = [];
const duckCpu0 = process.cpuUsage();
for (const f of readdirSync(changes).sort()) {
  const t0 = process.hrtime.bigint();
  await duckBatch1(f);
  duckBatch.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
async function duckBatch1(f) {
  const src = `read_json(${sqlString(join(changes, f))}, ${cols})`;
  if (SCD === 1) {
    await duck.rows(`MERGE INTO dim USING (SELECT * FROM ${src} ` +
      `QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1) AS ev ON dim.id = ev.id ` +
      `WHEN MATCHED AND ev.op = 'DELETE' THEN DELETE ` +
      `WHEN MATCHED THEN UPDATE SET name = ev.name, city = ev.city, seq = ev.seq ` +
      `WHEN NOT MATCHED AND ev.op <> 'DELETE' THEN INSERT (id, name, city, seq) VALUES (ev.id, ev.name, ev.city, ev.seq)`);
    return;
  }
  // The bench's changes arrive in sequence order and every upsert changes the name, so a
  // batch closes each key's current version at its first change and appends its upserts.
  await duck.rows(`BEGIN TRANSACTION; ` +
    `CREATE OR REPLACE TEMP TABLE ev AS SELECT *, lead(seq) OVER (PARTITION BY id ORDER BY seq) AS next_seq FROM ${src}; ` +
    `MERGE INTO dim USING (SELECT id, min(seq) AS first_seq FROM ev GROUP BY id) AS k ` +
    `ON dim.id = k.id AND dim.__END_AT IS NULL WHEN MATCHED THEN UPDATE SET __END_AT = k.first_seq; ` +
    `INSERT INTO dim SELECT id, name, city, seq, next_seq FROM ev WHERE op <> 'DELETE'; COMMIT`);
}
const duckSeconds = duckBatch.reduce((a, b) => a + b, 0);
const duckCpuUsage = process.cpuUsage(duckCpu0);
const duckCpu = (duckCpuUsage.user + duckCpuUsage.system) / 1e6;
const hashed = SCD === 1 ? 'id, name, city' : 'id, name, city, __START_AT, __END_AT';
const theirs = (await duck.rows(`SELECT count(*)::BIGINT AS n, sum(hash(${hashed}))::VARCHAR AS h FROM dim`))[0];
const ours = (await duck.rows(`SELECT count(*)::BIGINT AS n, sum(hash(${hashed}))::VARCHAR AS h FROM ${parquetSource(join(storage, 'dim'))}`))[0];
duck.close();
const same = String(ours.n) === String(theirs.n) && ours.h === theirs.h;

const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const pct = (xs, p) => { const v = [...xs].sort((a, b) => a - b); return v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? 0; };
const result = {
  scd_type: SCD, keys: KEYS, events: EVENTS, batch: BATCH, batches,
  lakepipe_seconds: lpSeconds, note: 'lakepipe: one run --once per batch, process start and bronze table included', lakepipe_events_per_second: EVENTS / lpSeconds,
  lakepipe_batch_ms_median: pct(lpBatch, 0.5) * 1000, lakepipe_batch_ms_max: pct(lpBatch, 1) * 1000,
  duckdb_seconds: duckSeconds, duckdb_events_per_second: EVENTS / duckSeconds,
  duckdb_batch_ms_median: pct(duckBatch, 0.5) * 1000,
  ratio_lakepipe_over_duckdb: (EVENTS / lpSeconds) / (EVENTS / duckSeconds),
  lakepipe_cpu_seconds: timeBin ? lpCpu : null, duckdb_cpu_seconds: duckCpu,
  cpu_ratio_lakepipe_over_duckdb: timeBin ? duckCpu / lpCpu : null,
  rewritten_bytes_per_batch: Math.round(meanBytes), rewritten_bytes_per_batch_max: maxBytes, table_bytes: tableBytes,
  final_rows: Number(ours.n), same_final_table: same, load_start: loadStart, load,
};
const mb = (x) => (x / 1048576).toFixed(2) + ' MiB';
console.log(`cdc_bench (SCD type ${SCD}): ${EVENTS} events on ${KEYS} keys in batches of ${BATCH} (${batches} batches), load ${loadStart} at the start, ${load} at the end`);
console.log(`  lakepipe AUTO CDC (SCD ${SCD}, incl. process start and the bronze table): ${lpSeconds.toFixed(1)} s, ` +
  `${Math.round(result.lakepipe_events_per_second)} events/s (batch median ${result.lakepipe_batch_ms_median.toFixed(0)} ms, max ${result.lakepipe_batch_ms_max.toFixed(0)} ms)`);
console.log(`  rewritten bytes per batch: mean ${mb(meanBytes)}, max ${mb(maxBytes)} (table at the end: ${mb(tableBytes)}, ${ours.n} rows)`);
console.log(`  DuckDB ${SCD === 1 ? 'MERGE INTO' : 'MERGE + INSERT (SCD 2)'} per batch: ${duckSeconds.toFixed(1)} s, ${Math.round(result.duckdb_events_per_second)} events/s (batch median ${result.duckdb_batch_ms_median.toFixed(0)} ms)`);
console.log(`  ratio (lakepipe / DuckDB events/s): ${result.ratio_lakepipe_over_duckdb.toFixed(2)}; ` +
  `final tables ${same ? 'equal' : 'DIFFER'} (${ours.n} rows)`);
if (timeBin) {
  console.log(`  CPU seconds (user + system): lakepipe ${lpCpu.toFixed(1)} s, DuckDB ${duckCpu.toFixed(1)} s; ` +
    `events per CPU second ratio (lakepipe / DuckDB): ${(duckCpu / lpCpu).toFixed(2)}`);
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
if (keep) console.log(`  kept ${work}`);
else removeDir(work);
if (!same) process.exit(1);
