// Shared helpers of the crash tests (tests/crash/*.mjs) and the latency benchmark: running
// the lakepipe binary, reading Delta tables independently of lakepipe (the JSON commits of
// `_delta_log/` replayed here, the Parquet files read by DuckDB), and the checks every
// crash test ends with. docs/crash-testing.md describes the tests.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export const SOURCE_DIR = resolve(new URL('../..', import.meta.url).pathname);
export const EXAMPLE = join(SOURCE_DIR, 'examples/orders');

// The binary: --bin PATH, else $LAKEPIPE_BINARY, else $LAKEPIPE_BINARY_DIR/lakepipe, else build/lakepipe.
export function binary(argv = process.argv) {
  const i = argv.indexOf('--bin');
  if (i >= 0 && argv[i + 1]) return resolve(argv[i + 1]);
  if (process.env.LAKEPIPE_BINARY) return resolve(process.env.LAKEPIPE_BINARY);
  if (process.env.LAKEPIPE_BINARY_DIR) return resolve(process.env.LAKEPIPE_BINARY_DIR, 'lakepipe');
  return join(SOURCE_DIR, 'build/lakepipe');
}

export function argValue(name, fallback, argv = process.argv) {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}

export function tempDir(prefix) {
  return mkdtempSync(join(process.env.TMPDIR || tmpdir(), prefix));
}

export function fail(message) {
  const err = new Error(message);
  err.crashTestFailure = true;
  throw err;
}

