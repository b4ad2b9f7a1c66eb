// Stream-stream join state under a steady stream (issue 9, "Benchmarks"): views and clicks
// at --rate events/s per side (default 10,000) land as CSV files every 250 ms for --seconds
// (default 300) while `lakepipe run` joins them continuously (inner join, watermarks of 10
// seconds, clicks within 30 seconds of their view). Every 5 s the join table's state size
// (buffered rows of both sides, bytes on disk) is read from /api/pipeline. The state must
// stay flat: the mean of the last quarter of the run may not exceed the mean of the second
// quarter by more than 30%, else the script exits 1.
//
// Usage: node bench/stream_join_state.mjs --bin B [--rate 10000] [--seconds 300] [--port 18931]
//        [--json OUT.json]
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { argValue, binary, fail, join, removeDir, sleep, start, tempDir } from '../tests/crash/lib.mjs';

const bin = binary();
const rate = Number(argValue('--rate', '10000'));
const seconds = Number(argValue('--seconds', '300'));
const port = Number(argValue('--port', '18931'));
const jsonOut = argValue('--json', null);
const TICK_MS = 250;

const work = tempDir('lakepipe-sjoin-bench-');
const landing = join(work, 'landing');
for (const side of ['views', 'clicks']) mkdirSync(join(landing, side), { recursive: true });
mkdirSync(join(work, 'p'));
writeFileSync(join(work, 'p', 'pipeline.yaml'), `name: sjoin_bench\nstorage: ${join(work, 'storage')}\nlibraries: [p.sql]\n`);
const scan = (side, cols, ts, alias) =>
  `STREAM read_files('${join(landing, side)}', format => 'csv', header => true, schema => '${cols}') ` +
  `WATERMARK ${ts} DELAY OF INTERVAL 10 SECONDS AS ${alias}`;
writeFileSync(join(work, 'p', 'p.sql'),
  'CREATE OR REFRESH STREAMING TABLE clicked AS SELECT v.id, v.ad, v.vts, c.cts\n' +
  `FROM ${scan('views', 'id BIGINT, ad INT, vts TIMESTAMP', 'vts', 'v')}\n` +
  `JOIN ${scan('clicks', 'id BIGINT, ad INT, cts TIMESTAMP', 'cts', 'c')}\n` +
  'ON v.ad = c.ad AND v.id = c.id AND c.cts BETWEEN v.vts AND CAST(CAST(v.vts AS DOUBLE) + 30 AS TIMESTAMP);\n');

const ts = (ms) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
let nextId = 0;
function produce(tick) {
  const n = Math.round((rate * TICK_MS) / 1000);
  const now = Date.now();
  let views = 'id,ad,vts\n', clicks = 'id,ad,cts\n';
  for (let i = 0; i < n; ++i) {
    const id = nextId++;
    const ad = id % 1000;
    views += `${id},${ad},${ts(now - (id % 5000))}\n`;
    // Every other event clicks the view of two seconds ago (within the 30 s range); the
    // rest are clicks of no view.
    const target = id - 2 * rate;
    if (id % 2 === 0 && target >= 0) clicks += `${target},${target % 1000},${ts(now)}\n`;
    else clicks += `${-id - 1},0,${ts(now)}\n`;
  }
  for (const [side, text] of [['views', views], ['clicks', clicks]]) {
    const name = `${String(tick).padStart(8, '0')}.csv`;
    writeFileSync(join(landing, side, `.${name}`), text);
    renameSync(join(landing, side, `.${name}`), join(landing, side, name));
  }
}

const child = start(bin, ['run', join(work, 'p'), '--port', String(port)]);
const samples = [];
const began = Date.now();
let tick = 0;
while (Date.now() - began < seconds * 1000) {
  produce(tick++);
  if (tick % Math.round(5000 / TICK_MS) === 0) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/pipeline`);
      const j = await r.json();
      const t = j.nodes.find((x) => x.name === 'clicked');
      samples.push({ second: Math.round((Date.now() - began) / 1000), state_keys: t.state_keys, state_bytes: t.state_bytes,
                     rows_out: t.rows_out });
      console.log(JSON.stringify(samples[samples.length - 1]));
    } catch (e) {
      console.log(`sample failed: ${e.message}`);
    }
  }
  const wait = began + tick * TICK_MS - Date.now();
  if (wait > 0) await sleep(wait);
}
child.kill('SIGINT');
await child.exited;
const mean = (a) => a.reduce((s, x) => s + x.state_keys, 0) / Math.max(1, a.length);
const q = Math.floor(samples.length / 4);
const second = mean(samples.slice(q, 2 * q)), last = mean(samples.slice(3 * q));
const result = { rate_per_side: rate, seconds, samples, second_quarter_mean_keys: second, last_quarter_mean_keys: last,
                 flat: last <= second * 1.3 };
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 1));
console.log(`stream_join_state: ${rate}/s per side for ${seconds} s: state ${Math.round(second)} rows (2nd quarter) -> ` +
  `${Math.round(last)} rows (last quarter): ${result.flat ? 'flat' : 'GROWING'}`);
removeDir(work);
if (!result.flat || samples.length < 8) fail(result.flat ? 'too few samples' : 'the join state grows');
