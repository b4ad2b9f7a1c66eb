// Windowed aggregation latency under a steady stream (issue 9, "Benchmarks"): events at
// --rate per second (default 10,000) land as CSV files every 250 ms for --seconds (default
// 30), their event time the wall clock when written, while `lakepipe run` keeps
//   GROUP BY window(ts, '1 second'), k   over   WATERMARK ts DELAY OF INTERVAL 2 SECONDS
// continuously. A window may be written once the watermark passes its end, i.e. once an
// event with ts >= end + 2 s has landed; measured from disk:
//   allowed(window) = the mtime of the first landing file holding such an event;
//   written(window) = commitInfo.timestamp of the Delta version whose files hold its rows;
//   latency         = written - allowed, one sample per window (all keys of a window are
//                     written by the same commit).
// The rows are also checked: every window written holds the count of events the producer
// put in it (no event lost or doubled on time).
//
// Usage: node bench/window_latency.mjs --bin B [--rate 10000] [--seconds 30] [--json OUT.json]
import { renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import {
  Duck, argValue, binary, fail, join, readDeltaLog, removeDir, sleep, sqlString, start, tempDir,
} from '../tests/crash/lib.mjs';

const bin = binary();
const rate = Number(argValue('--rate', '10000'));
const seconds = Number(argValue('--seconds', '30'));
const jsonOut = argValue('--json', null);
const TICK_MS = 250;
const SIZE_MS = 1000, DELAY_MS = 2000, KEYS = 20;

const work = tempDir('lakepipe-window-bench-');
const landing = join(work, 'landing');
mkdirSync(landing, { recursive: true });
mkdirSync(join(work, 'p'));
writeFileSync(join(work, 'p', 'pipeline.yaml'), `name: window_bench\nstorage: ${join(work, 'storage')}\nlibraries: [p.sql]\n`);
writeFileSync(join(work, 'p', 'p.sql'),
  'CREATE OR REFRESH STREAMING TABLE per_window AS\n' +
  'SELECT window.start AS ws, window.end AS we, k, count(*) AS n, sum(v) AS total\n' +
  `FROM STREAM read_files('${landing}', format => 'csv', header => true, schema => 'id BIGINT, k INT, v INT, ts TIMESTAMP')\n` +
  `WATERMARK ts DELAY OF INTERVAL ${DELAY_MS / 1000} SECONDS\n` +
  `GROUP BY window(ts, '${SIZE_MS} milliseconds'), k;\n`);

const iso = (ms) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const files = [];  // {mtime (ms), maxTs (ms)}
const counts = new Map();  // window start (ms) -> events
let nextId = 0;
function produce(tick) {
  const n = Math.round((rate * TICK_MS) / 1000);
  const now = Date.now();
  let text = 'id,k,v,ts\n', maxTs = 0;
  for (let i = 0; i < n; ++i) {
    const id = nextId++;
    const t = now - (id % 50);  // slightly out of order, well within the delay
    maxTs = Math.max(maxTs, t);
    const ws = t - (t % SIZE_MS);
    counts.set(ws, (counts.get(ws) || 0) + 1);
    text += `${id},${id % KEYS},${id % 100},${iso(t)}\n`;
  }
  const name = `${String(tick).padStart(8, '0')}.csv`;
  writeFileSync(join(landing, `.${name}`), text);
  renameSync(join(landing, `.${name}`), join(landing, name));
  files.push({ mtime: statSync(join(landing, name)).mtimeMs, maxTs });
}

const child = start(bin, ['run', join(work, 'p'), '--no-server']);
const began = Date.now();
let tick = 0;
while (Date.now() - began < seconds * 1000) {
  produce(tick++);
  const wait = began + tick * TICK_MS - Date.now();
  if (wait > 0) await sleep(wait);
}
await sleep(3000);  // let the last batches commit
child.kill('SIGINT');
const exit = await child.exited;
if (exit.code !== 0 && exit.signal !== 'SIGINT') fail(`lakepipe run exited with ${exit.code ?? exit.signal}:\n${child.output.slice(-2000)}`);

const table = join(work, 'storage', 'per_window');
const duck = await Duck.open();
const written = new Map();  // window start (ms) -> {commit (ms), n}
for (const c of readDeltaLog(table)) {
  const info = c.actions.find((a) => a.commitInfo);
  for (const a of c.actions) {
    // A compaction's files hold rows written before (dataChange false): not a new write.
    if (!a.add || a.add.dataChange === false) continue;
    const rows = await duck.rows(`SELECT epoch_ms(ws) AS ws, sum(n) AS n FROM read_parquet(${sqlString(join(table, decodeURIComponent(a.add.path)))}) GROUP BY ws`);
    for (const r of rows) {
      const ws = Number(r.ws);
      if (written.has(ws)) fail(`window ${iso(ws)} was written twice`);
      written.set(ws, { commit: info.commitInfo.timestamp, n: Number(r.n) });
    }
  }
}
duck.close();
const latencies = [];
for (const [ws, w] of written) {
  if (w.n !== counts.get(ws)) fail(`window ${iso(ws)} holds ${w.n} events, the producer put ${counts.get(ws)}`);
  const first = files.find((f) => f.maxTs >= ws + SIZE_MS + DELAY_MS);
  if (!first) fail(`window ${iso(ws)} was written before any event allowed it`);
  latencies.push(w.commit - first.mtime);
}
if (latencies.length < seconds / (SIZE_MS / 1000) - 3) fail(`only ${latencies.length} windows were written`);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
const load = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
const result = { rate, seconds, window_ms: SIZE_MS, delay_ms: DELAY_MS, windows: latencies.length,
                 p50_ms: pct(50), p99_ms: pct(99), max_ms: latencies[latencies.length - 1], load };
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 1));
console.log(`window_latency: ${rate} events/s for ${seconds} s, ${latencies.length} windows of ${SIZE_MS / 1000} s ` +
  `(watermark delay ${DELAY_MS / 1000} s): from the landing that lets the watermark pass a window to its commit ` +
  `p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms, max ${result.max_ms.toFixed(0)} ms (load ${load})`);
removeDir(work);
