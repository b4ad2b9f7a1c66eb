// Kafka exactly-once under kill -9 (docs/crash-testing.md, docs/kafka.md): `lakepipe kafka
// serve` holds a 4-partition topic; `lakepipe produce --to kafka://` sends --rows messages
// (JSON {"id": i, "payload": "p<i>"}, keyed by id) while a continuous pipeline reads the
// topic into Bronze and is SIGKILLed at random moments, at least --kills times. Then
// `run --once` drains what is left, and:
//   - Bronze holds every (partition, offset) of the topic exactly once, with the value the
//     topic holds there (the reference: a fresh pipeline, never killed, reading the same
//     topic into another storage folder);
//   - the ids are exactly 0..rows-1, each once (nothing produced was lost or doubled);
//   - Delta versions are contiguous and every live `add` is readable.
//
// Usage: node tests/crash/kafka_kill.mjs [--bin B] [--kills N] [--rows N] [--rate MSG_PER_S]
//        [--min-delay-ms 300] [--max-delay-ms 1500] [--seed S]
import { writeFileSync, mkdirSync } from 'node:fs';
import {
  Duck, argValue, binary, checkTables, fail, join, parquetSource, removeDir, runOk, runTest, sleep, start, tempDir,
} from './lib.mjs';

const bin = binary();
const kills = Number(argValue('--kills', '10'));
const rows = Number(argValue('--rows', '100000'));
const rate = Number(argValue('--rate', '20000'));
const minDelay = Number(argValue('--min-delay-ms', '300'));
const maxDelay = Number(argValue('--max-delay-ms', '1500'));
let seed = Number(argValue('--seed', String(Date.now() % 100000)));

function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

function writePipeline(dir, storage, servers) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pipeline.yaml'),
    `name: kafka_kill\nstorage: ${storage}\nlibraries: [bronze.sql]\nconfiguration: {kafka: '${servers}'}\n`);
  writeFileSync(join(dir, 'bronze.sql'),
    'CREATE OR REFRESH STREAMING TABLE bronze AS\n' +
    'SELECT partition, offset, CAST(key AS STRING) AS k, CAST(value AS STRING) AS v\n' +
    "FROM STREAM read_kafka(bootstrapServers => '${kafka}', subscribe => 'events',\n" +
    "  startingOffsets => 'earliest', maxOffsetsPerTrigger => 7000);\n");
}

runTest('kafka_kill', async () => {
  const started = Date.now();
  const initialSeed = seed;
  const work = tempDir('lakepipe-kafka-kill-');
  const broker = start(bin, ['kafka', 'serve', '--partitions', '4', '--topics', 'events']);
  try {
    let servers = null;
    for (let i = 0; i < 200 && servers === null; ++i) {
      const m = /^bootstrap\.servers=(\S+)$/m.exec(broker.output);
      if (m) servers = m[1];
      else await sleep(25);
    }
    if (servers === null) fail(`lakepipe kafka serve printed no bootstrap.servers line:\n${broker.output}`);
    if (!broker.output.startsWith('bootstrap.servers=')) {
      fail(`the first output line of kafka serve is not bootstrap.servers=...:\n${broker.output.slice(0, 500)}`);
    }

    const input = join(work, 'events.csv');
    const lines = ['id,payload'];
    for (let i = 0; i < rows; ++i) lines.push(`${i},p${i}`);
    writeFileSync(input, lines.join('\n') + '\n');

    const pipeline = join(work, 'p');
    const storage = join(work, 'storage');
    writePipeline(pipeline, storage, servers);
    const producer = start(bin, ['produce', '--from', input, '--to', `kafka://${servers}/events`, '--rate',
      String(rate), '--lines-per-file', '500', '--key', 'id']);
    let producerExit = null;
    producer.exited.then((r) => { producerExit = r; });

    let killed = 0;
    const deadline = Date.now() + 120000;
    while (killed < kills || producerExit === null) {
      if (Date.now() > deadline) fail(`gave up after ${killed} kills: the producer or the pipeline is stuck`);
      const child = start(bin, ['run', pipeline]);
      const delay = minDelay + random() * (maxDelay - minDelay);
      const res = await Promise.race([child.exited, sleep(delay).then(() => null)]);
      if (res !== null) fail(`the continuous pipeline exited by itself (${res.code ?? res.signal}):\n${child.output.slice(-3000)}`);
      child.kill('SIGKILL');
      const r = await child.exited;
      if (r.signal === 'SIGKILL') ++killed;
    }
    if (producerExit.code !== 0) fail(`lakepipe produce exited with ${producerExit.code ?? producerExit.signal}:\n${producer.output}`);
    runOk(bin, ['run', pipeline, '--once']);  // drain what the killed runs left

    // The reference: the same topic read by a pipeline that was never killed.
    const refPipeline = join(work, 'ref');
    const refStorage = join(work, 'ref-storage');
    writePipeline(refPipeline, refStorage, servers);
    runOk(bin, ['run', refPipeline, '--once']);

    const duck = await Duck.open();
    const counts = await checkTables(duck, storage);
    const ours = parquetSource(join(storage, 'bronze'));
    const ref = parquetSource(join(refStorage, 'bronze'));
    if (ours === null || ref === null) fail('bronze has no data files');
    const [stats] = await duck.rows(
      `SELECT count(*)::BIGINT AS n, count(DISTINCT (partition, "offset"))::BIGINT AS coords,
              count(DISTINCT json_extract(v, '$.id')::BIGINT)::BIGINT AS ids,
              min(json_extract(v, '$.id')::BIGINT)::BIGINT AS lo, max(json_extract(v, '$.id')::BIGINT)::BIGINT AS hi,
              count(*) FILTER (WHERE k <> json_extract(v, '$.id')::VARCHAR)::BIGINT AS bad_keys FROM ${ours}`);
    const n = Number(stats.n);
    if (n !== rows || Number(stats.coords) !== rows || Number(stats.ids) !== rows || Number(stats.lo) !== 0 ||
        Number(stats.hi) !== rows - 1 || Number(stats.bad_keys) !== 0) {
      fail(`bronze: ${JSON.stringify(stats)}; expected ${rows} rows, coordinates and ids 0..${rows - 1} with their keys`);
    }
    const [diff] = await duck.rows(
      `SELECT (SELECT count(*) FROM (SELECT partition, "offset", k, v FROM ${ours} EXCEPT ALL
                                     SELECT partition, "offset", k, v FROM ${ref}))::BIGINT AS extra,
              (SELECT count(*) FROM (SELECT partition, "offset", k, v FROM ${ref} EXCEPT ALL
                                     SELECT partition, "offset", k, v FROM ${ours}))::BIGINT AS missing`);
    if (Number(diff.extra) !== 0 || Number(diff.missing) !== 0) {
      fail(`bronze differs from the never-killed read of the topic: ${JSON.stringify(diff)} (kept ${work})`);
    }
    duck.close();
    console.log(`kafka_kill (seed ${initialSeed}): ${killed} SIGKILLs while ${rows} messages were produced at ${rate}/s ` +
      `over 4 partitions; bronze holds each (partition, offset) once with the topic's value; ` +
      `${Object.keys(counts).length} tables contiguous and readable; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    broker.kill('SIGTERM');
    await broker.exited;
  }
  removeDir(work);
});
