// The PostgreSQL change data capture benchmark of issue 12, on a private PostgreSQL
// (Debian's, initdb in a temporary folder, wal_level = logical, loopback):
//
// 1. Latency: the orders application (`lakepipe produce --to postgresql://`) writes
//    --rate orders/s for --seconds, each order, its lines and its outbox event in one
//    transaction, while `lakepipe run` (continuous) reads the outbox through logical
//    replication: Bronze (`STREAM read_postgres_cdc`) -> Silver (the payload parsed with
//    from_json, one row per order line) -> Gold (a streaming table of line totals). Each
//    row carries the transaction's `_commit_timestamp` from PostgreSQL; an order's latency
//    is the commitInfo.timestamp of the Gold version whose file holds its lines minus that
//    commit time (same machine, same clock). Percentiles over orders, computed by DuckDB
//    from Gold's files, mapped to versions through Gold's _delta_log. Gold must hold every
//    order's lines exactly once (compared with PostgreSQL's order_lines).
// 2. Snapshot: a --snapshot-rows table (bigint, text, numeric, timestamptz) is copied by
//    `lakepipe run --once` of a one-table pipeline (the initial snapshot of
//    read_postgres_cdc, consistent with its new slot, written as Delta/Parquet), against
//    `psql -c "\copy (SELECT * FROM t) TO /dev/null"` on the same table (the server's and
//    libpq's limit for moving those rows, with nothing written); rows/s of each and the
//    ratio. The Delta table's row count and sum(id) are checked against PostgreSQL's.
//    lakepipe's peak resident memory (GNU time's maximum RSS) is reported beside it: the
//    snapshot is read by parts of spillRows rows into one Delta commit, so it stays flat
//    as the table grows. --compare-whole also runs it with spillRows above the table's
//    size (one part: the whole snapshot in memory) for the difference.
//
// The server runs with synchronous_commit = off (the benchmark measures lakepipe, not this
// machine's fsync rate; WAL still reaches the walsender within wal_writer_delay = 10ms).
//
// Usage: node bench/pgcdc_bench.mjs --bin B [--rate 5000] [--seconds 20]
//        [--snapshot-rows 5000000] [--only latency|snapshot] [--compare-whole]
//        [--json OUT.json] [--md OUT.md]
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import {
  Duck, argValue, binary, existsSync, fail, join, liveFiles, readDeltaLog, readFileSync, removeDir, runOk, sleep,
  sqlString, start, tempDir,
} from '../tests/crash/lib.mjs';

const bin = binary();
const rate = Number(argValue('--rate', '5000'));
const seconds = Number(argValue('--seconds', '20'));
const snapshotRows = Number(argValue('--snapshot-rows', '5000000'));
const jsonOut = argValue('--json', null);
const mdOut = argValue('--md', null);
const only = argValue('--only', null);
const compareWhole = process.argv.includes('--compare-whole');
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
// CPU seconds a process used (user + system), from /proc/<pid>/stat (clock ticks of 1/100 s).
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A private server in `dir` (as `nobody` when we are root: PostgreSQL refuses root).
async function startPostgres(dir) {
  const binDir = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'], { encoding: 'utf8' }).trim();
  if (!binDir) fail('PostgreSQL is not installed (scripts/install-deps.sh test)');
  const asUser = process.getuid() === 0 ? ['runuser', '-u', 'nobody', '--'] : [];
  const run = (cmd, args) => {
    const argv = [...asUser, join(binDir, cmd), ...args];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', cwd: '/tmp' });
    if (r.status !== 0) fail(`${cmd} failed: ${r.stderr}${r.stdout}`);
  };
  mkdirSync(dir, { recursive: true });
  chmodSync(join(dir, '..'), 0o755);  // a temporary folder is 0700: let the server's user through
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c wal_level=logical -c synchronous_commit=off ` +
               '-c wal_writer_delay=10ms -c max_wal_size=4GB -c shared_buffers=256MB';
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', opts, '-w', 'start']);
  const uri = (db) => `postgresql://postgres@127.0.0.1:${port}/${db}`;
  const psql = (db, sql) => execFileSync('psql', [uri(db), '-v', 'ON_ERROR_STOP=1', '-Atc', sql], { encoding: 'utf8' });
  return { port, uri, psql, stop: () => run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']) };
}

function writePipeline(dir, storage, sql) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'p.sql'), sql);
  writeFileSync(join(dir, 'pipeline.yaml'), `name: pgbench\nstorage: ${storage}\nlibraries: [p.sql]\n` +
                'configuration: {postgres_dsn: ""}\n');
}

