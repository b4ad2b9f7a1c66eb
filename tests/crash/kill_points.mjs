// Kill-point crash test (docs/crash-testing.md): the orders pipeline (a copy of
// examples/orders whose Bronze checkpoints its Delta log at every commit) run in two updates
// (two files, then a third) is traced once with LAKEPIPE_KILL_TRACE to list the kill
// points each update passes. Then, for each (update, point, occurrence) — all first
// occurrences, then later ones spread evenly, up to --max-cases and while the time budget
// (--budget-seconds, 30) lasts — a fresh storage folder
// replays the earlier updates, runs the update with LAKEPIPE_KILL_AT=point:n (it must die
// by SIGKILL), runs it again without, runs the remaining updates, and every table must
// equal the reference run's row for row (Bronze without its ingestion_time). Every table's
// Delta versions must be contiguous and every live `add` readable by DuckDB.
//
// Then the same in continuous mode (see continuousPhase below).
//
// With --power-loss every killed run is journaled (LAKEPIPE_CRASH_JOURNAL) and, after the
// kill, `lakepipe crash power-loss` drops what it had not fsynced (common/crash_journal.h),
// as a power cut at that moment would; one more case cuts the power after each update
// completed. This finds a missing fsync, which a SIGKILL alone cannot.
//
// With --io-faults there are no kills: each update's file system operations are counted
// (LAKEPIPE_FAULT_AT=0), and for N spread over 1..count (all of them with a large
// --max-cases) the update runs with its N-th operation failing (ENOSPC, EIO or a short
// write, in turn). It must end with an error naming the path (or succeed, when the failed
// step was one it can do without), leave every table readable and contiguous, and the
// next run must bring the tables to the reference.
//
// Usage: node tests/crash/kill_points.mjs [--bin build/lakepipe] [--max-cases N] [--rows N]
//        [--budget-seconds S] [--power-loss | --io-faults]
import {
  EXAMPLE, Duck, argValue, cutPower, journalEnv, killAt, parquetSource, powerLoss, binary, checkOrdersAgainstInput, checkTables,
  existsSync, expectTablesEqualReference, referenceRows, fail, join, orderSets, readFileSync, removeDir, runOk, runSync, runTest, sleep, start,
  statSync, tempDir,
} from './lib.mjs';
import { cpSync, linkSync, mkdirSync, writeFileSync } from 'node:fs';

const bin = binary();
const maxCases = Number(argValue('--max-cases', process.env.LAKEPIPE_KILL_CASES || '80'));
const rows = Number(argValue('--rows', '1500'));
// --seen-keys-memory V: the copy's configuration sets lakepipe.seenKeysMemory to V, e.g. 1
// (bytes), so that Silver's DISTINCT spills its keys to runs in every batch
// (docs/checkpoint.md, "Memory budget") and the kills fall between spills and commits.
const seenKeysMemory = argValue('--seen-keys-memory', '');
// Later occurrences stop being started after this many seconds; first occurrences of every
// point always run.
const budgetSeconds = Number(argValue('--budget-seconds', process.env.LAKEPIPE_KILL_BUDGET || '30'));
// Columns that legitimately differ between two runs over the same input.
const VOLATILE = ['ingestion_time'];

const ioFaults = process.argv.includes('--io-faults');

