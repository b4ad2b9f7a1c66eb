// Time-window and keyed-dedup crash and split test: streaming tables grouping a watermarked
// file stream by tumbling and sliding windows, and one keeping the first row per key within
// the watermark (QUALIFY row_number() ... = 1), read their input one file per micro-batch.
// Each table must
// equal (1) the same pipeline run over the whole input in one batch, (2) DuckDB computing
// the expected result from the input with the per-row watermark rule of
// docs/sql-reference.md ("Streaming semantics"), late rows included, and (3) after a
// SIGKILL at each kill point the run passes (LAKEPIPE_KILL_AT=point:n, first occurrences,
// then later ones while the --budget-seconds budget lasts) and a restart, the whole-input
// tables again — the window state (state/window-aggregate-<i>/), the late-rows rule and
// the commit protocol together make the result independent of batching and crashes.
//
// Usage: node tests/crash/window_kill.mjs [--bin build/lakepipe] [--budget-seconds S]
import {
  argValue, binary, canonicalRows, checkTables, diffRows, Duck, fail, join, killAt, killCasesFromTrace, removeDir, runKillCases, runSync, runTest, sqlString, tempDir,
} from './lib.mjs';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';

const bin = binary();
const budgetSeconds = Number(argValue('--budget-seconds', process.env.LAKEPIPE_KILL_BUDGET || '40'));
const FILES = 8;
const ROWS = 15;  // per file
const MINUTE = 60_000_000;  // microseconds
const COLUMNS = 'seq INT, k STRING, ts TIMESTAMP, v INT, u INT';
const DEDUP_DELAY = 10;  // minutes
const SESSION = { gap: 4, delay: 12 };  // minutes

// The windowed tables: name -> [size, slide, delay] in minutes and the aggregates.
const TABLES = {
  tumbling: { size: 10, slide: 10, delay: 10, aggs: 'sum(v) AS total, count(*) AS n' },
  sliding: { size: 10, slide: 5, delay: 15, aggs: 'min(v) AS lo, max(v) AS hi, avg(v) AS mean, count(*) AS n' },
  offset: { size: 20, slide: 20, start: 5, delay: 1, aggs: 'count(v) AS n, sum(v) AS total' },
};

function rng(seed) {
  let s = BigInt(seed);
  return () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    return Number(s >> 33n);
  };
}

