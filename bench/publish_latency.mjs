// Publication latency (issue 13): from a Gold table's Delta commit to the PostgreSQL commit
// that makes that version visible, at the demo's rate.
//
// Runs `lakepipe demo` (which starts its own PostgreSQL and publishes the orders Gold
// tables) for --seconds at --rate lines/s, stops it, then reads back:
//   commit(v)   = commitInfo.timestamp of version v in the Gold table's _delta_log;
//   visible(v)  = the timestamp of the first `publish_progress` event of that table whose
//                 to_version >= v (written right after the PostgreSQL COMMIT);
//   latency(v)  = visible(v) - commit(v), for every Gold version committed while it ran.
// A version skipped because a newer one was published first counts with the newer one's
// time (it became visible then). Prints p50/p95/p99 and the load average; fails when p99 is
// over --max-p99-ms (default 200).
//
// Usage: node bench/publish_latency.mjs --bin B [--seconds 40] [--rate 2000]
//        [--json OUT.json] [--md OUT.md]
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { argValue, binary, join, readDeltaLog, removeDir, runOk, sleep, start, tempDir } from '../tests/crash/lib.mjs';

const bin = binary();
const seconds = Number(argValue('--seconds', '40'));
const rate = Number(argValue('--rate', '2000'));
const maxP99 = Number(argValue('--max-p99-ms', '200'));
const jsonOut = argValue('--json', null);
const mdOut = argValue('--md', null);
const TABLES = ['gold_kpis', 'gold_revenue_by_country', 'gold_daily_revenue', 'gold_top_products'];

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

const dir = tempDir('lakepipe-publish-bench-');
const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');
const demo = start(bin, ['demo', '--dir', dir, '--port', '0', '--rate', String(rate), '--rows', '200000',
                         '--lines-per-file', '200']);
const started = Date.now();
await sleep(seconds * 1000);
demo.kill('SIGINT');
const exit = await demo.exited;
const load1 = loadavg().map((x) => x.toFixed(2)).join(' ');
if (!demo.output.includes('PostgreSQL on 127.0.0.1:')) {
  console.error(demo.output.slice(-3000));
  throw new Error('the demo did not start PostgreSQL');
}

const storage = join(dir, 'storage');
const events = runOk(bin, ['query', join(dir, 'pipeline'), '--set', `storage=${storage}`, '--format', 'jsonl',
  "SELECT table_name, timestamp, details FROM _event_log WHERE event_type = 'publish_progress'"]);
const published = new Map(TABLES.map((t) => [t, []]));
for (const line of events.split('\n')) {
  if (!line.trim()) continue;
  const e = JSON.parse(line);
  const d = JSON.parse(e.details);
  // The event's timestamp column: microseconds or an ISO string, whichever the query prints.
  const ms = typeof e.timestamp === 'number' ? e.timestamp / 1000 : Date.parse(e.timestamp.replace(' ', 'T') + (e.timestamp.endsWith('Z') ? '' : 'Z'));
  published.get(e.table_name)?.push({ ms, to: d.to_version });
}

const latencies = [];
const perTable = {};
for (const t of TABLES) {
  const commits = readDeltaLog(join(storage, t));
  const pubs = published.get(t).sort((a, b) => a.to - b.to);
  const mine = [];
  for (const c of commits) {
    const info = c.actions.find((a) => a.commitInfo)?.commitInfo;
    if (!info || info.timestamp < started) continue;
    const p = pubs.find((x) => x.to >= c.version);
    if (!p) continue;  // committed after the last publication before the stop
    mine.push(Math.max(0, p.ms - info.timestamp));
  }
  mine.sort((a, b) => a - b);
  perTable[t] = { versions: mine.length, p50_ms: quantile(mine, 0.5), p99_ms: quantile(mine, 0.99) };
  latencies.push(...mine);
}
latencies.sort((a, b) => a - b);
const result = {
  rate_lines_per_s: rate, seconds, versions: latencies.length,
  p50_ms: quantile(latencies, 0.5), p95_ms: quantile(latencies, 0.95), p99_ms: quantile(latencies, 0.99),
  max_ms: latencies[latencies.length - 1], per_table: perTable, load_start: load0, load_end: load1,
  demo_exit: exit.code,
};
console.log(JSON.stringify(result, null, 2));
const ok = latencies.length > 0 && result.p99_ms <= maxP99;
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
if (mdOut) {
  let md = '## Publication to PostgreSQL (issue 13)\n\n';
  md += `\`node bench/publish_latency.mjs --rate ${rate} --seconds ${seconds}\` (the demo's rate; \`lakepipe demo\` with its own PostgreSQL): `;
  md += `Gold commit → visible in PostgreSQL over ${latencies.length} Gold versions: p50 ${result.p50_ms.toFixed(0)} ms, `;
  md += `p95 ${result.p95_ms.toFixed(0)} ms, **p99 ${result.p99_ms.toFixed(0)} ms** (target ≤ ${maxP99} ms: ${ok ? 'met' : 'NOT met'}); `;
  md += `load average ${load0} → ${load1}.\n\n| table | versions | p50 ms | p99 ms |\n|---|---:|---:|---:|\n`;
  for (const [t, v] of Object.entries(perTable)) md += `| ${t} | ${v.versions} | ${v.p50_ms?.toFixed(0)} | ${v.p99_ms?.toFixed(0)} |\n`;
  writeFileSync(mdOut, md + '\n');
}
removeDir(dir);
process.exit(ok ? 0 : 1);
