// kill -9 crash test (docs/crash-testing.md): `lakepipe produce` drops order files into a
// landing folder at a steady rate while the orders pipeline runs; the pipeline is killed
// with SIGKILL at random moments and restarted, at least --kills times. When the producer
// has finished, `run --once` drains what is left, and then:
//   - every input line is in bronze_orders exactly once (by source file and content);
//   - silver_orders, gold_revenue_by_country and gold_kpis equal DuckDB's recomputation
//     over all the landed CSV files;
//   - every table's Delta versions are contiguous and every live `add` is readable.
// The pipeline runs continuously (`lakepipe run DIR`); a binary without continuous mode is
// driven as a loop of `run --once` processes instead (said on the first line of output).
//
// Usage: node tests/crash/kill9.mjs [--bin B] [--kills N] [--rows N] [--rate LINES_PER_S]
//        [--lines-per-file N] [--seed S] [--min-delay-ms 100] [--max-delay-ms 1500]
import {
  EXAMPLE, Duck, argValue, binary, checkOrdersAgainstInput, checkTables, existsSync, fail, join, orderSets, readdirSync,
  removeDir, runOk, runTest, sleep, start, tempDir,
} from './lib.mjs';

const bin = binary();
const kills = Number(argValue('--kills', '5'));
const rows = Number(argValue('--rows', '6000'));
const rate = Number(argValue('--rate', '1500'));
const linesPerFile = Number(argValue('--lines-per-file', '100'));
// Continuous mode: each run is killed after a random delay in [min, max] ms.
const minDelay = Number(argValue('--min-delay-ms', '100'));
const maxDelay = Number(argValue('--max-delay-ms', '1500'));
let seed = Number(argValue('--seed', String(Date.now() % 100000)));

// A small seeded generator, so that a failing run can be repeated with --seed.
function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

runTest('kill9', async () => {
  const started = Date.now();
  const initialSeed = seed;
  const work = tempDir('lakepipe-kill9-');
  const input = join(work, 'input.csv');
  const landing = join(work, 'landing');
  const storage = join(work, 'storage');
  runOk(bin, ['generate', 'orders', '--rows', String(rows), '--seed', '5', '--out', input]);

  const producer = start(bin, ['produce', '--from', input, '--to', landing, '--rate', String(rate),
    '--lines-per-file', String(linesPerFile)]);
  let producerExit = null;
  producer.exited.then((r) => { producerExit = r; });

  // A pipeline started before the first file lands has nothing to read (`run --once`
  // says so as an error); the test starts it once there is input.
  while (!existsSync(landing) || readdirSync(landing).filter((n) => !n.startsWith('.')).length === 0) {
    if (producerExit !== null) fail(`lakepipe produce exited before dropping a file:\n${producer.output}`);
    await sleep(20);
  }
  const sets = orderSets(landing, storage);
  let mode = 'continuous';
  let killed = 0;
  let cleanExits = 0;
  const deadline = Date.now() + Math.max(120000, (rows / rate) * 4000 + kills * 8000);
  while (killed < kills || producerExit === null) {
    if (Date.now() > deadline) fail(`gave up after ${killed} kills: the producer or the pipeline is stuck`);
    const args = mode === 'continuous' ? ['run', EXAMPLE, ...sets] : ['run', EXAMPLE, '--once', ...sets];
    const child = start(bin, args);
    // Continuous: kill between --min-delay-ms and --max-delay-ms after the start; a
    // `run --once` loop is killed earlier, as an update over a few files takes a few hundred ms.
    const delay = mode === 'continuous' ? minDelay + random() * (maxDelay - minDelay) : 20 + random() * 500;
    const res = await Promise.race([child.exited, sleep(delay).then(() => null)]);
    if (res === null) {
      child.kill('SIGKILL');
      const r = await child.exited;
      if (r.signal === 'SIGKILL') ++killed;
      continue;
    }
    if (mode === 'continuous' && res.code !== 0 && /continuous mode is not built yet/.test(child.output)) {
      mode = 'once-loop';
      console.log('kill9: this binary has no continuous mode; killing a loop of `run --once` instead');
      continue;
    }
    if (res.code !== 0) fail(`${args.join(' ')} exited with ${res.code ?? res.signal}:\n${child.output.slice(-3000)}`);
    if (mode === 'continuous') fail(`the continuous pipeline exited by itself:\n${child.output.slice(-3000)}`);
    ++cleanExits;
  }
  if (producerExit.code !== 0) fail(`lakepipe produce exited with ${producerExit.code ?? producerExit.signal}:\n${producer.output}`);

  runOk(bin, ['run', EXAMPLE, '--once', ...sets]);  // drain what the killed runs left
  const duck = await Duck.open();
  const counts = await checkTables(duck, storage);
  const result = await checkOrdersAgainstInput(duck, storage, join(landing, '*.csv'));
  duck.close();
  if (result.bronze !== rows) fail(`bronze_orders has ${result.bronze} rows, ${rows} lines were produced`);
  console.log(`kill9 (${mode}, seed ${initialSeed}): ${killed} SIGKILLs and ${cleanExits} clean exits while ` +
    `${rows} lines were produced at ${rate}/s; bronze ${result.bronze} lines once each, silver ${result.silver} rows, quarantine ` +
    `${result.quarantined} rows and gold (${result.countries} countries) equal DuckDB; ${Object.keys(counts).length} tables contiguous and readable; ` +
    `${((Date.now() - started) / 1000).toFixed(1)} s`);
  removeDir(work);
});
