// The Kafka benchmark of issue 11, against `lakepipe kafka serve` (librdkafka's mock
// cluster, in memory, on loopback):
//
// 1. Drain: a backlog of --drain-messages small JSON messages over --partitions partitions
//    is read from earliest by `lakepipe run --once` of a one-table Bronze pipeline
//    (`STREAM read_kafka`), and by `kcat -C -e -o beginning -q > /dev/null` on the same
//    topic; msgs/s of each and lakepipe / kcat. kcat is the consumer's physical limit here
//    (same broker, same librdkafka, no Parquet and no Delta commit). Bronze's row count is
//    checked against what was produced, so a fast wrong answer cannot pass.
// 2. Latency: Kafka -> Bronze -> Silver -> Gold with `lakepipe run` continuous while
//    `lakepipe produce --to kafka://` sends at each --rates for --seconds. A message's
//    latency = the first Gold commit (commitInfo.timestamp) that includes it - its Kafka
//    timestamp (CreateTime, stamped by librdkafka when `produce` hands it over). The chain
//    is followed on disk like bench/latency.mjs: Bronze's checkpoint plans give each
//    batch's offset ranges and its Bronze version; Silver's plans give the Bronze versions
//    each Silver version read; Gold's commits name the Silver version they include.
//    Percentiles are over messages, computed in DuckDB from Bronze's own rows. Gold is a
//    materialized view set to `pipelines.trigger.interval = '0 seconds'`, so the figures
//    are the Kafka path's, not the 1 s default commit interval's (docs/continuous.md).
// 3. Sink: a --sink-rows table published to a topic by `lakepipe publish` (the Kafka sink of
//    `publish.kafka`: Delta read, to_json per row, idempotent producer with acks=all,
//    flush, progress file) against `kcat -P` with the same producer settings producing the
//    same keys and values (read back from lakepipe's topic) and four headers of the same
//    sizes to a second topic; msgs/s of each and lakepipe / kcat. Both topics are counted
//    afterwards, so a fast loss cannot pass.
//
// The message body is `{"id": N, "country": "XX"}` (small, so that the mock's ~5 MB per
// partition holds the backlog). Silver extracts the country with split_part on
// CAST(value AS STRING): from_json is not used so that the benchmark measures the Kafka
// path, not JSON parsing.
//
// Usage: node bench/kafka_bench.mjs --bin B [--drain-messages 1000000] [--partitions 32]
//        [--rates 10000,50000] [--seconds 20] [--sink-rows 500000]
//        [--only drain,latency,sink] [--json OUT.json] [--md OUT.md]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  Duck, argValue, binary, existsSync, fail, join, liveFiles, readDeltaLog, readFileSync, readdirSync,
  removeDir, runOk, sleep, sqlString, start, tempDir,
} from '../tests/crash/lib.mjs';

const bin = binary();
const drainMessages = Number(argValue('--drain-messages', '1000000'));
const partitions = Number(argValue('--partitions', '32'));
const rates = argValue('--rates', '10000,50000').split(',').map(Number);
const seconds = Number(argValue('--seconds', '20'));
const sinkRows = Number(argValue('--sink-rows', '500000'));
const only = new Set(argValue('--only', 'drain,latency,sink').split(','));
const jsonOut = argValue('--json', null);
const mdOut = argValue('--md', null);
const TOPIC = 'events';
const COUNTRIES = ['DE', 'FR', 'GB', 'IT', 'ES', 'NL', 'PL', 'SE'];
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function writeCsv(path, n) {
  const parts = ['id,country\n'];
  for (let i = 0; i < n; ++i) parts.push(`${i},${COUNTRIES[i % COUNTRIES.length]}\n`);
  writeFileSync(path, parts.join(''));
}

