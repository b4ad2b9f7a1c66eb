// AUTO CDC crash test: a generated change stream of customers (inserts, updates, deletes,
// re-inserts, late events older than a delete, a truncate), shuffled across files, is
// applied by an AUTO CDC flow: a first run takes the first half of the files (creating the
// table), a second run the rest (row-level changes of the existing table). That second run
// is traced once with
// LAKEPIPE_KILL_TRACE; then, for every kill point it passes (first occurrences, then later
// ones while the --budget-seconds budget lasts), a fresh storage folder runs with
// LAKEPIPE_KILL_AT=point:n (it must die by SIGKILL), runs again to the end, and the SCD
// type 1 table must equal DuckDB's "event with the highest sequence per key after the last
// truncate, minus deleted keys" over the whole stream, and the SCD type 2 table fed the same
// changes (but the truncate, split between two AUTO CDC flows that share its per-key
// state) DuckDB's full history of the stream, and a table written by two
// append flows (each with its own checkpoint) every selected event exactly once — so must
// the same pipeline run over the whole input in one batch. Daily snapshots of customers
// (some written in two files) feed an SCD type 2 and an SCD type 1 table by AUTO CDC FROM
// SNAPSHOT, checked against DuckDB's history of the snapshots. A second stream, of products
// (keyed by store INT and sku STRING, sequenced by a TIMESTAMP), shuffled across its own
// files, feeds an SCD type 1 and an SCD type 2 table in the same runs, checked the same way.
// The per-key state (state/scd/), applied after each Delta
// commit, and the txn of each batch together make the result independent of crashes.
//
// Usage: node tests/crash/cdc_kill.mjs [--bin build/lakepipe] [--budget-seconds S]
import {
  argValue, binary, canonicalRows, checkTables, diffRows, Duck, fail, join, killAt, killCasesFromTrace, parquetSource, removeDir, runKillCases, runSync, runTest, sqlString, tempDir,
} from './lib.mjs';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';

const bin = binary();
const budgetSeconds = Number(argValue('--budget-seconds', process.env.LAKEPIPE_KILL_BUDGET || '40'));
const FILES = 6;
const EVENTS = 240;

function rng(seed) {
  let s = BigInt(seed);
  return () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    return Number(s >> 33n);
  };
}

// Events with increasing sequences, then shuffled across the files: late updates, deletes
// that arrive before the insert they follow, a truncate in the middle.
// Shuffles the change events (so sequences arrive out of order, across files) and writes
// them as FILES JSON-lines files into `dir`.
function shuffleIntoFiles(events, r, dir) {
  for (let i = events.length - 1; i > 0; --i) {
    const j = r() % (i + 1);
    [events[i], events[j]] = [events[j], events[i]];
  }
  mkdirSync(dir, { recursive: true });
  const per = Math.ceil(events.length / FILES);
  for (let f = 0; f < FILES; ++f) {
    const lines = events.slice(f * per, (f + 1) * per).map((e) => JSON.stringify(e)).join('\n') + '\n';
    writeFileSync(join(dir, `${String(f).padStart(4, '0')}.json`), lines);
  }
}

function writeInput(dir) {
  const r = rng(7);
  const live = new Map();
  const events = [];
  for (let i = 1; i <= EVENTS; ++i) {
    const seq = i * 10;
    if (i === Math.floor(EVENTS * 0.6)) {
      events.push({ id: null, name: null, city: null, op: 'TRUNCATE', seq });
      live.clear();
      continue;
    }
    const id = r() % 25;
    if (live.get(id) && r() % 4 === 0) {
      events.push({ id, name: null, city: null, op: 'DELETE', seq });
      live.set(id, false);
    } else {
      events.push({ id, name: `n${i}`, city: `c${r() % 5}`, op: 'UPSERT', seq });
      live.set(id, true);
    }
  }
  shuffleIntoFiles(events, r, dir);
}

