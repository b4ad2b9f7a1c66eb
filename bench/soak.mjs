// `make soak` (issue 16, "Bounded growth"): the orders pipeline runs continuously while
// `lakepipe produce` drops --rate lines/s for --minutes (SOAK_MINUTES, 60); every
// --sample-seconds (60) it records, from outside the process:
//   - RSS, open file descriptors and threads of the pipeline (/proc/PID);
//   - files and bytes under each table's data, its _delta_log, and _checkpoints/<table>;
//   - startup replay time: how long `lakepipe status` takes (it opens every table's log and
//     checkpoint and every flow's checkpoint folder, as a restart does);
//   - p99 landing -> Gold latency over the interval (lakepipe_end_to_end_latency_seconds of
//     gold_revenue_by_country on /metrics, interpolated inside its bucket).
//   - the event log's files (`_event_log`), and the keys of Silver's DISTINCT (state that
//     grows by design: the example's DISTINCT has no watermark).
// Then it fits a line to each series (second half of the run: after warm-up) and writes the
// series, the slopes and a 30-day extrapolation to the "## Soak" section of --md (other
// sections untouched). The target: every slope flat within noise, except data bytes.
//
// The pipeline is a copy of examples/orders whose tables are set up as a user leaving it
// running for months would: scheduled VACUUM (`lakepipe.vacuum.interval`, --vacuum-interval,
// 5 minutes) with a short retention of removed files and of the log
// (`delta.deletedFileRetentionDuration` and `delta.logRetentionDuration`, --retention,
// 10 minutes). Scheduled VACUUM never keeps less than an hour (docs/continuous.md); so that
// the file counts level off within a soak of an hour, the run gets
// LAKEPIPE_VACUUM_MIN_RETENTION_SECONDS (honoured by test builds only) = the retention.
// Bronze's file source forgets the files it took after the same retention (maxFileAge),
// and moves each file it committed out of the landing folder (cleanSource => 'archive',
// to <work>/archive): a folder nobody empties costs every poll, and `lakepipe status`, a
// listing that grows with it (docs/continuous.md, "Cleaning the source").
// The event log's own retentions (7 days of events, an hour of log and removed files, an
// upkeep an hour; none can be set under an hour) are shortened to the same --retention by
// LAKEPIPE_EVENT_LOG_RETENTION_SECONDS (test builds only; runtime/event_log_upkeep.cc), its
// retention and VACUUM then running every half retention.
// --as-shipped runs examples/orders unchanged (streaming tables: daily VACUUM keeping 7 days,
// 7 days of log, checkpoints thinned after an hour; materialized views: hourly VACUUM keeping an hour, an hour of log).
//
// Usage: node bench/soak.mjs [--bin B] [--minutes 60] [--rate 5000] [--sample-seconds 60]
//        [--vacuum-interval '5 minutes'] [--retention-minutes 10] [--as-shipped]
//        [--md docs/BENCHMARKS.md] [--json OUT]
import { cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import {
  EXAMPLE, argValue, binary, fail, join, orderSets, removeDir, runOk, runSync, sleep, start, tempDir,
} from '../tests/crash/lib.mjs';
import { replaceSection } from './md_section.mjs';

const bin = binary();
const minutes = Number(argValue('--minutes', process.env.SOAK_MINUTES || '60'));
const rate = Number(argValue('--rate', '5000'));
const sampleSeconds = Number(argValue('--sample-seconds', '60'));
const mdPath = argValue('--md', null);
const jsonPath = argValue('--json', null);
const GOLD = 'gold_revenue_by_country';
const asShipped = process.argv.includes('--as-shipped');
const vacuumInterval = argValue('--vacuum-interval', '5 minutes');
const retentionMinutes = Number(argValue('--retention-minutes', '10'));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// Files and bytes under `dir`, recursively (0 when missing).
function du(dir, skip = () => false) {
  let files = 0;
  let bytes = 0;
  if (!existsSync(dir)) return { files, bytes };
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (skip(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const sub = du(p);
      files += sub.files;
      bytes += sub.bytes;
    } else {
      try {
        bytes += statSync(p).size;
        ++files;
      } catch {
        // removed while listing (cleanup, compaction): not counted
      }
    }
  }
  return { files, bytes };
}

function procStats(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number((new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status) || [])[1] || 0);
  return { rss_mb: field('VmRSS') / 1024, threads: field('Threads'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

// The pipeline the soak runs: examples/orders, or a copy whose every table carries the
// maintenance properties (inserted before each table's COMMENT).
function soakPipeline(work) {
  if (asShipped) return EXAMPLE;
  const dir = join(work, 'pipeline');
  cpSync(EXAMPLE, dir, { recursive: true });
  const props = `TBLPROPERTIES ('lakepipe.vacuum.interval' = '${vacuumInterval}', ` +
    `'delta.deletedFileRetentionDuration' = '${retentionMinutes} minutes', ` +
    `'delta.logRetentionDuration' = '${retentionMinutes} minutes')\n`;
  let tables = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    const sql = readFileSync(join(dir, file), 'utf8');
    const patched = sql.replace(/^COMMENT '/gm, () => {
      ++tables;
      return `${props}COMMENT '`;
    });
    writeFileSync(join(dir, file), patched);
  }
  if (tables !== 6) fail(`expected the six tables of examples/orders each with a COMMENT line, found ${tables}`);
  // The file source remembers the files it took for maxFileAge (7 days by default): state
  // that grows for a week by design. The soak shortens it to the same retention so that the
  // checkpoint folders level within the run.
  const bronze = join(dir, 'bronze.sql');
  const sql = readFileSync(bronze, 'utf8');
  const withAge = sql.replace("format => 'csv',", `format => 'csv', maxFileAge => '${retentionMinutes} minutes', ` +
    `cleanSource => 'archive', sourceArchiveDir => '${join(work, 'archive')}',`);
  if (withAge === sql) fail(`${bronze}: expected "format => 'csv'," to put maxFileAge after`);
  writeFileSync(bronze, withAge);
  return dir;
}

// Cumulative bucket counts of the Gold latency histogram: Map(le -> count), and the state
// keys per table.
let stateKeys = {};
let memory = {};
async function latencyBuckets(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) fail(`/metrics answered ${res.status}`);
  const text = await res.text();
  stateKeys = {};
  for (const m of text.matchAll(/^lakepipe_state_keys\{table="([^"]+)"\} (\S+)$/gm)) stateKeys[m[1]] = Number(m[2]);
  // The process's memory as malloc and RocksDB see it (heap in use against RSS).
  memory = {};
  for (const m of text.matchAll(/^lakepipe_memory_bytes\{kind="([^"]+)"\} (\S+)$/gm)) memory[m[1]] = Number(m[2]) / 1e6;
  const buckets = new Map();
  const re = /^lakepipe_end_to_end_latency_seconds_bucket\{([^}]*)\} (\S+)$/gm;
  for (let m; (m = re.exec(text));) {
    if (!m[1].includes(`table="${GOLD}"`)) continue;
    const le = /(?:^|,)le="([^"]+)"/.exec(m[1])[1];
    buckets.set(le === '+Inf' ? Infinity : Number(le), Number(m[2]));
  }
  return buckets;
}