function timestamp(seconds) {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

// Events on a clock that moves forward, up to 25 minutes out of order, a few far behind
// (late for every delay) and a few without an event time.
function writeInput(dir) {
  const r = rng(7);
  let clock = 1767225600, seq = 0;
  mkdirSync(dir, { recursive: true });
  for (let f = 0; f < FILES; ++f) {
    let text = 'seq,k,ts,v,u\n';
    for (let i = 0; i < ROWS; ++i) {
      clock += (r() % 4) * 60 + (r() % 60);
      let ts = timestamp(clock - (r() % 26) * 60);
      if (r() % 23 === 0) ts = timestamp(clock - 90 * 60);
      if (r() % 31 === 0) ts = '';
      text += `${seq},k${r() % 3},${ts},${r() % 100},${r() % 12}\n`;
      ++seq;
    }
    writeFileSync(join(dir, `${String(f).padStart(4, '0')}.csv`), text);
  }
}

function windowCall(t) {
  const args = [`'${t.size} minutes'`];
  if (t.slide !== t.size || t.start) args.push(`'${t.slide} minutes'`);
  if (t.start) args.push(`'${t.start} minutes'`);
  return `window(ts, ${args.join(', ')})`;
}

function writePipeline(dir, landing, perBatch) {
  mkdirSync(dir, { recursive: true });
  const opts = perBatch ? ', maxFilesPerTrigger => 1' : '';
  let sql = '';
  for (const [name, t] of Object.entries(TABLES)) {
    sql += `CREATE OR REFRESH STREAMING TABLE ${name} AS\n` +
      `SELECT window.start AS ws, window.end AS we, k, ${t.aggs}\n` +
      `FROM STREAM read_files('${landing}', format => 'csv', header => true, ` +
      `schema => '${COLUMNS}'${opts}) WATERMARK ts DELAY OF INTERVAL ${t.delay} MINUTES\n` +
      `GROUP BY ${windowCall(t)}, k;\n`;
  }
  sql += `CREATE OR REFRESH STREAMING TABLE sessions AS\n` +
    `SELECT session_window.start AS ss, session_window.end AS se, k, count(*) AS n, sum(v) AS total\n` +
    `FROM STREAM read_files('${landing}', format => 'csv', header => true, ` +
    `schema => '${COLUMNS}'${opts}) WATERMARK ts DELAY OF INTERVAL ${SESSION.delay} MINUTES\n` +
    `GROUP BY session_window(ts, '${SESSION.gap} minutes'), k;\n`;
  sql += `CREATE OR REFRESH STREAMING TABLE dedup AS\n` +
    `SELECT seq, k, u, ts, v FROM STREAM read_files('${landing}', format => 'csv', header => true, ` +
    `schema => '${COLUMNS}'${opts}) WATERMARK ts DELAY OF INTERVAL ${DEDUP_DELAY} MINUTES\n` +
    `QUALIFY row_number() OVER (PARTITION BY k, u ORDER BY ts) = 1;\n`;
  writeFileSync(join(dir, 'pipeline.yaml'), 'name: windows\nlibraries: [p.sql]\n');
  writeFileSync(join(dir, 'p.sql'), sql);
}

// DuckDB's expected rows of one table: rows in input order (seq), the watermark before
// each row = the largest earlier event time minus the delay; a row counts in each of its
// windows whose end is after that watermark (late when there is none, or no event time);
// the output holds the windows whose end is at or below the final watermark.
function expectedSql(landing, t) {
  const size = t.size * MINUTE, slide = t.slide * MINUTE, off = (t.start || 0) * MINUTE, delay = t.delay * MINUTE;
  const input = `read_csv(${sqlString(landing + '/*.csv')}, header = true, ` +
    `columns = {'seq': 'INTEGER', 'k': 'VARCHAR', 'ts': 'TIMESTAMP', 'v': 'INTEGER', 'u': 'INTEGER'})`;
  const rowsCte = `
    r AS (SELECT *, epoch_us(ts) AS t,
                 max(epoch_us(ts)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${delay} AS wm
          FROM ${input}),
    x AS (SELECT r.*, (r.t - (((r.t - ${off}) % ${slide}) + ${slide}) % ${slide}) - j.j * ${slide} AS s
          FROM r, range(0, ${Math.ceil(size / slide)}) AS j(j) WHERE r.t IS NOT NULL),
    e AS (SELECT * FROM x WHERE s > t - ${size} AND (wm IS NULL OR s + ${size} > wm)),
    fin AS (SELECT max(epoch_us(ts)) - ${delay} AS wm FROM ${input})`;
  const out = `WITH ${rowsCte}
    SELECT make_timestamp(s)::TIMESTAMPTZ AS ws, make_timestamp(s + ${size})::TIMESTAMPTZ AS we, k, ${t.aggs}
    FROM e GROUP BY s, k HAVING s + ${size} <= (SELECT wm FROM fin)`;
  const late = `WITH ${rowsCte}
    SELECT seq FROM r WHERE seq NOT IN (SELECT seq FROM e) ORDER BY seq`;
  return { out, late };
}

// DuckDB's expected keyed de-duplication: rows in input order, each with its watermark
// (largest earlier event time minus the delay); late below it or without an event time.
// Per key, the first on-time row is kept; the next kept row is the first one whose
// watermark has passed the kept row's time (the key was forgotten). Between two kept rows,
// a row with an earlier time than the kept one is handed to dedup_late (out of order).
function expectedDedupSql(landing) {
  const input = `read_csv(${sqlString(landing + '/*.csv')}, header = true, ` +
    `columns = {'seq': 'INTEGER', 'k': 'VARCHAR', 'ts': 'TIMESTAMP', 'v': 'INTEGER', 'u': 'INTEGER'})`;
  const ctes = `WITH RECURSIVE
    r AS (SELECT *, epoch_us(ts) AS t,
                 max(epoch_us(ts)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${DEDUP_DELAY * MINUTE} AS wm
          FROM ${input}),
    c AS (SELECT * FROM r WHERE t IS NOT NULL AND (wm IS NULL OR t >= wm)),
    em(k, u, seq, t) AS (
      SELECT k, u, seq, t FROM c QUALIFY row_number() OVER (PARTITION BY k, u ORDER BY seq) = 1
      UNION ALL
      SELECT c.k, c.u, c.seq, c.t FROM em JOIN c ON c.k = em.k AND c.u = em.u AND c.seq > em.seq AND c.wm > em.t
      QUALIFY row_number() OVER (PARTITION BY c.k, c.u ORDER BY c.seq) = 1),
    owner AS (SELECT c.seq, c.t, em.seq AS kept_seq, em.t AS kept_t FROM c JOIN em ON c.k = em.k AND c.u = em.u AND em.seq <= c.seq
              QUALIFY row_number() OVER (PARTITION BY c.seq ORDER BY em.seq DESC) = 1)`;
  return {
    out: `${ctes} SELECT r.seq, r.k, r.u, r.ts::TIMESTAMPTZ AS ts, r.v FROM r JOIN em USING (seq)`,
    late: `${ctes} SELECT seq FROM r WHERE seq NOT IN (SELECT seq FROM c) ` +
      `UNION ALL SELECT seq FROM owner WHERE seq <> kept_seq AND t < kept_t ORDER BY seq`,
  };
}

// DuckDB's expected sessions: the rows not behind their watermark; per key in event-time
// order a row starts a new session when its time is at or after the latest earlier time
// of the key plus the gap; a session is output when its end (latest time + gap) is at or
// below the final watermark.
function expectedSessionSql(landing) {
  const gap = SESSION.gap * MINUTE, delay = SESSION.delay * MINUTE;
  const input = `read_csv(${sqlString(landing + '/*.csv')}, header = true, ` +
    `columns = {'seq': 'INTEGER', 'k': 'VARCHAR', 'ts': 'TIMESTAMP', 'v': 'INTEGER', 'u': 'INTEGER'})`;
  const ctes = `WITH
    r AS (SELECT *, epoch_us(ts) AS t,
                 max(epoch_us(ts)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${delay} AS wm
          FROM ${input}),
    a AS (SELECT * FROM r WHERE t IS NOT NULL AND (wm IS NULL OR t >= wm)),
    p AS (SELECT *, max(t) OVER (PARTITION BY k ORDER BY t, seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev FROM a),
    q AS (SELECT *, sum(CASE WHEN prev IS NULL OR t >= prev + ${gap} THEN 1 ELSE 0 END) OVER (PARTITION BY k ORDER BY t, seq) AS sid FROM p),
    fin AS (SELECT max(epoch_us(ts)) - ${delay} AS wm FROM ${input})`;
  return {
    out: `${ctes} SELECT make_timestamp(min(t))::TIMESTAMPTZ AS ss, make_timestamp(max(t) + ${gap})::TIMESTAMPTZ AS se, k, ` +
      `count(*) AS n, sum(v) AS total FROM q GROUP BY k, sid HAVING max(t) + ${gap} <= (SELECT wm FROM fin)`,
    late: `${ctes} SELECT seq FROM r WHERE seq NOT IN (SELECT seq FROM a) ORDER BY seq`,
  };
}

const canonical = (rows) => rows.map((r) => {
  const o = {};
  for (const k of Object.keys(r).sort()) o[k] = typeof r[k] === 'number' && !Number.isInteger(r[k]) ? Number(r[k].toPrecision(12)) : r[k];
  return JSON.stringify(o);
}).sort();

runTest('window_kill', async () => {
  const started = Date.now();
  const work = tempDir('lakepipe-window-kill-');
  const landing = join(work, 'landing');
  writeInput(landing);
  writePipeline(join(work, 'whole'), landing, false);
  writePipeline(join(work, 'batched'), landing, true);
  const run = (pipeline, storage, env = {}) => runSync(bin, ['run', join(work, pipeline), '--once', '--set', `storage=${storage}`], env);
  const mustSucceed = (r, what) => {
    if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  };

  const duck = await Duck.open();
  const names = [...Object.keys(TABLES), 'sessions', 'dedup'].flatMap((n) => [n, `${n}_late`]);
  const tablesOf = async (storage) => {
    const out = {};
    for (const name of names) {
      const path = join(storage, name);
      out[name] = existsSync(join(path, '_delta_log')) ? await canonicalRows(duck, path, [], landing) : [];
    }
    return out;
  };
  mustSucceed(run('whole', join(work, 'whole-storage')), 'the whole-input run');
  const reference = await tablesOf(join(work, 'whole-storage'));

  // The whole-input run against DuckDB's expected result.
  for (const [name, t] of Object.entries(TABLES)) {
    const { out, late } = expectedSql(landing, t);
    const expected = canonical(await duck.rows(out));
    if (expected.length < 5) fail(`${name}: the input closes only ${expected.length} windows`);
    const d = diffRows(reference[name], expected);
    if (d) fail(`${name} differs from DuckDB's expected windows: ${JSON.stringify(d).slice(0, 1500)}`);
    const lateSeqs = (await duck.rows(late)).map((r) => Number(r.seq));
    const gotLate = reference[`${name}_late`].map((r) => JSON.parse(r)).map((r) => Number(r.seq)).sort((a, b) => a - b);
    if (lateSeqs.length === 0) fail(`${name}: the input has no late rows`);
    if (JSON.stringify(gotLate) !== JSON.stringify(lateSeqs)) {
      fail(`${name}_late holds rows ${gotLate.join(',')}, DuckDB expects ${lateSeqs.join(',')}`);
    }
    for (const r of reference[`${name}_late`].map((x) => JSON.parse(x))) {
      if (!r._late_reason) fail(`${name}_late: a row without _late_reason`);
    }
  }

  {
    const { out, late } = expectedSessionSql(landing);
    const expected = canonical(await duck.rows(out));
    if (expected.length < 5 || !expected.some((r) => Number(JSON.parse(r).n) > 2)) {
      fail(`sessions: the input closes too few sessions of several rows: ${expected.length}`);
    }
    const d = diffRows(reference.sessions, expected);
    if (d) fail(`sessions differs from DuckDB's expected sessions: ${JSON.stringify(d).slice(0, 1500)}`);
    const lateSeqs = (await duck.rows(late)).map((r) => Number(r.seq));
    const gotLate = reference.sessions_late.map((r) => Number(JSON.parse(r).seq)).sort((a, b) => a - b);
    if (lateSeqs.length === 0) fail('sessions: the input has no late rows');
    if (JSON.stringify(gotLate) !== JSON.stringify(lateSeqs)) {
      fail(`sessions_late holds rows ${gotLate.join(',')}, DuckDB expects ${lateSeqs.join(',')}`);
    }
  }
  {
    const { out, late } = expectedDedupSql(landing);
    const expected = canonical(await duck.rows(out));
    const d = diffRows(reference.dedup, expected);
    if (d) fail(`dedup differs from DuckDB's expected first rows per key: ${JSON.stringify(d).slice(0, 1500)}`);
    const lateSeqs = (await duck.rows(late)).map((r) => Number(r.seq));
    const gotLate = reference.dedup_late.map((r) => Number(JSON.parse(r).seq)).sort((a, b) => a - b);
    if (JSON.stringify(gotLate) !== JSON.stringify(lateSeqs)) {
      fail(`dedup_late holds rows ${gotLate.join(',')}, DuckDB expects ${lateSeqs.join(',')}`);
    }
    const reasons = reference.dedup_late.map((r) => JSON.parse(r)._late_reason);
    if (!reasons.some((x) => x.includes('arrived first and was kept'))) fail('dedup_late has no out-of-order row');
    if (!reasons.some((x) => x.includes('is behind the watermark'))) fail('dedup_late has no row behind the watermark');
    const input = Number((await duck.rows(`SELECT count(*) AS n FROM read_csv(${sqlString(landing + '/*.csv')})`))[0].n);
    if (reference.dedup.length + gotLate.length >= input) fail('the input has no duplicates the dedup drops');
  }

  const trace = join(work, 'trace.txt');
  const traced = join(work, 'traced-storage');
  mustSucceed(run('batched', traced, { LAKEPIPE_KILL_TRACE: trace }), 'the traced batched run');
  const compare = async (storage, label) => {
    await checkTables(duck, storage);
    const got = await tablesOf(storage);
    for (const [name, rows] of Object.entries(reference)) {
      const d = diffRows(got[name], rows);
      if (d) fail(`${label}: ${name} differs from the whole-input run: ${JSON.stringify(d).slice(0, 1500)}`);
    }
  };
  await compare(traced, 'one file per batch');

  const { cases, points } = killCasesFromTrace(trace, ['flow.after_state_commit']);
  const { done, note } = await runKillCases(cases, started, budgetSeconds, async (k, i) => {
    const storage = join(work, `case-${i}`);
    killAt(bin, k.label, `${storage}.journal`, (env) => run('batched', storage, env));
    mustSucceed(run('batched', storage), `${k.label}: the restart`);
    await compare(storage, `killed at ${k.label}`);
    removeDir(storage);
  });
  duck.close();
  console.log(`window_kill: ${done} kills at ${points} points, each restarted to the whole-input tables, ` +
    `which equal DuckDB's` + note +
    ` in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  removeDir(work);
});