// Products: 30 keys (store, sku), 200 events 7 s apart, a truncate at 60%, shuffled
// across the files as the customers' are.
function writeProducts(dir) {
  const r = rng(11);
  const live = new Map();
  const events = [];
  const ts = (i) => new Date(Date.UTC(2026, 0, 1) + i * 7000).toISOString().replace('.000Z', 'Z');
  for (let i = 1; i <= 200; ++i) {
    if (i === 120) {
      events.push({ store: null, sku: null, name: null, price: null, op: 'TRUNCATE', updated: ts(i) });
      live.clear();
      continue;
    }
    const store = 1 + (r() % 3), sku = `sku-${r() % 10}`, key = `${store}/${sku}`;
    if (live.get(key) && r() % 4 === 0) {
      events.push({ store, sku, name: null, price: null, op: 'DELETE', updated: ts(i) });
      live.set(key, false);
    } else {
      events.push({ store, sku, name: r() % 10 === 0 ? null : `p${r() % 3}`, price: r() % 8 === 0 ? null : 1 + (r() % 4) / 4,
        op: 'UPSERT', updated: ts(i) });
      live.set(key, true);
    }
  }
  shuffleIntoFiles(events, r, dir);
}

// Daily snapshots of 20 customers: joins, changes of name or city, removals, returns. The
// days of the first half are files a-*, of the second b-* (a run never sees half a day);
// every third day is written in two files.
function writeSnapshots(dir) {
  const r = rng(13);
  const people = new Map();
  mkdirSync(dir, { recursive: true });
  for (let day = 1; day <= 8; ++day) {
    const rows = [];
    for (let id = 1; id <= 20; ++id) {
      const p = people.get(id) ?? { present: false, name: `n${id}`, city: 'c0' };
      if (p.present && r() % 8 === 0) p.present = false;
      else if (!p.present && r() % 3 === 0) p.present = true;
      else if (p.present && r() % 4 === 0) p.city = `c${r() % 4}`;
      else if (p.present && r() % 9 === 0) p.name = r() % 2 ? null : `n${id}-${day}`;
      people.set(id, p);
      if (p.present) rows.push(JSON.stringify({ id, name: p.name, city: p.city, day }));
    }
    const half = day <= 4 ? 'a' : 'b';
    const parts = day % 3 === 0 ? 2 : 1;
    for (let part = 0; part < parts; ++part) {
      const slice = rows.slice(Math.floor(part * rows.length / parts), Math.floor((part + 1) * rows.length / parts));
      writeFileSync(join(dir, `${half}-${String(day).padStart(2, '0')}-${part}.json`), slice.join('\n') + '\n');
    }
  }
}

