// Stream-stream join crash test: a pipeline joining two watermarked file streams (inner and
// left outer, in one pipeline) reads its input one file per side per micro-batch. The run
// is traced once with LAKEPIPE_KILL_TRACE; then, for every kill point it passes (first
// occurrences, then later ones while the --budget-seconds budget lasts), a fresh storage
// folder runs with LAKEPIPE_KILL_AT=point:n (it must die by SIGKILL), runs again to the end,
// and each join table must equal, row for row, the same pipeline run over the whole input
// in one batch — the join state (state/join-<i>/), the late-rows rule and the commit
// protocol together make the result independent of batching and crashes.
//
// Usage: node tests/crash/stream_join_kill.mjs [--bin build/lakepipe] [--budget-seconds S]
import {
  argValue, binary, canonicalRows, checkTables, deltaTables, diffRows, Duck, fail, join, killAt, killCasesFromTrace, removeDir, runKillCases, runSync, runTest, tempDir,
} from './lib.mjs';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';

const bin = binary();
const budgetSeconds = Number(argValue('--budget-seconds', process.env.LAKEPIPE_KILL_BUDGET || '40'));
const FILES = 6;  // per side
const ROWS = 12;  // per file
// Watermark delays (minutes) of the views and the clicks: views arrive up to 25 minutes out
// of order, clicks up to 40.
const VIEW_DELAY = 30, CLICK_DELAY = 45;

// A small deterministic generator (the test must not depend on Math.random).
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

// Views and clicks around a clock that moves forward, some out of order by more than
// the watermark delay (late rows), some without an event time.
function writeInput(dir) {
  const r = rng(42);
  let vclock = 1767225600, cclock = 1767225600, seq = 0;
  mkdirSync(join(dir, 'views'), { recursive: true });
  mkdirSync(join(dir, 'clicks'), { recursive: true });
  for (let f = 0; f < FILES; ++f) {
    let views = 'seq,ad,vts,page\n', clicks = 'seq,ad,cts,who\n';
    for (let i = 0; i < ROWS; ++i) {
      vclock += (r() % 6) * 60;
      cclock += (r() % 6) * 60;
      const vts = r() % 29 === 0 ? '' : timestamp(vclock - (r() % 25) * 60);
      views += `${seq},${r() % 5},${vts},p${seq}\n`;
      clicks += `${1000 + seq},${r() % 5},${timestamp(cclock - (r() % 40) * 60)},w${seq}\n`;
      ++seq;
    }
    const name = `${String(f).padStart(4, '0')}.csv`;
    writeFileSync(join(dir, 'views', name), views);
    writeFileSync(join(dir, 'clicks', name), clicks);
  }
}

function writePipeline(dir, landing, perBatch) {
  mkdirSync(dir, { recursive: true });
  const opts = perBatch ? ', maxFilesPerTrigger => 1' : '';
  const side = (name, cols, ts, delay, alias) =>
    `STREAM read_files('${landing}/${name}', format => 'csv', header => true, schema => '${cols}'${opts}) ` +
    `WATERMARK ${ts} DELAY OF INTERVAL ${delay} MINUTES AS ${alias}`;
  const views = side('views', 'seq INT, ad INT, vts TIMESTAMP, page STRING', 'vts', VIEW_DELAY, 'v');
  const clicks = side('clicks', 'seq INT, ad INT, cts TIMESTAMP, who STRING', 'cts', CLICK_DELAY, 'c');
  const on = 'ON v.ad = c.ad AND c.cts BETWEEN v.vts AND CAST(CAST(v.vts AS DOUBLE) + 3600 AS TIMESTAMP)';
  const sql = ['', 'LEFT '].map((kind) =>
    `CREATE OR REFRESH STREAMING TABLE ${kind ? 'left_join' : 'inner_join'} AS\n` +
    `SELECT v.seq, v.ad, v.vts, v.page, c.seq AS cseq, c.cts, c.who FROM ${views}\n${kind}JOIN ${clicks}\n${on};\n`).join('');
  writeFileSync(join(dir, 'pipeline.yaml'), 'name: sjoin\nlibraries: [p.sql]\n');
  writeFileSync(join(dir, 'p.sql'), sql);
}

runTest('stream_join_kill', async () => {
  const started = Date.now();
  const work = tempDir('lakepipe-sjoin-kill-');
  const landing = join(work, 'landing');
  writeInput(landing);
  writePipeline(join(work, 'whole'), landing, false);
  writePipeline(join(work, 'batched'), landing, true);
  const run = (pipeline, storage, env = {}) => runSync(bin, ['run', join(work, pipeline), '--once', '--set', `storage=${storage}`], env);
  const mustSucceed = (r, what) => {
    if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  };

  const duck = await Duck.open();
  const tablesOf = async (storage) => {
    const out = {};
    for (const name of ['inner_join', 'left_join', 'inner_join_late', 'left_join_late']) {
      const path = join(storage, name);
      out[name] = existsSync(join(path, '_delta_log')) ? await canonicalRows(duck, path, [], landing) : [];
    }
    return out;
  };
  mustSucceed(run('whole', join(work, 'whole-storage')), 'the whole-input run');
  const reference = await tablesOf(join(work, 'whole-storage'));
  if (reference.inner_join.length < 10) fail(`the input gives only ${reference.inner_join.length} joined rows`);
  if (reference.left_join.length <= reference.inner_join.length) fail('the left join has no unmatched rows');

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
  await compare(traced, 'one file per side per batch');

  const { cases, points } = killCasesFromTrace(trace, ['flow.after_state_commit']);
  const { done, note } = await runKillCases(cases, started, budgetSeconds, async (k, i) => {
    const storage = join(work, `case-${i}`);
    killAt(bin, k.label, `${storage}.journal`, (env) => run('batched', storage, env));
    mustSucceed(run('batched', storage), `${k.label}: the restart`);
    await compare(storage, `killed at ${k.label}`);
    removeDir(storage);
  });
  duck.close();
  console.log(`stream_join_kill: ${done} kills at ${points} points, each restarted to the whole-input tables` +
    note +
    ` in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  removeDir(work);
});