const PIPELINE = `CREATE OR REFRESH STREAMING TABLE bronze_outbox AS
SELECT id, event_type, payload, _change_type, _lsn, _commit_timestamp
FROM STREAM read_postgres_cdc(dsn => '\${postgres_dsn}', tableName => 'shop.outbox');

CREATE OR REFRESH STREAMING TABLE silver_lines AS
SELECT o.order_id, line.line_no, line.quantity, line.unit_price, _commit_timestamp
FROM (SELECT from_json(payload, 'order_id BIGINT, lines ARRAY<STRUCT<line_no INT, quantity INT, unit_price DECIMAL(10,2)>>') AS o,
             _commit_timestamp
      FROM STREAM(bronze_outbox) WHERE event_type = 'OrderPlaced' AND _change_type = 'insert') AS parsed
LATERAL VIEW explode(o.lines) exploded AS line;

CREATE OR REFRESH STREAMING TABLE gold_line_totals AS
SELECT order_id, line_no, quantity * unit_price AS line_total, _commit_timestamp
FROM STREAM(silver_lines);
`;

async function gold(duck, tablePath, expr) {
  if (!existsSync(join(tablePath, '_delta_log'))) return null;
  const files = liveFiles(tablePath).map((f) => sqlString(f.path));
  if (files.length === 0) return null;
  return (await duck.rows(`SELECT ${expr} FROM read_parquet([${files.join(',')}])`))[0];
}