function writePipeline(dir, landing, perBatch) {
  mkdirSync(dir, { recursive: true });
  const opts = perBatch ? ', maxFilesPerTrigger => 1' : '';
  writeFileSync(join(dir, 'pipeline.yaml'),
    `name: cdc\nlibraries: [p.sql]\nconfiguration: {landing: ${landing}, products: ${landing}-products, ` +
    `snapshots: ${landing}-snapshots}\n`);
  writeFileSync(join(dir, 'p.sql'),
    `CREATE OR REFRESH STREAMING TABLE changes AS SELECT * FROM STREAM read_files('\${landing}', format => 'json',\n` +
    `  schema => 'id BIGINT, name STRING, city STRING, op STRING, seq BIGINT'${opts});\n` +
    `CREATE OR REFRESH STREAMING TABLE dim;\n` +
    `CREATE FLOW dim_cdc AS AUTO CDC INTO dim FROM STREAM(changes) KEYS (id)\n` +
    `  APPLY AS DELETE WHEN op = 'DELETE' APPLY AS TRUNCATE WHEN op = 'TRUNCATE'\n` +
    `  SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data);\n` +
    // The same changes (without the truncate: type 2 keeps history) into an SCD type 2 table.
    // Split into two sources, each applied by its own AUTO CDC flow into the one target:
    // the flows share its per-key state, so the history is still the whole stream's.
    `CREATE OR REFRESH STREAMING TABLE changes2 AS SELECT * FROM STREAM(changes) WHERE op <> 'TRUNCATE';\n` +
    `CREATE OR REFRESH STREAMING TABLE changes2a AS SELECT * FROM STREAM(changes2) WHERE seq % 30 = 0;\n` +
    `CREATE OR REFRESH STREAMING TABLE changes2b AS SELECT * FROM STREAM(changes2) WHERE seq % 30 <> 0;\n` +
    `CREATE OR REFRESH STREAMING TABLE hist;\n` +
    `CREATE FLOW hist_cdc AS AUTO CDC INTO hist FROM STREAM(changes2a) KEYS (id)\n` +
    `  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data)\n` +
    `  STORED AS SCD TYPE 2;\n` +
    `CREATE FLOW hist_cdc_b AS AUTO CDC INTO hist FROM STREAM(changes2b) KEYS (id)\n` +
    `  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY seq COLUMNS * EXCEPT (op, seq, _rescued_data)\n` +
    `  STORED AS SCD TYPE 2;\n` +
    // Two append flows into one table, each exactly once on its own checkpoint.
    `CREATE OR REFRESH STREAMING TABLE merged;\n` +
    `CREATE FLOW even AS INSERT INTO merged BY NAME SELECT seq, 'even' AS src FROM STREAM(changes) WHERE seq % 20 = 0;\n` +
    `CREATE FLOW odd AS INSERT INTO merged BY NAME SELECT 'odd' AS src, seq FROM STREAM(changes2) WHERE seq % 20 = 10;\n` +
    // Products: SCD type 1 with the truncate, SCD type 2 without, both keyed (store, sku).
    `CREATE OR REFRESH STREAMING TABLE product_changes AS SELECT * FROM STREAM read_files('\${products}', format => 'json',\n` +
    `  schema => 'store INT, sku STRING, name STRING, price DOUBLE, op STRING, updated TIMESTAMP'${opts});\n` +
    `CREATE OR REFRESH STREAMING TABLE dim_product;\n` +
    `CREATE FLOW dim_product_cdc AS AUTO CDC INTO dim_product FROM STREAM(product_changes) KEYS (store, sku)\n` +
    `  APPLY AS DELETE WHEN op = 'DELETE' APPLY AS TRUNCATE WHEN op = 'TRUNCATE'\n` +
    `  SEQUENCE BY updated COLUMNS * EXCEPT (op, _rescued_data);\n` +
    `CREATE OR REFRESH STREAMING TABLE product_changes2 AS SELECT * FROM STREAM(product_changes) WHERE op <> 'TRUNCATE';\n` +
    `CREATE OR REFRESH STREAMING TABLE hist_product;\n` +
    `CREATE FLOW hist_product_cdc AS AUTO CDC INTO hist_product FROM STREAM(product_changes2) KEYS (store, sku)\n` +
    `  APPLY AS DELETE WHEN op = 'DELETE' SEQUENCE BY updated COLUMNS * EXCEPT (op, updated, _rescued_data)\n` +
    `  STORED AS SCD TYPE 2;\n` +
    // Snapshots: SCD type 2 and type 1 by AUTO CDC FROM SNAPSHOT, versioned by day.
    `CREATE OR REFRESH STREAMING TABLE extracts AS SELECT * FROM STREAM read_files('\${snapshots}', format => 'json',\n` +
    `  schema => 'id BIGINT, name STRING, city STRING, day INT'${opts});\n` +
    `CREATE OR REFRESH STREAMING TABLE snap2;\n` +
    `CREATE FLOW snap2_cdc AS AUTO CDC INTO snap2 FROM SNAPSHOT extracts KEYS (id) SEQUENCE BY day\n` +
    `  COLUMNS * EXCEPT (_rescued_data) STORED AS SCD TYPE 2;\n` +
    `CREATE OR REFRESH STREAMING TABLE snap1;\n` +
    `CREATE FLOW snap1_cdc AS AUTO CDC INTO snap1 FROM SNAPSHOT extracts KEYS (id) SEQUENCE BY day\n` +
    `  COLUMNS * EXCEPT (_rescued_data) STORED AS SCD TYPE 1;\n`);
}