// Runs lakepipe to completion; returns {status, signal, stdout, stderr}.
export function runSync(bin, args, env = {}) {
  const r = spawnSync(bin, args, {
    env: { ...cleanEnv(), ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error) fail(`cannot run ${bin}: ${r.error.message}`);
  return r;
}

// Runs lakepipe and fails the test unless it exits 0.
export function runOk(bin, args, env = {}) {
  const r = runSync(bin, args, env);
  if (r.status !== 0) {
    fail(`lakepipe ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`);
  }
  return r.stdout;
}

// Starts lakepipe in the background; the child's output goes to `logFile` when given.
export function start(bin, args, env = {}) {
  const child = spawn(bin, args, { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  const keep = (d) => {
    child.output += d.toString();
    if (child.output.length > 200000) child.output = child.output.slice(-100000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  return child;
}

// The environment without kill-point variables a caller may have set.
function cleanEnv() {
  const env = { ...process.env };
  delete env.LAKEPIPE_KILL_AT;
  delete env.LAKEPIPE_KILL_TRACE;
  return env;
}

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// `--set` arguments that point the orders example at `landing` and `storage`.
export function orderSets(landing, storage) {
  return ['--set', `landing=${landing}`, '--set', `storage=${storage}`];
}

// ---------------------------------------------------------------------------------------
// Delta tables, read without lakepipe.

// The commits of a table: [{version, actions: [...]}], ascending. Fails when a version is
// missing (versions must be 0, 1, 2, ... with no gap) or a commit file is not JSON lines.
export function readDeltaLog(tablePath) {
  const logDir = join(tablePath, '_delta_log');
  const names = readdirSync(logDir).filter((n) => /^\d{20}\.json$/.test(n)).sort();
  const commits = [];
  names.forEach((name, i) => {
    const version = Number(name.slice(0, 20));
    if (version !== i) fail(`${logDir}: versions are not contiguous: expected ${i}, found ${name}`);
    const text = readFileSync(join(logDir, name), 'utf8');
    const actions = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        actions.push(JSON.parse(line));
      } catch (e) {
        fail(`${join(logDir, name)}: not a JSON line: ${line.slice(0, 200)}`);
      }
    }
    commits.push({ version, actions });
  });
  return commits;
}

// The live data files after replaying every commit: [{path (absolute), numRecords|null}].
export function liveFiles(tablePath, commits = readDeltaLog(tablePath)) {
  const live = new Map();
  for (const c of commits) {
    for (const a of c.actions) {
      if (a.add) {
        let records = null;
        if (a.add.stats) {
          try {
            const s = JSON.parse(a.add.stats);
            if (typeof s.numRecords === 'number') records = s.numRecords;
          } catch {
            fail(`${tablePath}: version ${c.version}: add ${a.add.path} has stats that are not JSON`);
          }
        }
        live.set(a.add.path, { path: join(tablePath, decodeURIComponent(a.add.path)), numRecords: records });
      } else if (a.remove) {
        live.delete(a.remove.path);
      }
    }
  }
  return [...live.values()];
}

// Every folder under `storage` that is a Delta table (has `_delta_log/`), by name.
export function deltaTables(storage) {
  const out = {};
  for (const name of readdirSync(storage)) {
    if (existsSync(join(storage, name, '_delta_log'))) out[name] = join(storage, name);
  }
  return out;
}

export class Duck {
  static async open() {
    const d = new Duck();
    d.instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    d.conn = await d.instance.connect();
    return d;
  }

  async rows(sql) {
    const reader = await this.conn.runAndReadAll(sql);
    return reader.getRowObjectsJson();
  }

  close() {
    this.conn.closeSync?.();
    this.instance.closeSync?.();
  }
}

export const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;

// A FROM clause over a table's live files; `null` when the table has none.
export function parquetSource(tablePath) {
  const files = liveFiles(tablePath);
  if (files.length === 0) return null;
  return `read_parquet([${files.map((f) => sqlString(f.path)).join(', ')}], union_by_name = true)`;
}

// Checks every table under `storage`: versions contiguous, every live `add` readable by
// DuckDB with the row count its stats claim. Returns {table: rows}.
export async function checkTables(duck, storage) {
  const counts = {};
  for (const [name, path] of Object.entries(deltaTables(storage))) {
    const commits = readDeltaLog(path);
    let rows = 0;
    for (const f of liveFiles(path, commits)) {
      if (!existsSync(f.path)) fail(`${name}: live file ${f.path} is missing`);
      let n;
      try {
        n = Number((await duck.rows(`SELECT count(*) AS n FROM read_parquet(${sqlString(f.path)})`))[0].n);
      } catch (e) {
        fail(`${name}: DuckDB cannot read ${f.path}: ${e.message}`);
      }
      if (f.numRecords !== null && n !== f.numRecords) {
        fail(`${name}: ${f.path} has ${n} rows, its add stats say ${f.numRecords}`);
      }
      rows += n;
    }
    counts[name] = rows;
  }
  return counts;
}

// A table's rows as a sorted list of canonical strings (doubles to 12 significant digits,
// so that the order of a floating-point sum does not matter), leaving out `exclude`.
// `landing` (the folder the run read) is replaced by "<landing>" in every string, so that
// runs over copies of the same files in different folders compare equal.
export async function canonicalRows(duck, tablePath, exclude = [], landing = null) {
  const source = parquetSource(tablePath);
  if (source === null) return [];
  const rows = await duck.rows(`SELECT * FROM ${source}`);
  const out = rows.map((r) => {
    const o = {};
    for (const k of Object.keys(r).sort()) {
      if (exclude.includes(k)) continue;
      o[k] = canonicalValue(r[k], landing);
    }
    return JSON.stringify(o);
  });
  return out.sort();
}

function canonicalValue(v, landing) {
  if (typeof v === 'number' && !Number.isInteger(v)) return Number(v.toPrecision(12));
  if (typeof v === 'string' && landing) return v.replaceAll(landing, '<landing>');
  if (Array.isArray(v)) return v.map((x) => canonicalValue(x, landing));
  return v;
}

// Compares two sorted row lists; returns null when equal, else a short description.
export function diffRows(ours, reference) {
  if (ours.length === reference.length && ours.every((r, i) => r === reference[i])) return null;
  const count = new Map();
  for (const r of reference) count.set(r, (count.get(r) || 0) + 1);
  const extra = [];
  for (const r of ours) {
    const n = count.get(r) || 0;
    if (n === 0) extra.push(r);
    else count.set(r, n - 1);
  }
  const missing = [];
  for (const [r, n] of count) for (let i = 0; i < n; ++i) missing.push(r);
  return `${ours.length} rows vs ${reference.length} expected; ${extra.length} unexpected ` +
    `(first: ${extra[0] ?? '-'}), ${missing.length} missing (first: ${missing[0] ?? '-'})`;
}

// The rows of every table under `storage` (canonicalRows, name -> rows), leaving out the
// tables whose name starts with '_' (the event log and audit log differ run to run by design).
export async function referenceRows(duck, storage, exclude, landing) {
  const reference = {};
  for (const [name, path] of Object.entries(deltaTables(storage))) {
    if (!name.startsWith('_')) reference[name] = await canonicalRows(duck, path, exclude, landing);
  }
  return reference;
}

// Every table of `reference` (name -> canonicalRows of a reference run) is readable under
// `storage` and equals it row for row (leaving out the `exclude` columns); fails otherwise.
export async function expectTablesEqualReference(duck, storage, reference, exclude, landing) {
  await checkTables(duck, storage);
  const tables = deltaTables(storage);
  for (const [name, rowsRef] of Object.entries(reference)) {
    if (!tables[name]) fail(`table ${name} is missing`);
    const diff = diffRows(await canonicalRows(duck, tables[name], exclude, landing), rowsRef);
    if (diff) fail(`${name}: ${diff}`);
  }
}

// ---------------------------------------------------------------------------------------
// The orders rules restated in DuckDB over the raw landing files (as
// src/runtime/pipeline_runner_test.cc does): every line read as text, exact re-deliveries
// (the same eight source values) dropped, lines with a non-positive or unreadable quantity
// or price left out, line_total = round(Price * Quantity, 2).
export function duckSilverCte(landingGlob) {
  return `WITH raw AS (SELECT * FROM read_csv(${sqlString(landingGlob)}, header = true, all_varchar = true, ` +
    `null_padding = true, filename = true)), ` +
    `dedup AS (SELECT DISTINCT TransactionNo, Date, ProductNo, ProductName, Price, Quantity, CustomerNo, Country FROM raw), ` +
    `silver AS (SELECT TransactionNo, ProductNo, CustomerNo, Country, TRY_CAST(Price AS DOUBLE) AS Price, ` +
    `TRY_CAST(Quantity AS INTEGER) AS Quantity, ` +
    `round(TRY_CAST(Price AS DOUBLE) * TRY_CAST(Quantity AS INTEGER), 2) AS line_total FROM dedup ` +
    `WHERE TRY_CAST(Quantity AS INTEGER) > 0 AND TRY_CAST(Price AS DOUBLE) > 0) `;
}

const close = (a, b, tol) => Math.abs(Number(a) - Number(b)) <= tol;

// The end state of a run over the landing files `landingGlob`: Bronze holds every input
// line exactly once (by source file and content), Silver and Gold equal DuckDB's
// recomputation. Fails with a description of the first difference.
export async function checkOrdersAgainstInput(duck, storage, landingGlob) {
  const bronze = parquetSource(join(storage, 'bronze_orders'));
  if (bronze === null) fail('bronze_orders has no rows');
  const text = 'TransactionNo, Date, ProductNo, ProductName, CustomerNo, Country';
  const input = `SELECT regexp_extract(filename, '[^/]+$') AS file, ${text} FROM read_csv(${sqlString(landingGlob)}, ` +
    `header = true, all_varchar = true, null_padding = true, filename = true)`;
  const ours = `SELECT regexp_extract(source_file, '[^/]+$') AS file, ${text} FROM ${bronze}`;
  const [b] = await duck.rows(
    `SELECT (SELECT count(*) FROM (${ours})) AS bronze_rows, (SELECT count(*) FROM (${input})) AS input_rows, ` +
    `(SELECT count(*) FROM ((${ours}) EXCEPT ALL (${input}))) AS extra, ` +
    `(SELECT count(*) FROM ((${input}) EXCEPT ALL (${ours}))) AS missing`);
  if (Number(b.extra) !== 0 || Number(b.missing) !== 0 || Number(b.bronze_rows) !== Number(b.input_rows)) {
    const extra = await duck.rows(`SELECT * FROM ((${ours}) EXCEPT ALL (${input})) LIMIT 2`);
    const missing = await duck.rows(`SELECT * FROM ((${input}) EXCEPT ALL (${ours})) LIMIT 2`);
    fail(`bronze_orders is not every input line exactly once: ${b.bronze_rows} rows for ${b.input_rows} input lines; ` +
      `${b.extra} rows more often than in the input (such as ${JSON.stringify(extra)}), ` +
      `${b.missing} input lines missing (such as ${JSON.stringify(missing)})`);
  }

  const silverCte = duckSilverCte(landingGlob);
  const silver = parquetSource(join(storage, 'silver_orders'));
  if (silver === null) fail('silver_orders has no rows');
  const cols = 'TransactionNo, ProductNo, CustomerNo, Country, Quantity, round(line_total, 2) AS line_total';
  const [s] = await duck.rows(`${silverCte}, ours AS (SELECT ${cols} FROM ${silver}), theirs AS (SELECT ${cols} FROM silver) ` +
    `SELECT (SELECT count(*) FROM ours) AS ours, (SELECT count(*) FROM theirs) AS theirs, ` +
    `(SELECT count(*) FROM (FROM ours EXCEPT ALL FROM theirs)) AS extra, ` +
    `(SELECT count(*) FROM (FROM theirs EXCEPT ALL FROM ours)) AS missing`);
  if (Number(s.extra) !== 0 || Number(s.missing) !== 0) {
    fail(`silver_orders differs from DuckDB's recomputation: ${s.ours} rows vs ${s.theirs}, ${s.extra} extra, ${s.missing} missing`);
  }

  // The quarantine: the distinct lines whose quantity or price is missing or not positive.
  const quarantine = parquetSource(join(storage, 'silver_orders_quarantine'));
  const [q] = await duck.rows(`${silverCte} SELECT (SELECT count(*) FROM dedup WHERE NOT coalesce(TRY_CAST(Quantity AS INTEGER) > 0 ` +
    `AND TRY_CAST(Price AS DOUBLE) > 0, false)) AS theirs` + (quarantine ? `, (SELECT count(*) FROM ${quarantine}) AS ours` : ''));
  if (Number(q.ours ?? 0) !== Number(q.theirs)) {
    fail(`silver_orders_quarantine has ${q.ours ?? 0} rows, DuckDB finds ${q.theirs} distinct lines with a bad quantity or price`);
  }

  const gold = parquetSource(join(storage, 'gold_revenue_by_country'));
  if (gold === null) fail('gold_revenue_by_country has no rows');
  const ourGold = await duck.rows(`SELECT * FROM ${gold}`);
  const theirGold = await duck.rows(`${silverCte} SELECT Country, round(sum(line_total), 2) AS total_revenue, ` +
    `count(*) AS order_lines, count(DISTINCT TransactionNo) AS orders, count(DISTINCT CustomerNo) AS customers ` +
    `FROM silver GROUP BY Country`);
  if (ourGold.length !== theirGold.length) {
    fail(`gold_revenue_by_country has ${ourGold.length} countries, DuckDB ${theirGold.length}`);
  }
  const byCountry = new Map(ourGold.map((r) => [r.Country, r]));
  for (const t of theirGold) {
    const o = byCountry.get(t.Country);
    if (!o) fail(`gold_revenue_by_country lacks ${t.Country}`);
    for (const k of ['order_lines', 'orders', 'customers']) {
      if (Number(o[k]) !== Number(t[k])) fail(`gold_revenue_by_country ${t.Country}.${k}: ${o[k]} vs DuckDB ${t[k]}`);
    }
    if (!close(o.total_revenue, t.total_revenue, 0.015)) {
      fail(`gold_revenue_by_country ${t.Country}.total_revenue: ${o.total_revenue} vs DuckDB ${t.total_revenue}`);
    }
  }
  const kpis = parquetSource(join(storage, 'gold_kpis'));
  const [ok] = await duck.rows(`SELECT * FROM ${kpis}`);
  const [tk] = await duck.rows(`${silverCte} SELECT round(sum(line_total), 2) AS total_revenue, ` +
    `count(DISTINCT TransactionNo) AS orders, count(DISTINCT CustomerNo) AS customers FROM silver`);
  for (const k of ['orders', 'customers']) {
    if (Number(ok[k]) !== Number(tk[k])) fail(`gold_kpis.${k}: ${ok[k]} vs DuckDB ${tk[k]}`);
  }
  if (!close(ok.total_revenue, tk.total_revenue, 0.05)) fail(`gold_kpis.total_revenue: ${ok.total_revenue} vs DuckDB ${tk.total_revenue}`);
  return { bronze: Number(b.bronze_rows), silver: Number(s.ours), quarantined: Number(q.theirs), countries: ourGold.length };
}

// Kill cases from a LAKEPIPE_KILL_TRACE file: the first occurrence of every kill point,
// plus about a dozen later occurrences spread over the run. Fails unless every point
// of `required` was passed (a run that never reached them would test nothing).
export function killCasesFromTrace(traceFile, required = []) {
  const names = readFileSync(traceFile, 'utf8').split('\n').filter(Boolean);
  for (const p of required) {
    if (!names.includes(p)) fail(`the traced run never passed ${p}`);
  }
  const seen = new Map();
  const firsts = [], laters = [];
  for (const name of names) {
    const n = (seen.get(name) || 0) + 1;
    seen.set(name, n);
    (n === 1 ? firsts : laters).push({ point: name, n, label: `${name}:${n}` });
  }
  const step = Math.max(1, Math.floor(laters.length / 12));
  return { cases: [...firsts, ...laters.filter((_, i) => i % step === 0)], points: seen.size };
}

// Runs `killCase(k, i)` for each case in order. Later occurrences are left out once the
// run has taken `budgetSeconds` since `started` (first occurrences always run).
export async function runKillCases(cases, started, budgetSeconds, killCase) {
  let done = 0, skipped = 0;
  for (const k of cases) {
    if (k.n > 1 && (Date.now() - started) / 1000 > budgetSeconds) {
      ++skipped;
      continue;
    }
    await killCase(k, done);
    ++done;
  }
  const note = skipped ? ` (${skipped} later occurrences left out by the ${budgetSeconds} s budget)` : '';
  return { done, skipped, note };
}

// Runs `main`, printing a failure and exiting 1 on error; exit code 77 means skipped.
export function runTest(name, main) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(`${name}: FAILED: ${e.crashTestFailure ? e.message : e.stack}`);
      process.exit(1);
    });
}

// --power-loss (docs/crash-testing.md, "Power loss"): a killed run is journaled
// (LAKEPIPE_CRASH_JOURNAL) and, once dead, `lakepipe crash power-loss` drops what it had not
// fsynced, as a power cut at that moment would.
export const powerLoss = process.argv.includes('--power-loss');

export function journalEnv(journal) {
  return powerLoss ? { LAKEPIPE_CRASH_JOURNAL: journal } : {};
}

export function cutPower(bin, journal, label) {
  if (!powerLoss) return;
  const r = runSync(bin, ['crash', 'power-loss', journal]);
  if (r.status !== 0) fail(`${label}: lakepipe crash power-loss failed:\n${(r.stdout + r.stderr).slice(-2000)}`);
  rmSync(journal, { force: true });
}

// Runs `runWithEnv(env)` with LAKEPIPE_KILL_AT=label (journaled with --power-loss), which
// must die by SIGKILL, then cuts the power (with --power-loss). `journal` is a file path
// outside the storage folder.
export function killAt(bin, label, journal, runWithEnv) {
  const killed = runWithEnv({ LAKEPIPE_KILL_AT: label, ...journalEnv(journal) });
  if (killed.signal !== 'SIGKILL') {
    fail(`${label}: expected death by SIGKILL, got ${killed.status ?? killed.signal}:\n` +
      `${(killed.stdout ?? '') + (killed.stderr ?? '')}`.slice(-2000));
  }
  cutPower(bin, journal, label);
}

export function removeDir(dir) {
  if (!process.env.LAKEPIPE_KEEP_CRASH_DIRS) rmSync(dir, { recursive: true, force: true });
}

export { basename, join, existsSync, readdirSync, readFileSync, statSync };