async function latency(duck) {
  const work = tempDir('lakepipe-pgbench-lat-');
  const pg = await startPostgres(join(work, 'pg'));
  let pipeline = null;
  try {
    pg.psql('postgres', 'CREATE DATABASE shop');
    const dsn = pg.uri('shop');
    // The schema and the dimensions; one order, in the snapshot.
    runOk(bin, ['produce', '--to', dsn, '--rate', '1000', '--limit', '1']);
    const storage = join(work, 'storage');
    writePipeline(join(work, 'p'), storage, PIPELINE);
    pipeline = start(bin, ['run', join(work, 'p'), '--no-server', '--set', `postgres_dsn=${dsn}`]);
    const goldPath = join(storage, 'gold_line_totals');
    const warmDeadline = Date.now() + 60000;
    while (!existsSync(join(goldPath, '_delta_log'))) {
      if (pipeline.exitCode !== null) fail(`lakepipe run exited:\n${pipeline.output.slice(-3000)}`);
      if (Date.now() > warmDeadline) fail('the pipeline did not create Gold within 60 s');
      await sleep(100);
    }
    const orders = rate * seconds;
    const t0 = Date.now();
    const producer = start(bin, ['produce', '--to', dsn, '--rate', String(rate), '--limit', String(orders),
                                 '--dimension-every', '0']);
    const p = await producer.exited;
    if (p.code !== 0) fail(`lakepipe produce exited with ${p.code ?? p.signal}: ${producer.output.slice(-2000)}`);
    const produceSeconds = (Date.now() - t0) / 1000;
    const expectedLines = Number(pg.psql('shop', 'SELECT count(*) FROM shop.order_lines WHERE order_id > 1'));
    const drainDeadline = Date.now() + 300000;
    for (;;) {
      const g = await gold(duck, goldPath, 'count(*) AS n');
      if (g && Number(g.n) >= expectedLines) break;
      if (pipeline.exitCode !== null) fail(`lakepipe run exited:\n${pipeline.output.slice(-3000)}`);
      if (Date.now() > drainDeadline) fail(`not every order line reached Gold within 300 s (${g?.n} of ${expectedLines})`);
      await sleep(200);
    }
    const endLoad = load();
    const lakepipeCpu = cpuSeconds(pipeline.pid);
    pipeline.kill('SIGINT');
    await Promise.race([pipeline.exited, sleep(30000).then(() => pipeline.kill('SIGKILL'))]);
    pipeline = null;

    // Exactly once: Gold's (order, line) pairs and total equal PostgreSQL's.
    const g = await gold(duck, goldPath, 'count(*) AS n, count(DISTINCT (order_id, line_no)) AS d, sum(line_total)::VARCHAR AS s');
    const theirs = pg.psql('shop', 'SELECT count(*), sum(quantity * unit_price) FROM shop.order_lines WHERE order_id > 1').trim();
    if (`${g.n}|${g.s}` !== theirs || Number(g.d) !== Number(g.n)) {
      fail(`Gold holds ${g.n} lines (${g.d} distinct), total ${g.s}; PostgreSQL ${theirs}`);
    }
    // File -> the commit time of the version that added it.
    const added = [];
    for (const c of readDeltaLog(goldPath)) {
      const ts = c.actions.find((a) => a.commitInfo)?.commitInfo?.timestamp;
      for (const a of c.actions) if (a.add) added.push([sqlString(join(goldPath, decodeURIComponent(a.add.path))), ts]);
    }
    await duck.rows('DROP TABLE IF EXISTS file_commit');
    await duck.rows('CREATE TABLE file_commit (f VARCHAR, ms BIGINT)');
    for (let i = 0; i < added.length; i += 500) {
      await duck.rows(`INSERT INTO file_commit VALUES ${added.slice(i, i + 500).map((r) => `(${r.join(',')})`).join(',')}`);
    }
    const files = liveFiles(goldPath).map((f) => sqlString(f.path)).join(',');
    const [q] = await duck.rows(`
      WITH o AS (
        SELECT order_id, max(fc.ms - epoch_ms(_commit_timestamp)) AS lat, min(epoch_ms(_commit_timestamp)) AS sent
        FROM read_parquet([${files}], filename = true) g JOIN file_commit fc ON fc.f = g.filename
        WHERE order_id > 1 GROUP BY order_id)
      SELECT count(*) AS n, quantile_disc(lat, 0.5) AS p50, quantile_disc(lat, 0.99) AS p99, max(lat) AS max,
             min(sent) AS first, max(sent) AS last FROM o`);
    if (Number(q.n) !== orders) fail(`${q.n} orders traced to a Gold commit, ${orders} were produced`);
    // Whether a micro-batch costs more as its table's history grows: each table's batch
    // durations (the event log's flow_progress, one per batch in continuous mode) by
    // quarter of the versions it reached.
    const batchCost = {};
    const logFiles = existsSync(join(storage, '_event_log', '_delta_log'))
      ? liveFiles(join(storage, '_event_log')).map((f) => sqlString(f.path)) : [];
    if (logFiles.length > 0) {
      const rows = await duck.rows(`
        WITH b AS (
          SELECT table_name AS t, CAST(json_extract(details, '$.table_version') AS BIGINT) AS v,
                 CAST(json_extract(details, '$.duration_ms') AS DOUBLE) AS ms
          FROM read_parquet([${logFiles.join(',')}])
          WHERE event_type = 'flow_progress' AND CAST(json_extract(details, '$.batches') AS BIGINT) = 1),
        q AS (SELECT t, v, ms, ntile(4) OVER (PARTITION BY t ORDER BY v) AS quarter FROM b)
        SELECT t, quarter, min(v) AS from_v, max(v) AS to_v, count(*) AS batches,
               quantile_cont(ms, 0.5) AS p50, quantile_cont(ms, 0.99) AS p99
        FROM q GROUP BY t, quarter ORDER BY t, quarter`);
      for (const row of rows) {
        (batchCost[row.t] ??= []).push({
          versions: `${row.from_v}-${row.to_v}`, batches: Number(row.batches),
          p50_ms: Math.round(Number(row.p50) * 10) / 10, p99_ms: Math.round(Number(row.p99) * 10) / 10,
        });
      }
    }
    const r = {
      target_rate: rate, orders, lines: Number(g.n),
      committed_rate: Math.round(orders / ((Number(q.last) - Number(q.first)) / 1000 || produceSeconds)),
      p50_ms: Number(q.p50), p99_ms: Number(q.p99), max_ms: Number(q.max),
      gold_versions: readDeltaLog(goldPath).length, load: endLoad, batch_cost: batchCost,
      // What lakepipe itself needs, whatever else shares the machine: its CPU seconds over
      // the run and per 1,000 orders (keeping up at R orders/s needs R/1000 times that per s).
      lakepipe_cpu_s: lakepipeCpu, lakepipe_cpu_ms_per_1000_orders: Math.round((lakepipeCpu * 1e6) / orders),
    };
    console.log(`latency: ${JSON.stringify(r)}`);
    return r;
  } finally {
    if (pipeline) {
      pipeline.kill('SIGKILL');
      await pipeline.exited;
    }
    pg.stop();
    removeDir(work);
  }
}