// p99 of the observations between two cumulative snapshots, interpolated linearly inside
// its bucket as Prometheus' histogram_quantile does (a bucket's bound alone would show
// 2.5 s for anything from 1 to 2.5 s). In the +Inf bucket: the last finite bound.
function p99Between(before, after) {
  const les = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return null;
  const rank = 0.99 * total;
  let lower = 0;
  let below = 0;
  for (const le of les) {
    const count = (after.get(le) ?? 0) - (before.get(le) ?? 0);
    if (count >= rank) {
      if (le === Infinity) return lower;
      return count > below ? lower + ((le - lower) * (rank - below)) / (count - below) : le;
    }
    lower = le;
    below = count;
  }
  return lower;
}

// Least-squares slope and intercept of y over x, and the residuals' standard deviation.
function fit(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; ++i) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const intercept = my - slope * mx;
  const sd = Math.sqrt(ys.reduce((a, y, i) => a + (y - (intercept + slope * xs[i])) ** 2, 0) / Math.max(1, n - 2));
  return { slope, intercept, sd, mean: my };
}

const work = tempDir('lakepipe-soak-');
const landing = join(work, 'landing');
const storage = join(work, 'storage');
const input = join(work, 'orders.csv');
const rows = Math.ceil(rate * minutes * 60 * 1.05);
console.log(`soak: generating ${rows} order lines`);
runOk(bin, ['generate', 'orders', '--rows', String(rows), '--seed', '7', '--out', input]);
const port = await freePort();
const sets = orderSets(landing, storage);
const pipelineDir = soakPipeline(work);
const producer = start(bin, ['produce', '--from', input, '--to', landing, '--rate', String(rate), '--lines-per-file', '500']);
while (!existsSync(landing) || readdirSync(landing).length === 0) await sleep(50);
const pipeline = start(bin, ['run', pipelineDir, '--summary', '--port', String(port), ...sets],
  asShipped ? {} : {
    LAKEPIPE_VACUUM_MIN_RETENTION_SECONDS: String(retentionMinutes * 60),
    LAKEPIPE_EVENT_LOG_RETENTION_SECONDS: String(retentionMinutes * 60),
  });
