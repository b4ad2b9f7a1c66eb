// The Kafka sink exactly once under kill -9 (docs/kafka.md "Sink", docs/crash-testing.md):
// `lakepipe kafka serve` holds topics `events` (the input) and `out` (the sink's topic), 4
// partitions each. A pipeline reads `events` into Bronze and sends Bronze's
// new rows to `out` (publish.kafka, key k).
//   1. While `lakepipe produce` sends the first --rows messages, a continuous `run` is
//      SIGKILLed at random moments, at least --kills times (the sink runs beside the
//      pipeline, so kills land before, during and after its produce, flush and progress
//      write).
//   2. Then, for each kill point of the sink (kafka_sink_produced,
//      kafka_sink_progress_written, kafka_sink_flushed), --chunk more messages are produced
//      and `run --once` is run with LAKEPIPE_KILL_AT at that point: it must die by SIGKILL
//      there.
//   3. `run --once` drains what is left (and must report the last chunk, flushed before
//      the kill, as already in the topic); `lakepipe kafka consume` (a plain consumer)
//      dumps `out`, and DuckDB checks that `out` holds every Bronze row exactly once: the
//      same (partition, offset, k, v) rows both ways (EXCEPT ALL), each message keyed by
//      its k, each (version, seq) header pair once, and Bronze holds every input id once.
//
// Usage: node tests/crash/kafka_sink_kill.mjs [--bin B] [--kills N] [--rows N] [--rate N]
//        [--chunk N] [--seed S]
import { writeFileSync, mkdirSync } from 'node:fs';
import {
  Duck, argValue, binary, checkTables, fail, join, parquetSource, removeDir, runOk, runSync, runTest, sleep, sqlString,
  start, tempDir,
} from './lib.mjs';

const bin = binary();
const kills = Number(argValue('--kills', '8'));
const rows = Number(argValue('--rows', '20000'));
const rate = Number(argValue('--rate', '5000'));
const chunk = Number(argValue('--chunk', '2500'));
const minDelay = Number(argValue('--min-delay-ms', '300'));
const maxDelay = Number(argValue('--max-delay-ms', '1500'));
let seed = Number(argValue('--seed', String(Date.now() % 100000)));

function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

function writeInput(path, from, to) {
  const lines = ['id,payload'];
  for (let i = from; i < to; ++i) lines.push(`${i},p${i}`);
  writeFileSync(path, lines.join('\n') + '\n');
}