async function snapshot(duck) {
  const work = tempDir('lakepipe-pgbench-snap-');
  const pg = await startPostgres(join(work, 'pg'));
  try {
    pg.psql('postgres', 'CREATE DATABASE bench');
    pg.psql('bench', `CREATE TABLE public.big (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2),
                       created timestamptz NOT NULL);
                     ALTER TABLE public.big REPLICA IDENTITY FULL;
                     INSERT INTO public.big SELECT g, 'customer ' || g, (g % 100000) / 100.0,
                       timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, ${snapshotRows}) g;`);
    pg.psql('bench', 'VACUUM ANALYZE public.big');
    const [count, sum] = pg.psql('bench', 'SELECT count(*), sum(id) FROM public.big').trim().split('|');
    // psql first, twice (the second with a warm cache is its best); lakepipe after it.
    let psqlSeconds = Infinity;
    for (let i = 0; i < 2; ++i) {
      const t = process.hrtime.bigint();
      execFileSync('psql', [pg.uri('bench'), '-v', 'ON_ERROR_STOP=1', '-qc', '\\copy (SELECT * FROM public.big) TO /dev/null']);
      psqlSeconds = Math.min(psqlSeconds, Number(process.hrtime.bigint() - t) / 1e9);
    }
    // One run of the snapshot; `spill` (rows per part) as an option when given. GNU time
    // reports the process's peak RSS (KiB) on its last stderr line.
    const copyOnce = async (name, spill) => {
      const storage = join(work, `storage-${name}`);
      const option = spill ? `, spillRows => ${spill}` : '';
      writePipeline(join(work, `p-${name}`), storage, `CREATE OR REFRESH STREAMING TABLE big AS
SELECT * FROM STREAM read_postgres_cdc(dsn => '\${postgres_dsn}', tableName => 'public.big', slot => 'bench_${name}'${option});
`);
      const t = process.hrtime.bigint();
      const args = ['-f', '%M', bin, 'run', join(work, `p-${name}`), '--once', '--no-server', '--set', `postgres_dsn=${pg.uri('bench')}`];
      const rr = spawnSync('/usr/bin/time', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (rr.status !== 0) fail(`lakepipe run (snapshot) exited with ${rr.status}: ${rr.stderr.slice(-2000)}`);
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      const rssKiB = Number(rr.stderr.trim().split('\n').pop());
      const g = await gold(duck, join(storage, 'big'), 'count(*)::VARCHAR AS n, sum(id)::VARCHAR AS s');
      if (g.n !== count || g.s !== sum) fail(`the snapshot holds ${g.n} rows (sum ${g.s}); PostgreSQL ${count} (sum ${sum})`);
      const commits = readDeltaLog(join(storage, 'big')).length;
      removeDir(storage);
      return { seconds, rssMiB: Math.round(rssKiB / 1024), commits };
    };
    const parts = await copyOnce('parts', null);
    const lpSeconds = parts.seconds;
    const r = {
      rows: snapshotRows, lakepipe_seconds: +lpSeconds.toFixed(3), lakepipe_rows_per_s: Math.round(snapshotRows / lpSeconds),
      lakepipe_peak_rss_mib: parts.rssMiB, delta_commits: parts.commits,
      psql_seconds: +psqlSeconds.toFixed(3), psql_rows_per_s: Math.round(snapshotRows / psqlSeconds),
      ratio_lakepipe_over_psql: +(psqlSeconds / lpSeconds).toFixed(3), load: load(),
    };
    if (compareWhole) {
      const whole = await copyOnce('whole', snapshotRows + 1);
      r.whole_seconds = +whole.seconds.toFixed(3);
      r.whole_peak_rss_mib = whole.rssMiB;
    }
    console.log(`snapshot: ${JSON.stringify(r)}`);
    return r;
  } finally {
    pg.stop();
    removeDir(work);
  }
}

try {
  const duck = await Duck.open();
  const loadStart = load();
  const lat = only === 'snapshot' ? null : await latency(duck);
  const snap = only === 'latency' ? null : await snapshot(duck);
  if (only) {
    duck.close();
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ latency: lat, snapshot: snap, load_start: loadStart }, null, 2) + '\n');
    process.exit(0);
  }
  duck.close();
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ latency: lat, snapshot: snap, load_start: loadStart }, null, 2) + '\n');
  const md = `## PostgreSQL change data capture (issue 12)

\`node bench/pgcdc_bench.mjs\` on a private PostgreSQL (wal_level = logical,
synchronous_commit = off, wal_writer_delay = 10ms). Load average at the start: ${loadStart}.

**Latency** from the PostgreSQL commit to Gold: the orders application writes each order,
its lines and an outbox event in one transaction; \`lakepipe run\` (continuous) reads the
outbox: Bronze → Silver (from_json, one row per line) → Gold (line totals). Latency per order
= the commitInfo.timestamp of the Gold version holding its lines − its \`_commit_timestamp\`.

| target orders/s | orders | committed orders/s | p50 | p99 | max | gold versions | lakepipe CPU per 1,000 orders | load |
|---|---|---|---|---|---|---|---|---|
| ${lat.target_rate} | ${lat.orders} | ${lat.committed_rate} | ${lat.p50_ms} ms | ${lat.p99_ms} ms | ${lat.max_ms} ms | ${lat.gold_versions} | ${lat.lakepipe_cpu_ms_per_1000_orders} ms | ${lat.load} |

"committed orders/s" is the rate the orders application reached in PostgreSQL (it shares
the machine with the server, the walsender and lakepipe); lakepipe keeps up with a rate R
when R/1000 × its CPU per 1,000 orders stays well under the cores it gets.

Micro-batch duration by quarter of each table's versions (event log \`flow_progress\`; a cost
that grew with the table's history would show as rising quarters):

| table | versions | batches | p50 | p99 |
|---|---|---|---|---|
${Object.entries(lat.batch_cost ?? {}).flatMap(([t, qs]) => qs.map((c) => `| ${t} | ${c.versions} | ${c.batches} | ${c.p50_ms} ms | ${c.p99_ms} ms |`)).join('\n')}

**Snapshot** of a ${snap.rows.toLocaleString('en-US')}-row table (bigint, text, numeric, timestamptz):
\`lakepipe run --once\` (slot, exported snapshot, COPY, Parquet, Delta commit) against
\`psql -c "\\copy (SELECT * FROM t) TO /dev/null"\` (load ${snap.load}):

| reader | seconds | rows/s |
|---|---|---|
| lakepipe run --once | ${snap.lakepipe_seconds} | ${snap.lakepipe_rows_per_s.toLocaleString('en-US')} |
| psql \\copy to /dev/null | ${snap.psql_seconds} | ${snap.psql_rows_per_s.toLocaleString('en-US')} |
| **lakepipe / psql** | | **${snap.ratio_lakepipe_over_psql}** |

lakepipe's peak resident memory: ${snap.lakepipe_peak_rss_mib} MiB (the snapshot read by parts of
spillRows rows, written into ${snap.delta_commits} Delta commit(s))${snap.whole_peak_rss_mib ? `; read in one part: ${snap.whole_peak_rss_mib} MiB` : ''}.
`;
  if (mdOut) writeFileSync(mdOut, md);
  console.log(md);
} catch (e) {
  console.error(`pgcdc_bench: FAILED: ${e.crashTestFailure ? e.message : e.stack}`);
  process.exit(1);
}