let stopped = null;
pipeline.exited.then((r) => { stopped = r; });
const loadStart = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const t0 = Date.now();
const samples = [];
let lastBuckets = new Map();
console.log(`soak: ${minutes} min at ${rate} lines/s, a sample every ${sampleSeconds} s (pipeline pid ${pipeline.pid}, port ${port})`);
while ((Date.now() - t0) / 60000 < minutes) {
  await sleep(sampleSeconds * 1000);
  if (stopped) fail(`the pipeline exited with ${stopped.code ?? stopped.signal}:\n${pipeline.output.slice(-3000)}`);
  const s = { minute: (Date.now() - t0) / 60000, ...procStats(pipeline.pid) };
  let buckets = lastBuckets;
  try {
    buckets = await latencyBuckets(port);
  } catch (e) {
    if (e.crashTestFailure) throw e;  // the server answered, but not with metrics
    console.log(`soak: /metrics could not be read: ${e.message}${e.cause ? ` (${e.cause.message})` : ''}`);
  }
  s.p99_ms = (() => {
    const p = p99Between(lastBuckets, buckets);
    return p === null ? null : Math.round(p * 1000);
  })();
  lastBuckets = buckets;
  const t = Date.now();
  const status = runSync(bin, ['status', pipelineDir, ...sets]);
  s.status_ms = Date.now() - t;
  s.status_exit = status.status;
  s.tables = {};
  for (const name of existsSync(storage) ? readdirSync(storage) : []) {
    if (name.startsWith('_') || !existsSync(join(storage, name, '_delta_log'))) continue;
    s.tables[name] = {
      data: du(join(storage, name), (n) => n === '_delta_log'),
      log: du(join(storage, name, '_delta_log')),
      checkpoints: du(join(storage, '_checkpoints', name)),
    };
  }
  // The flows' offsets, commits and metadata, which minBatchesToRetain bounds, apart from
  // their state stores (state/), which hold what the SQL asks to remember.
  const cpRoot = join(storage, '_checkpoints');
  const flows = existsSync(cpRoot) ? readdirSync(cpRoot) : [];
  s.all_checkpoints = { files: 0, bytes: 0 };
  s.state_bytes = 0;
  for (const f of flows) {
    const rest = du(join(cpRoot, f), (n) => n === 'state');
    s.all_checkpoints.files += rest.files;
    s.all_checkpoints.bytes += rest.bytes;
    s.state_bytes += du(join(cpRoot, f, 'state')).bytes;
  }
  s.event_log = { data: du(join(storage, '_event_log'), (n) => n === '_delta_log'), log: du(join(storage, '_event_log', '_delta_log')) };
  s.state_keys = { ...stateKeys };
  s.memory_mb = { ...memory };
  samples.push(s);
  const gold = s.tables[GOLD];
  console.log(`soak: ${s.minute.toFixed(1)} min: RSS ${s.rss_mb.toFixed(0)} MB` +
    (s.memory_mb.heap_in_use !== undefined ? ` (heap in use ${s.memory_mb.heap_in_use.toFixed(0)} MB, ` +
      `free ${s.memory_mb.heap_free.toFixed(0)} MB, RocksDB cache ${s.memory_mb.state_cache.toFixed(0)} MB)` : '') +
    `, ${s.fds} fds, ${s.threads} threads, ` +
    `p99 ${s.p99_ms ?? '-'} ms, status ${s.status_ms} ms` +
    (gold ? `, ${GOLD}: ${gold.data.files} data files, ${gold.log.files} log files` : ''));
}
pipeline.kill('SIGINT');
producer.kill('SIGINT');
await Promise.race([pipeline.exited, sleep(30000)]);
const loadEnd = os.loadavg().map((l) => l.toFixed(2)).join(' ');
if (samples.length < 2) fail('fewer than two samples: run longer than two --sample-seconds');

