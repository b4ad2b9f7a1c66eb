// Checks a /metrics body with an independent Prometheus text-format parser
// (npm parse-prometheus-text-format).
//
//   node tests/server/check_metrics.mjs METRICS_FILE EXPECT_JSON_FILE
//
// EXPECT_JSON_FILE: {"families": {name: "COUNTER"|"GAUGE"|"HISTOGRAM"},
//                    "values": [{"name", "labels": {...}, "value"}],
//                    "histograms": [{"name", "table", "count", "sum", "buckets": {le: n}}]}
// Exits 0 when every expectation holds, else prints each failure and exits 1.
//
// The library flattens a histogram family into one object and drops every label but `le`
// (its sum/count only survive without labels), so each table's series of a histogram is
// cut out of the text (by its table label, escaped here independently) and parsed alone.
import { readFileSync } from 'node:fs';
import parse from 'parse-prometheus-text-format';

const [metricsFile, expectFile] = process.argv.slice(2);
const text = readFileSync(metricsFile, 'utf8');
const expect = JSON.parse(readFileSync(expectFile, 'utf8'));
const failures = [];
const fail = (m) => failures.push(m);

// Structural rules of the 0.0.4 format the library does not enforce.
const lines = text.split('\n');
if (lines[lines.length - 1] !== '') fail('the body must end with a newline');
const typed = new Map();
for (const line of lines) {
  const m = /^# TYPE (\S+) (\S+)$/.exec(line);
  if (m) {
    if (typed.has(m[1])) fail(`TYPE given twice for ${m[1]}`);
    typed.set(m[1], m[2]);
  } else if (line !== '' && !line.startsWith('#')) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$/.test(line)) fail(`malformed sample line: ${line}`);
  }
}

const families = new Map(parse(text).map((f) => [f.name, f]));
for (const [name, type] of Object.entries(expect.families)) {
  const f = families.get(name);
  if (!f) { fail(`family ${name} missing`); continue; }
  if (f.type !== type) fail(`family ${name} has type ${f.type}, want ${type}`);
  if (!f.help) fail(`family ${name} has no HELP`);
}

const sameLabels = (a = {}, b = {}) =>
  Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);
for (const want of expect.values) {
  const f = families.get(want.name);
  if (!f) { fail(`family ${want.name} missing for value ${JSON.stringify(want.labels)}`); continue; }
  const sample = f.metrics.find((m) => sameLabels(m.labels, want.labels));
  if (!sample) { fail(`${want.name}${JSON.stringify(want.labels)} missing; have ${JSON.stringify(f.metrics.map((m) => m.labels))}`); continue; }
  if (Math.abs(Number(sample.value) - want.value) > 1e-9 * Math.max(1, Math.abs(want.value)))
    fail(`${want.name}${JSON.stringify(want.labels)} = ${sample.value}, want ${want.value}`);
}

const escapeLabel = (v) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
for (const want of expect.histograms) {
  const tableLabel = `table="${escapeLabel(want.table)}"`;
  const own = lines.filter((l) =>
    (l.startsWith(`# HELP ${want.name} `) || l.startsWith(`# TYPE ${want.name} `)) ||
    ([`${want.name}_bucket{`, `${want.name}_sum{`, `${want.name}_count{`].some((p) => l.startsWith(p)) &&
     l.includes(tableLabel)));
  const alone = own.map((l) => l.replace(`{${tableLabel},`, '{').replace(`{${tableLabel}}`, '')).join('\n') + '\n';
  const parsed = parse(alone);
  if (parsed.length !== 1 || parsed[0].type !== 'HISTOGRAM') { fail(`histogram ${want.name}{${want.table}} not parsed`); continue; }
  const h = parsed[0].metrics[0] || {};
  if (Number(h.count) !== want.count) fail(`${want.name}{${want.table}} count ${h.count}, want ${want.count}`);
  if (Math.abs(Number(h.sum) - want.sum) > 1e-9 * Math.max(1, Math.abs(want.sum))) fail(`${want.name}{${want.table}} sum ${h.sum}, want ${want.sum}`);
  const buckets = h.buckets || {};
  if (buckets['+Inf'] === undefined || Number(buckets['+Inf']) !== Number(h.count)) fail(`${want.name}{${want.table}} +Inf bucket ${buckets['+Inf']} != count ${h.count}`);
  // Bucket order as written (JS objects enumerate integer-like keys first, so the text
  // is the place to check it), then cumulative counts in le order.
  const bound = (le) => (le === '+Inf' ? Infinity : Number(le));
  const written = own.filter((l) => l.startsWith(`${want.name}_bucket{`)).map((l) => /[{,]le="([^"]*)"/.exec(l)?.[1]);
  for (let i = 1; i < written.length; ++i)
    if (!(bound(written[i]) > bound(written[i - 1]))) fail(`${want.name}{${want.table}} bucket le=${written[i]} after le=${written[i - 1]}`);
  if (written[written.length - 1] !== '+Inf') fail(`${want.name}{${want.table}} does not end with le="+Inf"`);
  let previous = -1;
  for (const [le, n] of Object.entries(buckets).sort((a, b) => bound(a[0]) - bound(b[0]))) {
    if (Number(n) < previous) fail(`${want.name}{${want.table}} buckets not cumulative at le=${le}`);
    previous = Number(n);
  }
  for (const [le, n] of Object.entries(want.buckets)) {
    const key = Object.keys(buckets).find((k) => (k === '+Inf' ? le === '+Inf' : Number(k) === Number(le)));
    if (key === undefined) fail(`${want.name}{${want.table}} has no bucket le=${le}`);
    else if (Number(buckets[key]) !== n) fail(`${want.name}{${want.table}} bucket le=${le} = ${buckets[key]}, want ${n}`);
  }
}

if (failures.length) {
  for (const f of failures) console.error('FAIL: ' + f);
  process.exit(1);
}
console.log(`metrics ok: ${families.size} families checked`);