runTest('cdc_kill', async () => {
  const started = Date.now();
  const work = tempDir('lakepipe-cdc-kill-');
  const landing = join(work, 'landing');
  writeInput(landing);
  writeProducts(`${landing}-products`);
  writeSnapshots(`${landing}-snapshots`);
  writePipeline(join(work, 'whole'), landing, false);
  writePipeline(join(work, 'batched'), landing, true);
  const run = (pipeline, storage, env = {}, land = landing) =>
    runSync(bin, ['run', join(work, pipeline), '--once', '--set', `storage=${storage}`, '--set', `landing=${land}`,
      '--set', `products=${land}-products`, '--set', `snapshots=${land}-snapshots`], env);
  // Fresh landing folders (customers and products) with the first half of the files, then
  // (more()) the rest.
  const files = readdirSync(landing).sort();
  const productFiles = readdirSync(`${landing}-products`).sort();
  const snapshotFiles = readdirSync(`${landing}-snapshots`).sort();
  const staged = (dir) => {
    mkdirSync(dir, { recursive: true });
    mkdirSync(`${dir}-products`, { recursive: true });
    mkdirSync(`${dir}-snapshots`, { recursive: true });
    const snapshotsOf = (half) => {
      for (const f of snapshotFiles.filter((n) => n.startsWith(half))) {
        copyFileSync(join(`${landing}-snapshots`, f), join(`${dir}-snapshots`, f));
      }
    };
    snapshotsOf('a-');
    for (const f of files.slice(0, files.length / 2)) copyFileSync(join(landing, f), join(dir, f));
    for (const f of productFiles.slice(0, productFiles.length / 2)) {
      copyFileSync(join(`${landing}-products`, f), join(`${dir}-products`, f));
    }
    return () => {
      snapshotsOf('b-');
      for (const f of files.slice(files.length / 2)) copyFileSync(join(landing, f), join(dir, f));
      for (const f of productFiles.slice(productFiles.length / 2)) {
        copyFileSync(join(`${landing}-products`, f), join(`${dir}-products`, f));
      }
    };
  };
  const mustSucceed = (r, what) => {
    if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  };

  const duck = await Duck.open();
  // DuckDB's SCD type 1 over every event, independently of lakepipe.
  const expected = (await duck.rows(
    `WITH ev AS (SELECT * FROM read_json(${sqlString(join(landing, '*.json'))}, columns = {id: 'BIGINT', ` +
    `name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'})), ` +
    `t AS (SELECT coalesce(max(seq) FILTER (WHERE op = 'TRUNCATE'), -1) AS tseq FROM ev), ` +
    `last AS (SELECT ev.* FROM ev, t WHERE op <> 'TRUNCATE' AND seq > tseq ` +
    `QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1) ` +
    `SELECT city, id, name FROM last WHERE op <> 'DELETE'`))
    .map((r) => JSON.stringify({ city: r.city, id: Number(r.id), name: r.name })).sort();
  if (expected.length < 5) fail(`the input leaves only ${expected.length} rows`);
  // DuckDB's SCD type 2 history: per key in seq order, a delete or an upsert that differs
  // from the previous event (or follows a delete or nothing) starts a group; a group that
  // starts with an upsert is a version from its first seq to the next group's.
  const expectedHist = (await duck.rows(
    `WITH ev AS (SELECT * FROM read_json(${sqlString(join(landing, '*.json'))}, columns = {id: 'BIGINT', ` +
    `name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'}) WHERE op <> 'TRUNCATE'), ` +
    `o AS (SELECT *, lag(op) OVER w AS p_op, lag(name) OVER w AS p_name, lag(city) OVER w AS p_city ` +
    `  FROM ev WINDOW w AS (PARTITION BY id ORDER BY seq)), ` +
    `b AS (SELECT *, CASE WHEN op = 'DELETE' OR p_op IS NULL OR p_op = 'DELETE' OR name IS DISTINCT FROM p_name ` +
    `  OR city IS DISTINCT FROM p_city THEN 1 ELSE 0 END AS starts FROM o), ` +
    `g AS (SELECT *, sum(starts) OVER (PARTITION BY id ORDER BY seq ROWS UNBOUNDED PRECEDING) AS grp FROM b), ` +
    `v AS (SELECT id, grp, min(seq) AS s, first(op ORDER BY seq) AS first_op, first(name ORDER BY seq) AS name, ` +
    `  first(city ORDER BY seq) AS city FROM g GROUP BY id, grp), ` +
    `h AS (SELECT *, lead(s) OVER (PARTITION BY id ORDER BY grp) AS e FROM v) ` +
    `SELECT id, name, city, s, e FROM h WHERE first_op = 'UPSERT'`))
    .map((r) => JSON.stringify([Number(r.id), r.name, r.city, Number(r.s), r.e === null ? null : Number(r.e)])).sort();
  if (expectedHist.filter((r) => !r.endsWith(',null]')).length < 20) fail('the input closes too few SCD type 2 versions');
  const expectedMerged = (await duck.rows(
    `SELECT seq, CASE WHEN seq % 20 = 0 THEN 'even' ELSE 'odd' END AS src FROM read_json(${sqlString(join(landing, '*.json'))}, ` +
    `columns = {id: 'BIGINT', name: 'VARCHAR', city: 'VARCHAR', op: 'VARCHAR', seq: 'BIGINT'}) ` +
    `WHERE seq % 20 = 0 OR (seq % 20 = 10 AND op <> 'TRUNCATE')`)).map((r) => JSON.stringify([Number(r.seq), r.src])).sort();
  // Products: DuckDB's SCD type 1 and type 2 of their stream (every column tracked).
  const productEvents = `read_json(${sqlString(join(`${landing}-products`, '*.json'))}, columns = {store: 'INTEGER', ` +
    `sku: 'VARCHAR', name: 'VARCHAR', price: 'DOUBLE', op: 'VARCHAR', updated: 'TIMESTAMP'})`;
  const productRow = (o, ...ts) => JSON.stringify([Number(o.store), o.sku, o.name, o.price === null ? null : Number(o.price),
    ...ts.map((t) => (t === null || t === undefined ? null : Number(t)))]);
  const expectedProducts = (await duck.rows(
    `WITH ev AS (SELECT * FROM ${productEvents}), ` +
    `t AS (SELECT coalesce(max(updated) FILTER (WHERE op = 'TRUNCATE'), TIMESTAMP '1970-01-01') AS tseq FROM ev), ` +
    `last AS (SELECT ev.* FROM ev, t WHERE op <> 'TRUNCATE' AND updated > tseq ` +
    `QUALIFY row_number() OVER (PARTITION BY store, sku ORDER BY updated DESC) = 1) ` +
    `SELECT store, sku, name, price, epoch(updated)::BIGINT AS updated FROM last WHERE op <> 'DELETE'`))
    .map((o) => productRow(o, o.updated)).sort();
  if (expectedProducts.length < 5) fail(`the products input leaves only ${expectedProducts.length} rows`);
  const expectedProductHist = (await duck.rows(
    `WITH ev AS (SELECT * FROM ${productEvents} WHERE op <> 'TRUNCATE'), ` +
    `o AS (SELECT *, lag(op) OVER w AS p_op, lag(name) OVER w AS p_name, lag(price) OVER w AS p_price ` +
    `  FROM ev WINDOW w AS (PARTITION BY store, sku ORDER BY updated)), ` +
    `b AS (SELECT *, CASE WHEN op = 'DELETE' OR p_op IS NULL OR p_op = 'DELETE' OR name IS DISTINCT FROM p_name ` +
    `  OR price IS DISTINCT FROM p_price THEN 1 ELSE 0 END AS starts FROM o), ` +
    `g AS (SELECT *, sum(starts) OVER (PARTITION BY store, sku ORDER BY updated ROWS UNBOUNDED PRECEDING) AS grp FROM b), ` +
    `v AS (SELECT store, sku, grp, min(updated) AS s, first(op ORDER BY updated) AS first_op, ` +
    `  first(name ORDER BY updated) AS name, first(price ORDER BY updated) AS price FROM g GROUP BY store, sku, grp), ` +
    `h AS (SELECT *, lead(s) OVER (PARTITION BY store, sku ORDER BY grp) AS e FROM v) ` +
    `SELECT store, sku, name, price, epoch(s)::BIGINT AS s, epoch(e)::BIGINT AS e ` +
    `FROM h WHERE first_op = 'UPSERT'`))
    .map((o) => productRow(o, o.s, o.e)).sort();
  if (expectedProductHist.filter((r) => !r.endsWith(',null]')).length < 15) fail('the products input closes too few versions');
  // DuckDB's history of the snapshots: a version from the day a customer appears or differs
  // from the previous day's snapshot, to the next such day or the first day without them;
  // type 1: the last day's rows.
  const snapshotRows = `read_json(${sqlString(join(`${landing}-snapshots`, '*.json'))}, columns = {id: 'BIGINT', ` +
    `name: 'VARCHAR', city: 'VARCHAR', day: 'INTEGER'})`;
  const expectedSnap2 = (await duck.rows(
    `WITH e AS (SELECT * FROM ${snapshotRows}), ` +
    `days AS (SELECT day, lag(day) OVER (ORDER BY day) AS prev, lead(day) OVER (ORDER BY day) AS next ` +
    `  FROM (SELECT DISTINCT day FROM e)), ` +
    `m AS (SELECT e.*, CASE WHEN lag(e.day) OVER w IS NULL OR lag(e.day) OVER w <> d.prev ` +
    `  OR lag(name) OVER w IS DISTINCT FROM name OR lag(city) OVER w <> city THEN 1 ELSE 0 END AS starts ` +
    `  FROM e JOIN days AS d USING (day) WINDOW w AS (PARTITION BY id ORDER BY e.day)), ` +
    `g AS (SELECT *, sum(starts) OVER (PARTITION BY id ORDER BY day ROWS UNBOUNDED PRECEDING) AS grp FROM m), ` +
    `v AS (SELECT id, grp, min(day) AS s, max(day) AS last_day, any_value(name) AS name, any_value(city) AS city ` +
    `  FROM g GROUP BY id, grp) ` +
    `SELECT v.id, v.name, v.city, v.s, d.next AS e FROM v JOIN days AS d ON d.day = v.last_day`))
    .map((r) => JSON.stringify([Number(r.id), r.name, r.city, Number(r.s), r.e === null ? null : Number(r.e)])).sort();
  if (expectedSnap2.filter((r) => !r.endsWith(',null]')).length < 10) fail('the snapshots close too few versions');
  const expectedSnap1 = (await duck.rows(
    `SELECT id, name, city FROM ${snapshotRows} WHERE day = (SELECT max(day) FROM ${snapshotRows})`))
    .map((r) => JSON.stringify([Number(r.id), r.name, r.city])).sort();
  const snapOf = async (storage, table) => {
    const path = join(storage, table);
    if (!existsSync(join(path, '_delta_log'))) return [];
    return (await duck.rows(`SELECT * FROM ${parquetSource(path)}`)).map((o) => JSON.stringify(table === 'snap2'
      ? [Number(o.id), o.name, o.city, Number(o.__START_AT), o.__END_AT === null ? null : Number(o.__END_AT)]
      : [Number(o.id), o.name, o.city])).sort();
  };
  // lakepipe's tables read by DuckDB, timestamps as epoch seconds on both sides.
  const productsOf = async (storage, table, cols) => {
    const path = join(storage, table);
    if (!existsSync(join(path, '_delta_log'))) return [];
    const ts = cols.map((c) => `epoch(${c})::BIGINT AS ${c}`).join(', ');
    return (await duck.rows(`SELECT store, sku, name, price, ${ts} FROM ${parquetSource(path)}`))
      .map((o) => productRow(o, ...cols.map((c) => o[c]))).sort();
  };
  const mergedOf = async (storage) => {
    const path = join(storage, 'merged');
    if (!existsSync(join(path, '_delta_log'))) return [];
    return (await duck.rows(`SELECT * FROM ${parquetSource(path)}`)).map((o) => JSON.stringify([Number(o.seq), o.src])).sort();
  };
  const histOf = async (storage) => {
    const path = join(storage, 'hist');
    if (!existsSync(join(path, '_delta_log'))) return [];
    return (await duck.rows(`SELECT * FROM ${parquetSource(path)}`)).map((o) => JSON.stringify(
      [Number(o.id), o.name, o.city, Number(o.__START_AT), o.__END_AT === null ? null : Number(o.__END_AT)])).sort();
  };
  const dimOf = async (storage) => {
    const path = join(storage, 'dim');
    if (!existsSync(join(path, '_delta_log'))) return [];
    return (await canonicalRows(duck, path)).map((s) => {
      const o = JSON.parse(s);
      return JSON.stringify({ city: o.city, id: Number(o.id), name: o.name });
    }).sort();
  };
  const compare = async (storage, label) => {
    await checkTables(duck, storage);
    const d = diffRows(await dimOf(storage), expected);
    if (d) fail(`${label}: dim differs from DuckDB's SCD type 1 of the stream: ${d}`);
    const m = diffRows(await mergedOf(storage), expectedMerged);
    if (m) fail(`${label}: merged (two flows) differs from every event exactly once: ${m}`);
    const h = diffRows(await histOf(storage), expectedHist);
    if (h) fail(`${label}: hist differs from DuckDB's SCD type 2 history of the stream: ${h}`);
    const p1 = diffRows(await productsOf(storage, 'dim_product', ['updated']), expectedProducts);
    if (p1) fail(`${label}: dim_product differs from DuckDB's SCD type 1 of the products stream: ${p1}`);
    const p2 = diffRows(await productsOf(storage, 'hist_product', ['__START_AT', '__END_AT']), expectedProductHist);
    if (p2) fail(`${label}: hist_product differs from DuckDB's SCD type 2 history of the products stream: ${p2}`);
    const s2 = diffRows(await snapOf(storage, 'snap2'), expectedSnap2);
    if (s2) fail(`${label}: snap2 differs from DuckDB's SCD type 2 history of the snapshots: ${s2}`);
    const s1 = diffRows(await snapOf(storage, 'snap1'), expectedSnap1);
    if (s1) fail(`${label}: snap1 differs from DuckDB's last snapshot: ${s1}`);
  };
  mustSucceed(run('whole', join(work, 'whole-storage')), 'the whole-input run');
  await compare(join(work, 'whole-storage'), 'the whole input in one batch');

  const trace = join(work, 'trace.txt');
  const traced = join(work, 'traced-storage');
  const tracedLanding = join(work, 'traced-landing');
  const moreTraced = staged(tracedLanding);
  mustSucceed(run('batched', traced, {}, tracedLanding), 'the first half');
  moreTraced();
  mustSucceed(run('batched', traced, { LAKEPIPE_KILL_TRACE: trace }, tracedLanding), 'the traced second half');
  await compare(traced, 'two runs, one file per bronze batch');

  const { cases, points } = killCasesFromTrace(trace, ['flow.after_state_commit', 'delta.row_changes.after_files']);
  const { done, note } = await runKillCases(cases, started, budgetSeconds, async (k, i) => {
    const label = k.label;
    const storage = join(work, `case-${i}`);
    const caseLanding = join(work, `case-${i}-landing`);
    const more = staged(caseLanding);
    mustSucceed(run('batched', storage, {}, caseLanding), `${label}: the first half`);
    more();
    killAt(bin, label, `${storage}.journal`, (env) => run('batched', storage, env, caseLanding));
    mustSucceed(run('batched', storage, {}, caseLanding), `${label}: the restart`);
    await compare(storage, `killed at ${label}`);
    removeDir(storage);
    removeDir(caseLanding);
    removeDir(`${caseLanding}-products`);
    removeDir(`${caseLanding}-snapshots`);
  });
  duck.close();
  console.log(`cdc_kill: ${done} kills at ${points} points, each restarted to DuckDB's SCD type 1 and type 2 of the customers and products streams and the snapshots` +
    note +
    ` in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  removeDir(work);
});