runTest('kafka_sink_kill', async () => {
  const started = Date.now();
  const initialSeed = seed;
  const work = tempDir('lakepipe-kafka-sink-kill-');
  const broker = start(bin, ['kafka', 'serve', '--partitions', '4', '--topics', 'events,out']);
  try {
    let servers = null;
    for (let i = 0; i < 200 && servers === null; ++i) {
      const m = /^bootstrap\.servers=(\S+)$/m.exec(broker.output);
      if (m) servers = m[1];
      else await sleep(25);
    }
    if (servers === null) fail(`lakepipe kafka serve printed no bootstrap.servers line:\n${broker.output}`);

    const pipeline = join(work, 'p');
    const storage = join(work, 'storage');
    mkdirSync(pipeline, { recursive: true });
    writeFileSync(join(pipeline, 'pipeline.yaml'),
      `name: kafka_sink_kill\nstorage: ${storage}\nlibraries: [bronze.sql]\nconfiguration: {kafka: '${servers}'}\n` +
      "publish:\n  kafka:\n    bootstrap_servers: '${kafka}'\n    tables: [{table: bronze, topic: out, key: k}]\n");
    writeFileSync(join(pipeline, 'bronze.sql'),
      'CREATE OR REFRESH STREAMING TABLE bronze AS\n' +
      'SELECT partition, offset, CAST(key AS STRING) AS k, CAST(value AS STRING) AS v\n' +
      "FROM STREAM read_kafka(bootstrapServers => '${kafka}', subscribe => 'events',\n" +
      "  startingOffsets => 'earliest', maxOffsetsPerTrigger => 3000);\n");

    // 1. Random SIGKILLs of a continuous run while messages arrive.
    const input = join(work, 'events.csv');
    writeInput(input, 0, rows);
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

    // 2. A kill at each step of the sink's protocol.
    let next = rows;
    const points = ['kafka_sink_produced', 'kafka_sink_progress_written', 'kafka_sink_flushed'];
    for (const point of points) {
      const part = join(work, `chunk-${next}.csv`);
      writeInput(part, next, next + chunk);
      next += chunk;
      runOk(bin, ['produce', '--from', part, '--to', `kafka://${servers}/events`, '--rate', '1000000', '--key', 'id']);
      const r = runSync(bin, ['run', pipeline, '--once'], { LAKEPIPE_KILL_AT: point });
      if (r.signal !== 'SIGKILL') {
        fail(`run --once with LAKEPIPE_KILL_AT=${point} did not die there (${r.status ?? r.signal}):\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`);
      }
    }
    // 3. Drain, then compare the topic with Bronze.
    const drained = runOk(bin, ['run', pipeline, '--once']);
    // The last kill came after a flush, before the progress write: the drain must find
    // those messages in the topic rather than send them again.
    const resent = /publish bronze -> kafka topic out: .* \((\d+) already in the topic/.exec(drained);
    if (!resent || Number(resent[1]) !== chunk) {
      fail(`the run after a kill at kafka_sink_flushed did not report the ${chunk} messages already in the topic:\n${drained}`);
    }
    const total = next;
    const dump = runSync(bin, ['kafka', 'consume', '--bootstrap-servers', servers, '--topic', 'out']);
    if (dump.status !== 0) fail(`kafka consume failed: ${dump.stderr}`);
    const dumpFile = join(work, 'out.jsonl');
    writeFileSync(dumpFile, dump.stdout);

    const duck = await Duck.open();
    await checkTables(duck, storage);
    const bronze = parquetSource(join(storage, 'bronze'));
    if (bronze === null) fail('bronze has no data files');
    await duck.rows(`CREATE TABLE out AS SELECT key, value::VARCHAR AS value,
        json_extract_string(headers, '$."lakepipe.version"')::BIGINT AS version,
        json_extract_string(headers, '$."lakepipe.seq"')::BIGINT AS seq
      FROM read_json(${sqlString(dumpFile)}, format = 'newline_delimited', columns = {
        partition: 'INTEGER', "offset": 'BIGINT', key: 'VARCHAR', value: 'VARCHAR', headers: 'JSON'})`);
    await duck.rows(`CREATE TABLE sent AS SELECT key, version, seq,
        json_extract(value, '$.partition')::INTEGER AS partition, json_extract(value, '$.offset')::BIGINT AS "offset",
        json_extract_string(value, '$.k') AS k, json_extract_string(value, '$.v') AS v FROM out`);
    const [stats] = await duck.rows(`SELECT
        (SELECT count(*) FROM ${bronze})::BIGINT AS bronze_rows,
        (SELECT count(DISTINCT json_extract(v, '$.id')::BIGINT) FROM ${bronze})::BIGINT AS bronze_ids,
        (SELECT count(*) FROM sent)::BIGINT AS messages,
        (SELECT count(DISTINCT (version, seq)) FROM sent)::BIGINT AS version_seq,
        (SELECT count(*) FROM sent WHERE key IS DISTINCT FROM k)::BIGINT AS bad_keys,
        (SELECT count(*) FROM (SELECT partition, "offset", k, v FROM sent EXCEPT ALL
                               SELECT partition, "offset", k, v FROM ${bronze}))::BIGINT AS extra,
        (SELECT count(*) FROM (SELECT partition, "offset", k, v FROM ${bronze} EXCEPT ALL
                               SELECT partition, "offset", k, v FROM sent))::BIGINT AS missing`);
    duck.close();
    const s = Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, Number(v)]));
    if (s.bronze_rows !== total || s.bronze_ids !== total) fail(`bronze: ${JSON.stringify(s)}; expected ${total} ids once each`);
    if (s.messages !== total || s.version_seq !== total || s.bad_keys !== 0 || s.extra !== 0 || s.missing !== 0) {
      fail(`topic out is not bronze exactly once: ${JSON.stringify(s)} (kept ${work})`);
    }
    console.log(`kafka_sink_kill (seed ${initialSeed}): ${killed} SIGKILLs of a continuous run plus kills at ` +
      `${points.join(', ')}; topic out holds each of bronze's ${total} rows exactly once, keyed by k; ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    broker.kill('SIGTERM');
    await broker.exited;
  }
  removeDir(work);
});