// `lakepipe kafka serve`: resolves to {servers, stop()} once it printed its address.
async function serve(parts, topics = [TOPIC]) {
  const child = start(bin, ['kafka', 'serve', '--partitions', String(parts), '--topics', topics.join(',')]);
  const deadline = Date.now() + 20000;
  while (!/bootstrap\.servers=(\S+)/.test(child.output)) {
    if (Date.now() > deadline) fail(`kafka serve printed no address:\n${child.output}`);
    await sleep(50);
  }
  const servers = child.output.match(/bootstrap\.servers=(\S+)/)[1];
  return {
    servers,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([child.exited, sleep(10000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

const BRONZE = `CREATE OR REFRESH STREAMING TABLE bronze
AS SELECT CAST(value AS STRING) AS payload, partition, offset, timestamp
FROM STREAM read_kafka(bootstrapServers => '\${kafka}', subscribe => '${TOPIC}', startingOffsets => 'earliest');
`;
const SILVER = `CREATE OR REFRESH STREAMING TABLE silver
AS SELECT partition, offset, timestamp,
  split_part(split_part(payload, '"country":"', 2), '"', 1) AS country
FROM STREAM bronze;
`;
const GOLD = `CREATE OR REFRESH MATERIALIZED VIEW gold
TBLPROPERTIES ('pipelines.trigger.interval' = '0 seconds')
AS SELECT country, count(*) AS n FROM silver GROUP BY country;
`;

function writePipeline(dir, storage, servers, sql, extraYaml = '') {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'p.sql'), sql);
  writeFileSync(join(dir, 'pipeline.yaml'),
    // Every batch's plan is kept (not the newest 100), so that latency can be traced.
    `name: kbench\nstorage: ${storage}\nlibraries: [p.sql]\n` +
    `configuration: {kafka: '${servers}', spark.sql.streaming.minBatchesToRetain: '1000000'}\n${extraYaml}`);
}

// Messages a topic holds now (lakepipe kafka consume: a plain consumer, no group).
function topicCount(servers, topic) {
  const out = execFileSync('sh', ['-c',
    `${bin} kafka consume --bootstrap-servers ${servers} --topic ${topic} | wc -l`], { encoding: 'utf8' });
  return Number(out.trim());
}

function produce(csv, servers, rate, perGroup, extra = []) {
  return start(bin, ['produce', '--from', csv, '--to', `kafka://${servers}/${TOPIC}`, '--rate', String(rate),
    '--lines-per-file', String(perGroup), ...extra]);
}

async function produced(child, label) {
  const r = await child.exited;
  if (r.code !== 0) fail(`${label}: lakepipe produce exited with ${r.code ?? r.signal}: ${child.output.slice(-2000)}`);
}

async function count(duck, tablePath, expr = 'count(*)') {
  if (!existsSync(join(tablePath, '_delta_log'))) return 0;
  const files = liveFiles(tablePath).map((f) => sqlString(f.path));
  if (files.length === 0) return 0;
  const rows = await duck.rows(`SELECT ${expr} AS n FROM read_parquet([${files.join(',')}])`);
  return Number(rows[0].n ?? 0);
}

async function drain(duck) {
  const work = tempDir('lakepipe-kbench-drain-');
  const broker = await serve(partitions);
  try {
    const csv = join(work, 'in.csv');
    writeCsv(csv, drainMessages);
    let t = Date.now();
    await produced(produce(csv, broker.servers, 100000000, 10000), 'drain');
    const produceSeconds = (Date.now() - t) / 1000;

    t = process.hrtime.bigint();
    const k = spawnSync('sh', ['-c', `kcat -C -b ${broker.servers} -t ${TOPIC} -e -o beginning -q > /dev/null`],
      { encoding: 'utf8' });
    const kcatSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    if (k.status !== 0) fail(`kcat failed (${k.status ?? k.signal}): ${k.stderr}`);
    // kcat's count, outside the timing, so that its figure is known to cover the whole topic.
    const kcatCount = Number(execFileSync('sh', ['-c',
      `kcat -C -b ${broker.servers} -t ${TOPIC} -e -o beginning -q -f '%o\\n' | wc -l`], { encoding: 'utf8' }).trim());

    const storage = join(work, 'storage');
    writePipeline(join(work, 'p'), storage, broker.servers, BRONZE);
    t = process.hrtime.bigint();
    runOk(bin, ['run', join(work, 'p'), '--once']);
    const lpSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const bronzeRows = await count(duck, join(storage, 'bronze'));
    if (bronzeRows !== drainMessages) fail(`drain: bronze has ${bronzeRows} rows, ${drainMessages} were produced`);
    if (kcatCount !== drainMessages) fail(`drain: kcat read ${kcatCount} messages, ${drainMessages} were produced`);
    const r = {
      messages: drainMessages, partitions, produce_seconds: +produceSeconds.toFixed(2),
      lakepipe_seconds: +lpSeconds.toFixed(3), lakepipe_msgs_per_s: Math.round(drainMessages / lpSeconds),
      kcat_seconds: +kcatSeconds.toFixed(3), kcat_msgs_per_s: Math.round(drainMessages / kcatSeconds),
      ratio_lakepipe_over_kcat: +(kcatSeconds / lpSeconds).toFixed(3), load: load(),
    };
    console.log(`drain: ${JSON.stringify(r)}`);
    return r;
  } finally {
    await broker.stop();
    removeDir(work);
  }
}

function readCheckpoint(storage, table) {
  const dir = join(storage, '_checkpoints', table);
  const read = (sub) => {
    const out = new Map();
    if (!existsSync(join(dir, sub))) return out;
    for (const n of readdirSync(join(dir, sub))) {
      if (!/^\d+$/.test(n)) continue;
      try {
        out.set(Number(n), JSON.parse(readFileSync(join(dir, sub, n), 'utf8')));
      } catch {
        // written put-if-absent, never half there; tolerate a concurrent rename anyway
      }
    }
    return out;
  };
  return { plans: read('offsets'), commits: read('commits') };
}

// [{start, end, version}]: the upstream Delta versions each committed batch read.
function deltaRanges(cp, upstream) {
  const out = [];
  for (const [n, plan] of cp.plans) {
    const c = cp.commits.get(n);
    if (!c) continue;
    for (const s of plan.sources || []) {
      if (s.kind === 'delta' && s.table === upstream) out.push({ start: s.startVersion, end: s.endVersion, version: c.tableVersion });
      else if (s.kind === 'snapshot' && s.table === upstream) out.push({ start: 0, end: s.version, version: c.tableVersion });
    }
  }
  return out;
}

const firstCovering = (ranges, v) => {
  let best = null;
  for (const r of ranges) if (r.start <= v && v <= r.end && (best === null || r.version < best.version)) best = r;
  return best;
};

// Per Bronze batch: its Kafka offset ranges and the Gold commit time that first includes it.
function chain(storage) {
  const bronze = readCheckpoint(storage, 'bronze');
  const silverRanges = deltaRanges(readCheckpoint(storage, 'silver'), 'bronze');
  const goldTs = new Map();
  const goldInputs = [];
  for (const c of readDeltaLog(join(storage, 'gold'))) {
    const info = c.actions.find((a) => a.commitInfo)?.commitInfo;
    if (!info) continue;
    goldTs.set(c.version, info.timestamp);
    const inputs = info.operationParameters?.inputs;
    if (typeof inputs === 'string') {
      const parsed = JSON.parse(inputs);
      if (typeof parsed.silver === 'number') goldInputs.push({ silver: parsed.silver, timestamp: info.timestamp });
    }
  }
  const goldCp = readCheckpoint(storage, 'gold');
  const goldRanges = goldCp.plans.size > 0 ? deltaRanges(goldCp, 'silver') : null;
  const rows = [];  // [partition, start, end, goldMs]
  for (const [n, plan] of bronze.plans) {
    const c = bronze.commits.get(n);
    if (!c) continue;
    const s = firstCovering(silverRanges, c.tableVersion);
    if (s === null) continue;
    let gold = null;
    if (goldRanges) {
      const g = firstCovering(goldRanges, s.version);
      if (g) gold = goldTs.get(g.version) ?? null;
    } else {
      gold = goldInputs.find((x) => x.silver >= s.version)?.timestamp ?? null;
    }
    if (gold === null) continue;
    for (const src of plan.sources || []) {
      if (src.kind !== 'stream') continue;
      for (const p of src.range?.partitions || []) if (p.end > p.start) rows.push([p.partition, p.start, p.end, gold]);
    }
  }
  return rows;
}

async function latency(duck, rate) {
  const label = `${rate} msg/s`;
  const work = tempDir('lakepipe-kbench-lat-');
  const parts = Math.min(partitions, 16);
  const broker = await serve(parts);
  let pipeline = null;
  try {
    const messages = rate * seconds;
    const csv = join(work, 'in.csv');
    writeCsv(csv, messages);
    const warm = join(work, 'warm.csv');
    writeCsv(warm, 100);
    const storage = join(work, 'storage');
    writePipeline(join(work, 'p'), storage, broker.servers, BRONZE + SILVER + GOLD);
    await produced(produce(warm, broker.servers, 100000, 100), label);
    pipeline = start(bin, ['run', join(work, 'p')]);
    const gold = join(storage, 'gold');
    const warmDeadline = Date.now() + 60000;
    while ((await count(duck, gold, 'sum(n)')) < 100) {
      if (pipeline.exitCode !== null) fail(`${label}: lakepipe run exited:\n${pipeline.output.slice(-3000)}`);
      if (Date.now() > warmDeadline) fail(`${label}: the warm-up messages did not reach gold within 60 s`);
      await sleep(100);
    }
    const t0 = Date.now();
    // A group every 10 ms, each flushed (acknowledged) before the next.
    await produced(produce(csv, broker.servers, rate, Math.max(1, Math.round(rate / 100))), label);
    const produceSeconds = (Date.now() - t0) / 1000;
    const drainDeadline = Date.now() + 300000;
    while ((await count(duck, gold, 'sum(n)')) < messages + 100) {
      if (pipeline.exitCode !== null) fail(`${label}: lakepipe run exited:\n${pipeline.output.slice(-3000)}`);
      if (Date.now() > drainDeadline) fail(`${label}: not every message reached gold within 300 s`);
      await sleep(200);
    }
    const endLoad = load();
    pipeline.kill('SIGINT');
    await Promise.race([pipeline.exited, sleep(30000).then(() => pipeline.kill('SIGKILL'))]);
    pipeline = null;

    // Gold must be right, not only fast: each message counted once, under its own country.
    const goldFiles = liveFiles(gold).map((f) => sqlString(f.path)).join(',');
    const byCountry = await duck.rows(`SELECT country, n FROM read_parquet([${goldFiles}]) ORDER BY country`);
    const expected = [...COUNTRIES].sort().map((c) => {
      const i = COUNTRIES.indexOf(c);
      const per = (n) => Math.floor(n / COUNTRIES.length) + (i < n % COUNTRIES.length ? 1 : 0);
      return `${c}=${per(messages) + per(100)}`;
    }).join(' ');
    const got = byCountry.map((r) => `${r.country}=${r.n}`).join(' ');
    if (got !== expected) fail(`${label}: gold is ${got}, expected ${expected}`);

    const ranges = chain(storage);
    await duck.rows('DROP TABLE IF EXISTS ranges');
    await duck.rows('CREATE TABLE ranges (p INTEGER, s BIGINT, e BIGINT, gold_ms BIGINT)');
    for (let i = 0; i < ranges.length; i += 500) {
      await duck.rows(`INSERT INTO ranges VALUES ${ranges.slice(i, i + 500).map((r) => `(${r.join(',')})`).join(',')}`);
    }
    const files = liveFiles(join(storage, 'bronze')).map((f) => sqlString(f.path)).join(',');
    const [q] = await duck.rows(`
      WITH m AS (
        SELECT b.partition, b.offset, epoch_ms(b.timestamp) AS sent, r.gold_ms
        FROM read_parquet([${files}]) b
        LEFT JOIN ranges r ON r.p = b.partition AND b.offset >= r.s AND b.offset < r.e
        WHERE epoch_ms(b.timestamp) >= ${t0})
      SELECT count(*) AS n, count(gold_ms) AS resolved,
        quantile_disc(gold_ms - sent, 0.5) AS p50, quantile_disc(gold_ms - sent, 0.99) AS p99,
        max(gold_ms - sent) AS max, min(sent) AS first, max(sent) AS last FROM m`);
    if (Number(q.n) !== messages) fail(`${label}: bronze has ${q.n} measured messages, ${messages} were produced`);
    if (Number(q.resolved) !== messages) fail(`${label}: only ${q.resolved} of ${messages} messages were traced to a gold commit`);
    const r = {
      label, target_rate: rate, messages, partitions: parts,
      produced_rate: Math.round(messages / ((Number(q.last) - Number(q.first)) / 1000 || produceSeconds)),
      p50_ms: Number(q.p50), p99_ms: Number(q.p99), max_ms: Number(q.max),
      gold_versions: readDeltaLog(gold).length, load: endLoad,
    };
    console.log(`${label}: ${JSON.stringify(r)}`);
    return r;
  } finally {
    if (pipeline) {
      pipeline.kill('SIGKILL');
      await pipeline.exited;
    }
    await broker.stop();
    removeDir(work);
  }
}

async function sink() {
  const work = tempDir('lakepipe-kbench-sink-');
  // 32 partitions: the mock cluster keeps at most ~5 MB per partition, and lakepipe's
  // messages carry four headers besides the key and the value.
  const parts = 32;
  const broker = await serve(parts, ['sink', 'kcat']);
  try {
    const landing = join(work, 'landing');
    mkdirSync(landing);
    writeCsv(join(landing, 'rows.csv'), sinkRows);
    const storage = join(work, 'storage');
    const dir = join(work, 'p');
    const sql = `CREATE OR REFRESH STREAMING TABLE src AS SELECT * FROM STREAM read_files('${landing}', format => 'csv', header => true, schema => 'id BIGINT, country STRING');\n`;
    writePipeline(dir, storage, broker.servers, sql);
    runOk(bin, ['run', dir, '--once']);
    writePipeline(dir, storage, broker.servers, sql,
      `publish:\n  kafka:\n    bootstrap_servers: "${broker.servers}"\n    tables:\n      - {table: src, topic: sink, key: id}\n`);
    let t = process.hrtime.bigint();
    runOk(bin, ['publish', dir, '--table', 'src']);
    const lpSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const lpCount = topicCount(broker.servers, 'sink');
    if (lpCount !== sinkRows) fail(`sink: topic sink holds ${lpCount} messages, the table has ${sinkRows} rows`);

    // The same keys and values for kcat, read back from lakepipe's topic.
    const payload = join(work, 'payload.txt');
    execFileSync('sh', ['-c', `${bin} kafka consume --bootstrap-servers ${broker.servers} --topic sink | ` +
      `node -e 'const rl = require("readline").createInterface({input: process.stdin}); ` +
      `rl.on("line", (l) => { const m = JSON.parse(l); process.stdout.write(m.key + "\\t" + m.value + "\\n"); });' > ${payload}`]);
    t = process.hrtime.bigint();
    // The same producer settings as the sink's (idempotent, acks=all, linger.ms 5) and
    // four headers of the same names and sizes (kcat's are the same on every message).
    const headers = ['lakepipe.table=src', `lakepipe.table_id=${'0'.repeat(36)}`, 'lakepipe.version=1',
      `lakepipe.seq=${sinkRows - 1}`].flatMap((h) => ['-H', h]);
    const k = spawnSync('kcat', ['-P', '-b', broker.servers, '-t', 'kcat', '-K', '\\t', '-X', 'acks=all',
      '-X', 'enable.idempotence=true', '-X', 'linger.ms=5', ...headers, '-l', payload],
      { encoding: 'utf8' });
    const kcatSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    if (k.status !== 0) fail(`kcat -P failed (${k.status ?? k.signal}): ${k.stderr}`);
    const kcatCount = topicCount(broker.servers, 'kcat');
    if (kcatCount !== sinkRows) fail(`sink: kcat produced ${kcatCount} messages, ${sinkRows} were given`);
    const r = {
      rows: sinkRows, partitions: parts,
      lakepipe_seconds: +lpSeconds.toFixed(3), lakepipe_msgs_per_s: Math.round(sinkRows / lpSeconds),
      kcat_seconds: +kcatSeconds.toFixed(3), kcat_msgs_per_s: Math.round(sinkRows / kcatSeconds),
      ratio_lakepipe_over_kcat: +(kcatSeconds / lpSeconds).toFixed(3), load: load(),
    };
    console.log(`sink: ${JSON.stringify(r)}`);
    return r;
  } finally {
    await broker.stop();
    removeDir(work);
  }
}

try {
  if (spawnSync('kcat', ['-V']).status !== 0) fail('kcat is not installed (scripts/install-deps.sh test)');
  const duck = await Duck.open();
  const loadStart = load();
  const d = only.has('drain') ? await drain(duck) : null;
  const lat = [];
  if (only.has('latency')) for (const rate of rates) lat.push(await latency(duck, rate));
  const snk = only.has('sink') ? await sink() : null;
  duck.close();
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ drain: d, latency: lat, sink: snk, load_start: loadStart }, null, 2) + '\n');
  let md = `## Kafka (issue 11)

\`node bench/kafka_bench.mjs\` against \`lakepipe kafka serve\` (librdkafka's in-memory mock
broker on loopback); messages are \`{"id": N, "country": "XX"}\` (~30 bytes). Load average
at the start: ${loadStart}.
`;
  if (d) md += `
**Drain** of a ${d.messages.toLocaleString('en-US')}-message backlog over ${d.partitions} partitions
(Bronze only, \`STREAM read_kafka\` from earliest, one \`lakepipe run --once\` including
start-up and the Delta commit) against \`kcat -C -e -o beginning -q > /dev/null\` on the same
topic (load ${d.load}):

| reader | seconds | msgs/s |
|---|---|---|
| lakepipe run --once | ${d.lakepipe_seconds} | ${d.lakepipe_msgs_per_s.toLocaleString('en-US')} |
| kcat -C | ${d.kcat_seconds} | ${d.kcat_msgs_per_s.toLocaleString('en-US')} |
| **lakepipe / kcat** | | **${d.ratio_lakepipe_over_kcat}** |
`;
  if (lat.length) md += `
**Latency** Kafka → Bronze → Silver (split_part on the payload) → Gold (a materialized
view, count per country, \`pipelines.trigger.interval = '0 seconds'\`), \`lakepipe run\`
continuous, \`lakepipe produce --to kafka://\` for ${seconds} s per rate. Latency = the first
Gold commit's commitInfo.timestamp − the message's Kafka timestamp (CreateTime at produce),
traced through Bronze's and Silver's checkpoints; percentiles over messages.

| rate | messages | partitions | produced msgs/s | p50 | p99 | max | gold versions | load |
|---|---|---|---|---|---|---|---|---|
${lat.map((r) => `| ${r.label} | ${r.messages} | ${r.partitions} | ${r.produced_rate} | ${r.p50_ms} ms | ${r.p99_ms} ms | ${r.max_ms} ms | ${r.gold_versions} | ${r.load} |`).join('\n')}
`;
  if (snk) md += `
**Sink**: a ${snk.rows.toLocaleString('en-US')}-row table (\`id\` as the key, the row as JSON)
sent by \`lakepipe publish\` (\`publish.kafka\`: process start, Delta read, to_json,
idempotent producer with acks=all, flush, progress file) to a ${snk.partitions}-partition
topic, against \`kcat -P -X acks=all -X enable.idempotence=true -X linger.ms=5\` producing
the same keys and values with four headers of the same names and sizes to another topic
of the same broker (load ${snk.load}):

| producer | seconds | msgs/s |
|---|---|---|
| lakepipe publish | ${snk.lakepipe_seconds} | ${snk.lakepipe_msgs_per_s.toLocaleString('en-US')} |
| kcat -P | ${snk.kcat_seconds} | ${snk.kcat_msgs_per_s.toLocaleString('en-US')} |
| **lakepipe / kcat** | | **${snk.ratio_lakepipe_over_kcat}** |
`;
  if (mdOut) writeFileSync(mdOut, md);
  console.log(md);
} catch (e) {
  console.error(`kafka_bench: FAILED: ${e.crashTestFailure ? e.message : e.stack}`);
  process.exit(1);
}
