// Kafka scale-out under kill -9 (docs/scale-out.md): two `lakepipe run` processes, each
// with its own pipeline storage (checkpoints, event log, lock) and a disjoint `assign`
// set of a 4-partition topic, append to ONE Bronze table at a shared LOCATION. While
// `lakepipe produce --to kafka://` sends --rows messages, both runs are SIGKILLed at
// random moments, independently (so their batches and commits overlap), at least --kills
// times each. Then both drain what is left with `run --once`, at the same time, and:
//   - the shared Bronze holds every (partition, offset) of the topic exactly once, with
//     ids exactly 0..rows-1 and their keys; partitions 0-1 were written by one run's txn
//     appId and 2-3 by the other's (each exactly once on its own);
//   - its Delta versions are contiguous and every live `add` is readable by DuckDB;
//   - while a run appends, `lakepipe table vacuum` of the shared table is refused.
//
// Usage: node tests/crash/kafka_scale_kill.mjs [--bin B] [--kills N] [--rows N]
//        [--rate MSG_PER_S] [--min-delay-ms 300] [--max-delay-ms 1500] [--seed S]
import { writeFileSync, mkdirSync } from 'node:fs';
import {
  Duck, argValue, binary, checkTables, fail, join, parquetSource, readDeltaLog, removeDir, runSync, runTest, sleep,
  start, tempDir,
} from './lib.mjs';

const bin = binary();
const kills = Number(argValue('--kills', '6'));
const rows = Number(argValue('--rows', '60000'));
const rate = Number(argValue('--rate', '15000'));
const minDelay = Number(argValue('--min-delay-ms', '300'));
const maxDelay = Number(argValue('--max-delay-ms', '1500'));
let seed = Number(argValue('--seed', String(Date.now() % 100000)));

function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

function writePipeline(dir, storage, servers, shared, partitions) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pipeline.yaml'),
    `name: ingest\nstorage: ${storage}\nlibraries: [bronze.sql]\n` +
    `configuration:\n  kafka: '${servers}'\n  shared: '${shared}'\n  assign: '{"events": [${partitions.join(', ')}]}'\n`);
  writeFileSync(join(dir, 'bronze.sql'),
    'CREATE OR REFRESH STREAMING TABLE bronze\n' +
    "LOCATION '${shared}/bronze'\n" +
    'AS SELECT partition, offset, CAST(key AS STRING) AS k, CAST(value AS STRING) AS v\n' +
    "FROM STREAM read_kafka(bootstrapServers => '${kafka}', assign => '${assign}',\n" +
    "  startingOffsets => 'earliest', maxOffsetsPerTrigger => 1000);\n");
}

// One process's life: start it, let it run a random while, SIGKILL it. Resolves to true
// when it was killed (not exited by itself, which fails the test).
async function liveAndKill(pipeline, label) {
  const child = start(bin, ['run', pipeline]);
  const delay = minDelay + random() * (maxDelay - minDelay);
  const res = await Promise.race([child.exited, sleep(delay).then(() => null)]);
  if (res !== null) fail(`${label}: the continuous run exited by itself (${res.code ?? res.signal}):\n${child.output.slice(-3000)}`);
  child.kill('SIGKILL');
  const r = await child.exited;
  return r.signal === 'SIGKILL';
}