runTest(powerLoss ? 'power_loss' : ioFaults ? 'io_faults' : 'kill_points', async () => {
  const started = Date.now();
  const work = tempDir('lakepipe-killpoints-');
  const inputs = join(work, 'inputs');
  mkdirSync(inputs);
  for (const [i, seed] of [[1, 31], [2, 32], [3, 33]]) {
    runOk(bin, ['generate', 'orders', '--rows', String(rows), '--seed', String(seed), '--out', join(inputs, `orders-${i}.csv`)]);
  }
  // A copy of the example whose Bronze writes a Delta checkpoint at every commit, so that
  // the checkpoint path (and its kill points, log cleanup's among them) is part of the
  // protocol under test, and is compacted from two small files on (the second update's end
  // compacts it), so that auto-compaction is too.
  const pipelineDir = join(work, 'pipeline');
  cpSync(EXAMPLE, pipelineDir, { recursive: true });
  const bronzeSql = readFileSync(join(pipelineDir, 'bronze.sql'), 'utf8');
  const marker = 'CREATE OR REFRESH STREAMING TABLE bronze_orders\n';
  if (!bronzeSql.includes(marker)) fail(`examples/orders/bronze.sql no longer starts its table with "${marker.trim()}"`);
  writeFileSync(join(pipelineDir, 'bronze.sql'),
    bronzeSql.replace(marker,
      `${marker}TBLPROPERTIES ('delta.checkpointInterval' = '1', 'lakepipe.autoCompact.minNumFiles' = '2')\n`));

  // Every flow keeps one batch (minBatchesToRetain 1), so the second update's batch compacts
  // each flow's checkpoint folder (docs/checkpoint.md, "Retention"): the file source's
  // segments and compact file, and the deletion of older plans and records, are among the
  // kill points (and, with --power-loss, power cuts).
  const yaml = readFileSync(join(pipelineDir, 'pipeline.yaml'), 'utf8');
  if (!yaml.includes('\nconfiguration:\n')) fail('examples/orders/pipeline.yaml has no configuration: section');
  const settings = ['  spark.sql.streaming.minBatchesToRetain: "1"',
    ...(seenKeysMemory ? [`  lakepipe.seenKeysMemory: "${seenKeysMemory}"`] : [])];
  writeFileSync(join(pipelineDir, 'pipeline.yaml'),
    yaml.replace('\nconfiguration:\n', `\nconfiguration:\n${settings.join('\n')}\n`));

  // Update u sees the files of updates 0..u: two files first, then a third.
  const updateFiles = [['orders-1.csv', 'orders-2.csv'], ['orders-3.csv']];

  // A case folder: landing (hard links to the inputs, added update by update) and storage.
  const makeCase = (name) => {
    const dir = join(work, name);
    mkdirSync(join(dir, 'landing'), { recursive: true });
    return { landing: join(dir, 'landing'), storage: join(dir, 'storage'), dir };
  };
  const runUpdate = (c, u, env = {}) => {
    for (const f of updateFiles[u]) {
      if (!existsSync(join(c.landing, f))) linkSync(join(inputs, f), join(c.landing, f));
    }
    return runSync(bin, ['run', pipelineDir, '--once', ...orderSets(c.landing, c.storage)], env);
  };
  const mustSucceed = (r, what) => {
    if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  };

  // The reference run, traced (and its file system operations counted).
  const ref = makeCase('reference');
  const traces = [];
  const operations = [];
  for (let u = 0; u < updateFiles.length; ++u) {
    const trace = join(work, `trace-${u}.txt`);
    const r = runUpdate(ref, u, { LAKEPIPE_KILL_TRACE: trace, ...(ioFaults ? { LAKEPIPE_FAULT_AT: '0' } : {}) });
    mustSucceed(r, `reference update ${u}`);
    if (ioFaults) {
      const m = /file system operations: (\d+)/.exec(r.stderr);
      if (!m) fail(`reference update ${u} did not count its file system operations:\n${r.stderr.slice(-2000)}`);
      operations.push(Number(m[1]));
    }
    const names = existsSync(trace) ? readFileSync(trace, 'utf8').split('\n').filter(Boolean) : [];
    traces.push(names);
  }
  const allHits = traces.flat();
  if (allHits.length === 0) {
    fail(`no kill point was hit: the binary ${bin} has none on the commit path (build with ` +
      `LAKEPIPE_KILL_POINTS=ON, the default of the test build)`);
  }

  // Every (update, point, occurrence), first occurrences first.
  const firsts = [];
  const laters = [];
  traces.forEach((names, u) => {
    const seen = new Map();
    for (const name of names) {
      const n = (seen.get(name) || 0) + 1;
      seen.set(name, n);
      (n === 1 ? firsts : laters).push({ update: u, point: name, n });
    }
  });
  let cases = firsts.slice(0, maxCases);
  const room = maxCases - cases.length;
  if (room > 0 && laters.length > 0) {
    const step = laters.length / Math.min(room, laters.length);
    for (let i = 0; i < Math.min(room, laters.length); ++i) cases.push(laters[Math.floor(i * step)]);
  }
  const distinctPoints = new Set(allHits).size;
  console.log(`kill_points: ${allHits.length} hits of ${distinctPoints} distinct points in ${updateFiles.length} updates; ` +
    `${firsts.length + laters.length} (update, point, occurrence) cases, running ${cases.length}`);

  const duck = await Duck.open();
  const reference = await referenceRows(duck, ref.storage, VOLATILE, ref.landing);
  await checkTables(duck, ref.storage);
  await checkOrdersAgainstInput(duck, ref.storage, join(ref.landing, '*.csv'));

  if (ioFaults) {
    await faultPhase();
    duck.close();
    removeDir(work);
    return;
  }

  let done = 0;
  let skipped = 0;
  for (const k of cases) {
    if (k.n > 1 && (Date.now() - started) / 1000 > budgetSeconds) {
      ++skipped;
      continue;
    }
    const label = `update ${k.update}, ${k.point}:${k.n}${powerLoss ? ', power cut' : ''}`;
    const c = makeCase(`case-${done}`);
    for (let u = 0; u < k.update; ++u) mustSucceed(runUpdate(c, u), `${label}: update ${u} before the kill`);
    killAt(bin, `${k.point}:${k.n}`, join(c.dir, 'journal'), (env) => runUpdate(c, k.update, env));
    mustSucceed(runUpdate(c, k.update), `${label}: the restart`);
    for (let u = k.update + 1; u < updateFiles.length; ++u) mustSucceed(runUpdate(c, u), `${label}: update ${u}`);

    await expectReferenceTables(c, label);
    ++done;
  }
  console.log(`kill_points: ${done} crashes${powerLoss ? ' with power cuts' : ''} at ` +
    `${new Set(cases.map((k) => k.point)).size} of ${distinctPoints} points, ` +
    `each restarted to the reference tables, in ${((Date.now() - started) / 1000).toFixed(1)} s` +
    (skipped ? ` (${skipped} later occurrences left out by the ${budgetSeconds} s budget)` : ''));

  if (powerLoss) {
    // The power goes after an update completed: what it acknowledged must be durable.
    const c = makeCase('after-updates');
    for (let u = 0; u < updateFiles.length; ++u) {
      mustSucceed(runUpdate(c, u, journalEnv(join(c.dir, 'journal'))), `update ${u} (journaled)`);
      cutPower(bin, join(c.dir, 'journal'), `after update ${u}`);
      mustSucceed(runUpdate(c, u), `update ${u} again after the power cut`);
    }
    await expectReferenceTables(c, 'power cuts after each completed update');
    console.log('kill_points: a power cut after each completed update left the reference tables');
  } else {
    await continuousPhase();
  }
  duck.close();
  removeDir(work);

  // --io-faults: an injected failure at the N-th file system operation of an update.
  async function faultPhase() {
    const kinds = ['enospc', 'eio', 'short'];
    const faultCases = [];
    operations.forEach((count, u) => {
      const n = Math.min(count, Math.max(1, Math.floor(maxCases / operations.length)));
      for (let i = 0; i < n; ++i) faultCases.push({ update: u, at: 1 + Math.floor((i * count) / n) });
    });
    let failed = 0;
    const absorbed = [];
    let ran = 0;
    for (const [i, k] of faultCases.entries()) {
      if (i > 0 && (Date.now() - started) / 1000 > budgetSeconds) break;
      const kind = kinds[i % kinds.length];
      const label = `update ${k.update}, operation ${k.at} of ${operations[k.update]} failing with ${kind}`;
      const c = makeCase(`fault-${i}`);
      for (let u = 0; u < k.update; ++u) mustSucceed(runUpdate(c, u), `${label}: update ${u} before the fault`);
      const r = runUpdate(c, k.update, { LAKEPIPE_FAULT_AT: `${k.at}:${kind}` });
      const output = r.stdout + r.stderr;
      const fired = /lakepipe: the injected fault fired/.test(r.stderr);
      if (r.signal || (r.status !== 0 && r.status !== 1)) {
        fail(`${label}: expected a clean exit (0, or 1 with an error), got ${r.status ?? r.signal}:\n${output.slice(-2000)}`);
      }
      if (!fired) fail(`${label}: the fault was not injected (the run made fewer operations than counted):\n${output.slice(-1500)}`);
      if (r.status === 1) {
        // The error must reach the user with the path of the failed operation.
        if (!/(error|failed).*injected fault on \//.test(output)) {
          fail(`${label}: the run failed without an error naming the path:\n${output.slice(-2000)}`);
        }
        ++failed;
      } else {
        // Absorbed (a step the update can do without): never in silence. The run's output
        // or a WARN event of its event log must name the failed path.
        let said = output.split('\n').find((l) => /injected fault on/.test(l) && !/^lakepipe: the injected/.test(l));
        if (!said) {
          const events = parquetSource(join(c.storage, '_event_log'));
          const warned = events === null ? [] : await duck.rows(
            `SELECT event_type, message FROM ${events} WHERE level = 'WARN' AND message LIKE '%injected fault on%'`);
          if (warned.length > 0) said = `event ${warned[0].event_type}: ${warned[0].message}`;
        }
        if (!said) fail(`${label}: the update succeeded and said nothing of the failed operation:\n${output.slice(-1500)}`);
        absorbed.push(`${label}: ${said.trim().slice(0, 300)}`);
      }
      try {
        await checkTables(duck, c.storage);  // nothing half-committed is visible
      } catch (e) {
        if (e.crashTestFailure) fail(`${label}: right after the fault: ${e.message} (folder kept: ${c.dir})`);
        throw e;
      }
      mustSucceed(runUpdate(c, k.update), `${label}: the run after the fault`);
      for (let u = k.update + 1; u < updateFiles.length; ++u) mustSucceed(runUpdate(c, u), `${label}: update ${u}`);
      await expectReferenceTables(c, label);
      ++ran;
    }
    console.log(`io_faults: ${ran} of ${faultCases.length} injected faults (updates of ${operations.join(' and ')} ` +
      `file system operations): ${failed} ended in an error naming the path, ${absorbed.length} were absorbed by the ` +
      `update; every table readable after each, and the next run reached the reference tables, in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const a of absorbed) console.log(`  absorbed: ${a}`);
  }

  // Every table of case `c` equals the reference run's, row for row.
  async function expectReferenceTables(c, label) {
    try {
      await expectTablesEqualReference(duck, c.storage, reference, VOLATILE, c.landing);
    } catch (e) {
      if (e.crashTestFailure) fail(`after a kill at ${label} and a restart: ${e.message} (folder kept: ${c.dir})`);
      throw e;
    }
    removeDir(c.dir);
  }

  // Continuous mode (`run DIR` without --once) over all three files: traced once until it
  // goes quiet, then killed at the first occurrence of each point it passes, drained with
  // `run --once`, and compared with the same reference (the tables' contents do not depend
  // on how the input was split into batches).
  async function continuousPhase() {
    const phaseStart = Date.now();
    const allFiles = updateFiles.flat();
    const startContinuous = (c, env) => {
      for (const f of allFiles) linkSync(join(inputs, f), join(c.landing, f));
      return start(bin, ['run', pipelineDir, ...orderSets(c.landing, c.storage)], env);
    };
    const traced = makeCase('continuous-trace');
    const trace = join(work, 'trace-continuous.txt');
    const child = startContinuous(traced, { LAKEPIPE_KILL_TRACE: trace });
    // Quiet: the trace has not grown for 1.5 s (and the process is still running).
    let size = -1;
    let quietSince = Date.now();
    const deadline = Date.now() + 60000;
    while (Date.now() - quietSince < 1500) {
      const exited = await Promise.race([child.exited, sleep(100).then(() => null)]);
      if (exited) {
        if (/continuous mode is not built yet/.test(child.output)) {
          console.log('kill_points: this binary has no continuous mode; the continuous phase is skipped');
          return;
        }
        fail(`the continuous pipeline exited with ${exited.code ?? exited.signal}:\n${child.output.slice(-2000)}`);
      }
      const now = existsSync(trace) ? statSync(trace).size : 0;
      if (now !== size) {
        size = now;
        quietSince = Date.now();
      }
      if (Date.now() > deadline) fail('the continuous pipeline never went quiet (its trace kept growing for 60 s)');
    }
    child.kill('SIGINT');
    const stopped = await child.exited;
    if (stopped.code !== 0) fail(`the continuous pipeline did not stop cleanly on SIGINT: ${stopped.code ?? stopped.signal}`);
    const points = [...new Set(readFileSync(trace, 'utf8').split('\n').filter(Boolean))];
    if (points.length === 0) fail('the continuous run passed no kill point');
    let n = 0;
    for (const point of points) {
      const label = `continuous, ${point}:1`;
      const c = makeCase(`continuous-${n++}`);
      const victim = startContinuous(c, { LAKEPIPE_KILL_AT: `${point}:1` });
      const r = await Promise.race([victim.exited, sleep(30000).then(() => null)]);
      if (r === null) {
        victim.kill('SIGKILL');
        fail(`${label}: the point was not reached within 30 s`);
      }
      if (r.signal !== 'SIGKILL') fail(`${label}: expected death by SIGKILL, got ${r.code ?? r.signal}:\n${victim.output.slice(-2000)}`);
      mustSucceed(runSync(bin, ['run', pipelineDir, '--once', ...orderSets(c.landing, c.storage)]), `${label}: the restart`);
      await expectReferenceTables(c, label);
    }
    console.log(`kill_points: continuous mode: ${points.length} crashes, one at each point it passes, each restarted ` +
      `to the reference tables, in ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`);
  }
});