// Series and slopes over the second half (warm-up excluded).
const series = [
  ['RSS (MB)', (s) => s.rss_mb, false],
  ['heap in use (MB, malloc)', (s) => s.memory_mb?.heap_in_use ?? null, false],
  ['RocksDB shared cache, memtables included (MB)', (s) => s.memory_mb?.state_cache ?? null, false],
  ['open file descriptors', (s) => s.fds, false],
  ['threads', (s) => s.threads, false],
  ['startup replay: `lakepipe status` (ms)', (s) => s.status_ms, false],
  ['p99 landing -> Gold (ms, interpolated in its bucket)', (s) => (Number.isFinite(s.p99_ms) ? s.p99_ms : null), false],
];
series.push(['silver_orders: DISTINCT keys (state, grows by design)', (s) => s.state_keys?.silver_orders ?? null, true]);
series.push(['_event_log: data files', (s) => s.event_log.data.files, false]);
series.push(['_event_log: data MB', (s) => s.event_log.data.bytes / 1e6, false]);
series.push(['_event_log: _delta_log files', (s) => s.event_log.log.files, false]);
series.push(['_event_log: _delta_log MB', (s) => s.event_log.log.bytes / 1e6, false]);
series.push(['_checkpoints (all flows) but state/: files', (s) => s.all_checkpoints.files, false]);
series.push(['_checkpoints (all flows) but state/: MB', (s) => s.all_checkpoints.bytes / 1e6, false]);
series.push(['_checkpoints state/ MB (DISTINCT keys and exact COUNT DISTINCT: grows by design)',
  (s) => s.state_bytes / 1e6, true]);