runTest('kafka_scale_kill', async () => {
  const started = Date.now();
  const initialSeed = seed;
  const work = tempDir('lakepipe-kafka-scale-');
  const broker = start(bin, ['kafka', 'serve', '--partitions', '4', '--topics', 'events']);
  try {
    let servers = null;
    for (let i = 0; i < 200 && servers === null; ++i) {
      const m = /^bootstrap\.servers=(\S+)$/m.exec(broker.output);
      if (m) servers = m[1];
      else await sleep(25);
    }
    if (servers === null) fail(`lakepipe kafka serve printed no bootstrap.servers line:\n${broker.output}`);

    const input = join(work, 'events.csv');
    const lines = ['id,payload'];
    for (let i = 0; i < rows; ++i) lines.push(`${i},p${i}`);
    writeFileSync(input, lines.join('\n') + '\n');

    const shared = join(work, 'shared');
    const runs = [
      { label: 'run A (partitions 0, 1)', pipeline: join(work, 'a'), storage: join(work, 'storage-a'), parts: [0, 1] },
      { label: 'run B (partitions 2, 3)', pipeline: join(work, 'b'), storage: join(work, 'storage-b'), parts: [2, 3] },
    ];
    for (const r of runs) writePipeline(r.pipeline, r.storage, servers, shared, r.parts);
    const producer = start(bin, ['produce', '--from', input, '--to', `kafka://${servers}/events`, '--rate',
      String(rate), '--lines-per-file', '500', '--key', 'id']);
    let producerExit = null;
    producer.exited.then((r) => { producerExit = r; });

    // Both runs live and die independently, overlapping.
    const killed = [0, 0];
    const deadline = Date.now() + 150000;
    await Promise.all(runs.map(async (r, i) => {
      while (killed[i] < kills || producerExit === null) {
        if (Date.now() > deadline) fail(`gave up after ${killed} kills: the producer or a pipeline is stuck`);
        if (await liveAndKill(r.pipeline, r.label)) ++killed[i];
      }
    }));
    if (producerExit.code !== 0) fail(`lakepipe produce exited with ${producerExit.code ?? producerExit.signal}:\n${producer.output}`);

    // A run appending holds the table's shared lock: VACUUM (exclusive) is refused.
    const holder = start(bin, ['run', runs[0].pipeline]);
    for (let i = 0; i < 200 && !/running continuously/.test(holder.output); ++i) await sleep(50);
    // The run takes its locks as its first update starts; a VACUUM before that (which
    // deletes nothing young anyway) is simply tried again.
    let vac = null;
    for (let i = 0; i < 40 && (vac === null || vac.status === 0); ++i) {
      if (vac !== null) await sleep(250);
      vac = runSync(bin, ['table', 'vacuum', join(shared, 'bronze'), '--retain', '168']);
    }
    holder.kill('SIGKILL');
    await holder.exited;
    if (vac.status === 0) fail(`table vacuum of the shared table succeeded while a run appended to it:\n${vac.stdout}`);
    if (!/in use/.test(vac.stderr)) fail(`table vacuum refused without saying the table is in use:\n${vac.stderr}`);

    // Both drain the rest at the same time.
    const drains = runs.map((r) => start(bin, ['run', r.pipeline, '--once']));
    const exits = await Promise.all(drains.map((d) => d.exited));
    exits.forEach((e, i) => {
      if (e.code !== 0) fail(`${runs[i].label}: run --once exited with ${e.code ?? e.signal}:\n${drains[i].output.slice(-3000)}`);
    });

    const duck = await Duck.open();
    const counts = await checkTables(duck, shared);
    const bronze = parquetSource(join(shared, 'bronze'));
    if (bronze === null) fail('the shared bronze has no data files');
    const [stats] = await duck.rows(
      `SELECT count(*)::BIGINT AS n, count(DISTINCT (partition, "offset"))::BIGINT AS coords,
              count(DISTINCT json_extract(v, '$.id')::BIGINT)::BIGINT AS ids,
              min(json_extract(v, '$.id')::BIGINT)::BIGINT AS lo, max(json_extract(v, '$.id')::BIGINT)::BIGINT AS hi,
              count(DISTINCT partition)::BIGINT AS parts,
              count(*) FILTER (WHERE k <> json_extract(v, '$.id')::VARCHAR)::BIGINT AS bad_keys FROM ${bronze}`);
    if (Number(stats.n) !== rows || Number(stats.coords) !== rows || Number(stats.ids) !== rows ||
        Number(stats.lo) !== 0 || Number(stats.hi) !== rows - 1 || Number(stats.parts) !== 4 ||
        Number(stats.bad_keys) !== 0) {
      fail(`shared bronze: ${JSON.stringify(stats)}; expected ${rows} rows over 4 partitions, coordinates and ids ` +
        `0..${rows - 1} with their keys (kept ${work})`);
    }
    // Each run committed its own batches under its own appId; the log shows both, and how
    // often the writer changed from one version to the next (their commits interleave).
    const commits = readDeltaLog(join(shared, 'bronze'));
    const apps = new Set();
    let switches = 0;
    let last = null;
    for (const c of commits) {
      for (const a of c.actions) {
        if (!a.txn) continue;
        apps.add(a.txn.appId);
        if (last !== null && a.txn.appId !== last) ++switches;
        last = a.txn.appId;
      }
    }
    if (apps.size !== 2) fail(`the shared bronze has txn appIds ${JSON.stringify([...apps])}; expected one per run`);
    duck.close();
    console.log(`kafka_scale_kill (seed ${initialSeed}): ${killed[0]} + ${killed[1]} SIGKILLs of two runs with ` +
      `disjoint partitions while ${rows} messages were produced at ${rate}/s; the shared bronze holds each ` +
      `(partition, offset) once; ${commits.length} versions from 2 appIds, the writer changing ${switches} times; ` +
      `${Object.keys(counts).length} table(s) contiguous and readable; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    broker.kill('SIGTERM');
    await broker.exited;
  }
  removeDir(work);
});
