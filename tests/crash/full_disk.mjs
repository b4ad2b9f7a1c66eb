// A real full disk (issue 16, docs/crash-testing.md "A real full disk"): the orders
// pipeline's storage folder is a small tmpfs that another file (the ballast) has nearly
// filled, so the kernel itself answers ENOSPC wherever the run happens to write — a data
// file, a Delta commit, a checkpoint of a flow, RocksDB's WAL or table files, the event log.
// Injected faults (kill_points.mjs --io-faults) cannot reach RocksDB's own writes; this can.
//
// For each amount of free space (spread from almost nothing to almost what the two updates
// need), on a fresh tmpfs: the two updates (`run --once`, files 1-2 then file 3) run until
// one fails. A failure must exit 1 with an error that names a path under the tmpfs and says
// the device is full, and leave every table readable with contiguous versions (nothing
// half-committed visible). Then the ballast is deleted (space freed) and the updates run
// again: every table must equal a reference run's on an ordinary disk, row for row, and
// DuckDB's recomputation from the input (every line exactly once).
//
// Mounting needs privileges: as root the test runs in a private mount namespace
// (`unshare --mount`), otherwise in a user namespace (`unshare --user --map-root-user
// --mount`) where it may mount a tmpfs; where neither works it exits 77 (skipped) with the
// reason.
//
// Usage: node tests/crash/full_disk.mjs [--bin build/lakepipe] [--rows 3000] [--cases 6]
//
// Its first run found that RocksDB (7.8) aborted the process on a full disk: its info log
// (LOG) failed to write, and the next message to it hit an assertion. State DBs now keep
// no info log (src/state/rocks_util.cc).
import { spawnSync } from 'node:child_process';
import { cpSync, linkSync, mkdirSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import {
  EXAMPLE, Duck, argValue, binary, checkOrdersAgainstInput, checkTables, expectTablesEqualReference, referenceRows,
  existsSync, fail, join, orderSets, readFileSync, removeDir, runOk, runSync, runTest, tempDir,
} from './lib.mjs';

const IN_NAMESPACE = '--in-mount-namespace';
const SKIP = 77;

if (!process.argv.includes(IN_NAMESPACE)) {
  // Re-run this script in a mount namespace of its own, so that its tmpfs mounts vanish
  // with it whatever happens.
  const isRoot = process.getuid && process.getuid() === 0;
  const attempts = isRoot ? [['--mount', '--propagation', 'private']] : [['--user', '--map-root-user', '--mount']];
  const reasons = [];
  for (const flags of attempts) {
    const probe = spawnSync('unshare', [...flags, 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; r=$?; rmdir "$d"; exit $r'],
      { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      reasons.push(`unshare ${flags.join(' ')} + mount -t tmpfs: ${probe.error ? probe.error.message : (probe.stderr || '').trim() || `exit ${probe.status}`}`);
      continue;
    }
    const r = spawnSync('unshare', [...flags, process.execPath, ...process.argv.slice(1), IN_NAMESPACE], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  console.log(`full_disk: skipped: this machine does not let the test mount a tmpfs (${reasons.join('; ')}); ` +
    'run it as root or where unprivileged user namespaces are allowed');
  process.exit(SKIP);
}

const bin = binary();
const rows = Number(argValue('--rows', '3000'));
const caseCount = Number(argValue('--cases', '6'));
const VOLATILE = ['ingestion_time'];
const updateFiles = [['orders-1.csv', 'orders-2.csv'], ['orders-3.csv']];

function duBytes(dir) {
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    bytes += e.isDirectory() ? duBytes(p) : statSync(p).size;
  }
  return bytes;
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) fail(`${cmd} ${args.join(' ')}: ${r.error ? r.error.message : r.stderr.trim()}`);
}

runTest('full_disk', async () => {
  const started = Date.now();
  const work = tempDir('lakepipe-fulldisk-');
  const inputs = join(work, 'inputs');
  mkdirSync(inputs);
  [[1, 41], [2, 42], [3, 43]].forEach(([i, seed]) => {
    runOk(bin, ['generate', 'orders', '--rows', String(rows), '--seed', String(seed), '--out', join(inputs, `orders-${i}.csv`)]);
  });
  const pipelineDir = join(work, 'pipeline');
  cpSync(EXAMPLE, pipelineDir, { recursive: true });

  const makeCase = (name, storage) => {
    const dir = join(work, name);
    mkdirSync(join(dir, 'landing'), { recursive: true });
    return { dir, landing: join(dir, 'landing'), storage: storage ?? join(dir, 'storage') };
  };
  const runUpdate = (c, u) => {
    for (const f of updateFiles[u]) {
      if (!existsSync(join(c.landing, f))) linkSync(join(inputs, f), join(c.landing, f));
    }
    return runSync(bin, ['run', pipelineDir, '--once', ...orderSets(c.landing, c.storage)]);
  };
  const mustSucceed = (r, what) => {
    if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  };

  // The reference: both updates on an ordinary disk; what they leave on disk sizes the tmpfs.
  const ref = makeCase('reference');
  for (let u = 0; u < updateFiles.length; ++u) mustSucceed(runUpdate(ref, u), `reference update ${u}`);
  const need = duBytes(ref.storage);
  const duck = await Duck.open();
  const reference = await referenceRows(duck, ref.storage, VOLATILE, ref.landing);
  await checkOrdersAgainstInput(duck, ref.storage, join(ref.landing, '*.csv'));

  // Free space from ~0 to ~90% of what the updates leave behind (runs need more than that
  // while they write: temporary files, RocksDB's preallocated WAL).
  const fractions = Array.from({ length: caseCount }, (_, i) => (caseCount === 1 ? 0.3 : 0.9 * (i / (caseCount - 1))));
  const failures = [];
  for (const [i, fraction] of fractions.entries()) {
    const mount = join(work, `tmpfs-${i}`);
    mkdirSync(mount);
    // Room for the ballast plus what the updates need; the ballast takes all but `free`.
    sh('mount', ['-t', 'tmpfs', '-o', `size=${need + (64 << 20)}`, 'tmpfs', mount]);
    const c = makeCase(`case-${i}`, join(mount, 'storage'));
    const label = `case ${i}`;
    try {
      // The ballast leaves `free` bytes (whole pages) for the pipeline.
      const free = Math.floor(need * fraction);
      const st = statfsSync(mount);
      const ballast = join(mount, 'ballast');
      writeFileSync(ballast, Buffer.alloc(Math.max(0, st.bavail * st.bsize - free)));
      const left = statfsSync(mount);
      const freeNow = left.bavail * left.bsize;

      let failedAt = null;
      let failure = '';
      for (let u = 0; u < updateFiles.length && failedAt === null; ++u) {
        const r = runUpdate(c, u);
        const output = r.stdout + r.stderr;
        if (r.status === 0) continue;
        if (r.signal || r.status !== 1) {
          fail(`${label}: update ${u} with ${freeNow} bytes free: expected exit 1 with an error, got ${r.status ?? r.signal}:\n${output.slice(-2000)}`);
        }
        // A clear error: the device is full, and where.
        const line = output.split('\n').find((l) => /No space left on device|no space/i.test(l) && l.includes(mount));
        if (!line) {
          fail(`${label}: update ${u} with ${freeNow} bytes free failed without an error naming a path under ${mount} ` +
            `and the full device:\n${output.slice(-2000)}`);
        }
        failedAt = u;
        failure = line.trim();
      }
      if (failedAt === null) {
        // Enough room after all: the run must then be complete and right.
        failures.push(`${(freeNow / 1024).toFixed(0)} KiB free: no failure`);
      } else {
        failures.push(`${(freeNow / 1024).toFixed(0)} KiB free: update ${failedAt}: ${failure.slice(0, 240)}`);
        if (existsSync(c.storage)) {
          try {
            await checkTables(duck, c.storage);  // nothing half-committed is visible
          } catch (e) {
            if (e.crashTestFailure) fail(`${label}: right after the disk filled up: ${e.message} (folder kept: ${c.dir})`);
            throw e;
          }
        }
        // Space is freed; the same update runs again, then the later ones.
        rmSync(ballast);
        for (let u = failedAt; u < updateFiles.length; ++u) mustSucceed(runUpdate(c, u), `${label}: update ${u} after space was freed`);
      }
      try {
        await expectTablesEqualReference(duck, c.storage, reference, VOLATILE, c.landing);
        await checkOrdersAgainstInput(duck, c.storage, join(c.landing, '*.csv'));
      } catch (e) {
        if (e.crashTestFailure) fail(`${label} (${failures.at(-1)}): after space was freed: ${e.message}`);
        throw e;
      }
    } finally {
      spawnSync('umount', [mount]);
    }
    removeDir(c.dir);
  }
  duck.close();
  const full = failures.filter((f) => !f.endsWith('no failure')).length;
  if (full === 0) fail(`no case ran out of space (the tmpfs was never full): ${failures.join('; ')}`);
  console.log(`full_disk: ${fractions.length} runs on a nearly full tmpfs (the updates leave ${(need / 1024).toFixed(0)} KiB): ` +
    `${full} stopped with ENOSPC naming the path, nothing half-committed visible, and after space was freed ` +
    `every table equalled the reference run, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const f of failures) console.log(`  ${f}`);
  removeDir(work);
});