const tableNames = Object.keys(samples.at(-1).tables).sort();
for (const t of tableNames) {
  series.push([`${t}: data files`, (s) => s.tables[t]?.data.files ?? 0, false]);
  series.push([`${t}: data MB`, (s) => (s.tables[t]?.data.bytes ?? 0) / 1e6, true]);
  series.push([`${t}: _delta_log files`, (s) => s.tables[t]?.log.files ?? 0, false]);
  series.push([`${t}: _delta_log MB`, (s) => (s.tables[t]?.log.bytes ?? 0) / 1e6, false]);
  series.push([`${t}: _checkpoints files`, (s) => s.tables[t]?.checkpoints.files ?? 0, false]);
}
const half = samples.slice(Math.floor(samples.length / 2));
const rowsOut = [];
let growing = 0;
for (const [name, get, mayGrow] of series) {
  const pts = half.map((s) => [s.minute, get(s)]).filter(([, y]) => y !== null && y !== undefined);
  if (pts.length < 2) continue;
  const f = fit(pts.map((p) => p[0]), pts.map((p) => p[1]));
  const span = pts.at(-1)[0] - pts[0][0];
  // Flat: the fitted change over the half is within twice the scatter around the line, or
  // within 5% of the mean (a series that steps by one file now and then).
  const change = f.slope * span;
  const flat = Math.abs(change) <= Math.max(2 * f.sd, 0.05 * Math.abs(f.mean), 1e-9);
  // A series that falls beyond noise is bounded but not levelled yet (a retention longer
  // than the run's first half): said so, not counted as growing, no 30-day figure.
  const falls = !flat && f.slope < 0;
  if (!flat && !falls && !mayGrow) ++growing;
  const last = pts.at(-1)[1];
  const verdict = flat ? 'flat' : falls ? 'falls (not levelled yet)' : mayGrow ? 'grows (data)' : '**grows**';
  rowsOut.push([name, pts[0][1], last, f.slope, falls ? null : last + f.slope * 30 * 24 * 60, verdict]);
}
const num = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(3));
const md = [
  '## Soak (issue 16; `make soak`, bench/soak.mjs)',
  '',
  `\`node bench/soak.mjs --minutes ${minutes} --rate ${rate}${asShipped ? ' --as-shipped' : ''}\`: the orders pipeline in continuous mode for ${minutes} min ` +
    `while \`lakepipe produce\` drops ${rate} lines/s (500 per file); ${samples.length} samples, one every ${sampleSeconds} s. ` +
    `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${os.cpus().length} CPUs, load ${loadStart} at the start and ${loadEnd} at the end.`,
  '',
  asShipped ? 'The pipeline is examples/orders as shipped (the defaults: streaming tables vacuumed daily keeping 7 days of removed files and of log (checkpoints older than an hour thinned to one an hour), the tombstones of compactions kept an hour; materialized views vacuumed hourly keeping an hour of both).'
    : `Every table of the pipeline (a copy of examples/orders) has \`'lakepipe.vacuum.interval' = '${vacuumInterval}'\`, ` +
      `\`'delta.deletedFileRetentionDuration'\` and \`'delta.logRetentionDuration'\` = '${retentionMinutes} minutes', bronze_orders reads with \`maxFileAge => '${retentionMinutes} minutes'\` ` +
      `(the files its source remembers: 7 days by default) and \`cleanSource => 'archive'\` (committed files move out of the landing folder, ` +
      `which every poll lists), and the run ` +
      `LAKEPIPE_VACUUM_MIN_RETENTION_SECONDS=${retentionMinutes * 60} (scheduled VACUUM keeps at least an hour otherwise) and ` +
      `LAKEPIPE_EVENT_LOG_RETENTION_SECONDS=${retentionMinutes * 60} (the event log keeps ${retentionMinutes} minutes of events, ` +
      `log and removed files, with its retention and VACUUM every ${retentionMinutes / 2} minutes, instead of 7 days, an hour and an hour).`,
  '',
  `Slopes are fitted over the second half of the run (after warm-up); "flat" means the fitted change over that half is ` +
    `within twice the scatter around the line or 5% of the mean. 30 days = the last value plus 30 days of the slope.`,
  `**${growing === 0 ? 'Every series but data bytes is flat.' : `${growing} series grow beyond noise (marked).`}**`,
  '',
  '| series | first (2nd half) | last | slope per minute | 30 days | verdict |',
  '|---|---|---|---|---|---|',
  ...rowsOut.map(([n, a, b, sl, x, v]) => `| ${n} | ${num(a)} | ${num(b)} | ${num(sl)} | ${x === null ? "–" : num(x)} | ${v} |`),
  '',
  '<details><summary>samples</summary>',
  '',
  '| minute | RSS MB | fds | threads | p99 ms | status ms | gold data files | gold log files |',
  '|---|---|---|---|---|---|---|---|',
  ...samples.map((s) => `| ${s.minute.toFixed(1)} | ${s.rss_mb.toFixed(0)} | ${s.fds} | ${s.threads} | ${s.p99_ms ?? '-'} | ${s.status_ms} | ` +
    `${s.tables[GOLD]?.data.files ?? '-'} | ${s.tables[GOLD]?.log.files ?? '-'} |`),
  '',
  '</details>',
  '',
].join('\n');
console.log(md);
if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ minutes, rate, samples }, null, 1));
if (mdPath) {
  replaceSection(mdPath, '## Soak (issue 16', md);
  console.log(`soak: wrote the Soak section of ${mdPath}`);
}
removeDir(work);
if (growing > 0) process.exitCode = 1;
