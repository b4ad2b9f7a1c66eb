// Turns the results of scripts/bench.sh into a table on the terminal and docs/BENCHMARKS.md.
// Usage: node bench/report.mjs RESULTS_DIR CSV_PATH MARKDOWN_PATH
// Ratios are lakepipe time / DuckDB time: below 1.0 lakepipe is faster.
import { readFileSync, readdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import os from 'node:os';

const [resultsDir, csvPath, mdPath] = process.argv.slice(2);

function load(name) {
  const p = `${resultsDir}/${name}`;
  if (!existsSync(p)) return null;
  try { return JSON.parse(readFileSync(p, 'utf8')); } catch (e) { return { error: String(e) }; }
}
const gen = load('generate.json');
const duckTable = load('duckdb_table.json') ?? {};
const duckReadOurs = load('duckdb_read_lakepipe.json');
const duckPipe = load('duckdb_pipeline.json') ?? { error: 'not run' };
const pipeline = load('pipeline.json') ?? {};
const lakepipe = load('lakepipe.json');
const loadStart = existsSync(`${resultsDir}/load_start.txt`)
  ? readFileSync(`${resultsDir}/load_start.txt`, 'utf8').trim() : 'unknown';
const loadEnd = existsSync(`${resultsDir}/load_end.txt`)
  ? readFileSync(`${resultsDir}/load_end.txt`, 'utf8').trim()
  : readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const busy = Number(loadStart.split(' ')[0]) > os.cpus().length;

// Google Benchmark JSON: the fastest successful run of a benchmark, in seconds.
const scale = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1 };
function gbench(name) {
  if (!lakepipe?.benchmarks) return { missing: 'benchmark binary did not run' };
  const runs = lakepipe.benchmarks.filter((b) => b.name.split('/')[0] === name);
  if (runs.length === 0) return { missing: 'not built yet' };
  const failed = runs.find((b) => b.error_occurred);
  const ok = runs.filter((b) => !b.error_occurred && b.run_type !== 'aggregate');
  if (ok.length === 0) return { missing: `failed: ${failed?.error_message ?? 'unknown'}` };
  const best = ok.reduce((a, b) => (a.real_time <= b.real_time ? a : b));
  return { seconds: best.real_time * scale[best.time_unit ?? 'ns'],
           cpu: best.cpu_time * scale[best.time_unit ?? 'ns'], run: best };
}

const fmt = (s) => (typeof s === 'number' ? `${s.toFixed(2)} s` : s);
const ratio = (a, b) =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? `${(a / b).toFixed(2)}×` : '–';
const our = (g) => (g.seconds ?? g.missing);
const duck = (v) => (typeof v === 'number' ? v : (duckTable.error ? 'failed' : 'missing'));

const rows = [];
const add = (job, ours, theirs, note = '', cpu = undefined) =>
  rows.push({ job, ours: fmt(ours), theirs: fmt(theirs), ratio: ratio(ours, theirs), note,
              cpu: typeof cpu === 'number' ? fmt(cpu) : '–' });

const load_ = gbench('BM_CsvLoad');
const write = gbench('BM_ParquetWriteFromMemory');
const e2e = gbench('BM_CsvToParquet');
const readDuckFile = gbench('BM_ParquetReadDuckDBFile');
const readOwnFile = gbench('BM_ParquetReadOwnFile');
add('CSV -> table in memory', our(load_), duck(duckTable.load_csv),
    load_.run?.label ? `lakepipe: ${load_.run.label}` : '', load_.cpu);
add('Parquet write from memory (zstd)', our(write), duck(duckTable.write_from_memory),
    'lakepipe 1 thread; DuckDB COPY of an in-memory table', write.cpu);
add('CSV -> Parquet end to end (zstd)', our(e2e), duck(duckTable.csv_to_parquet),
    'lakepipe streams CSV reader -> FileWriter', e2e.cpu);
add("Parquet read, all columns, DuckDB's file", our(readDuckFile), duck(duckTable.read_own_file),
    'lakepipe FileReader::ReadAll; DuckDB CREATE TEMP TABLE AS SELECT * (every column materialised); best of 3', readDuckFile.cpu);
add("Parquet read, all columns, lakepipe's file", our(readOwnFile),
    duckReadOurs?.read ?? (duckReadOurs?.error ? 'failed' : 'no file'), 'best of 3', readOwnFile.cpu);

const threeSteps = duckPipe.three_steps;
const pipeFailure = (pipeline.error ?? '').split('\n').find((l) => /failed:|error:/.test(l))?.trim();
const pipeSeconds = pipeline.seconds ?? (pipeline.not_built ? 'not built yet (lakepipe run is missing)'
                                                              : `failed (${pipeFailure ?? 'see bench/out/results/pipeline.log'})`);
const pipeRows = [
  ['DuckDB bronze: CSV -> Parquet (+ ingestion_time, source_file)', duckPipe.bronze],
  ['DuckDB silver: filter, dedup, typed, line_total -> Parquet', duckPipe.silver],
  ['DuckDB gold: the 4 gold tables of examples/orders -> Parquet', duckPipe.gold],
  ['DuckDB three steps, total', threeSteps],
  ['DuckDB fused into one query (CSV -> revenue by country)', duckPipe.fused],
];

// Checks that lakepipe's Parquet file holds the same data as DuckDB's (DuckDB reads both).
let fileCheck = 'not run (no lakepipe Parquet file)';
if (duckReadOurs?.read_result && duckTable.read_own_file_result) {
  const a = JSON.stringify(duckReadOurs.read_result);
  const b = JSON.stringify(duckTable.read_own_file_result);
  fileCheck = a === b ? 'identical row count and per-column checksums'
                      : `MISMATCH: lakepipe ${a} vs DuckDB ${b}`;
} else if (duckReadOurs?.error) {
  fileCheck = `DuckDB could not read lakepipe's file: ${duckReadOurs.error.split('\n')[0]}`;
}

const genBench = gbench('BM_GenerateOrders');
const genLines = [];
if (gen?.seconds) {
  genLines.push(`\`lakepipe generate orders --rows ${gen.rows}\`: ${gen.seconds.toFixed(2)} s for ` +
    `${(gen.bytes / 1e6).toFixed(1)} MB (${(gen.rows / gen.seconds / 1e6).toFixed(2)} M lines/s, to disk)`);
} else {
  genLines.push('input file taken from the cache (bench/out/); generation not timed in this run');
}
if (genBench.seconds) {
  genLines.push(`generator in memory (BM_GenerateOrders, 1M lines): ${genBench.seconds.toFixed(3)} s ` +
    `(${(1e6 / genBench.seconds / 1e6).toFixed(2)} M lines/s)`);
}

// ---- terminal -------------------------------------------------------------------------
function table(headers, body) {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
console.log('\nParquet (issue 2): lakepipe vs DuckDB, ratio = lakepipe / DuckDB (lower is better)');
console.log(table(['job', 'lakepipe', 'DuckDB', 'ratio', 'lakepipe CPU'],
                  rows.map((r) => [r.job, r.ours, r.theirs, r.ratio, r.cpu])));
console.log(`lakepipe file check by DuckDB: ${fileCheck}`);
console.log(`load average at start ${loadStart}, at end ${loadEnd}`);
console.log('\nPipeline (issue 3, DESIGN §9)');
console.log(table(['job', 'time'], pipeRows.map(([j, v]) => [j, fmt(v ?? (duckPipe.error === 'not run' ? 'not run' : 'failed'))])));
console.log(`lakepipe run examples/orders --once: ${fmt(pipeSeconds)}` +
  (typeof pipeSeconds === 'number' ? `  ratio to DuckDB three steps ${ratio(pipeSeconds, threeSteps)} (target 0.50×)` : ''));
console.log('\nGenerator');
for (const l of genLines) console.log(`  ${l}`);

// ---- docs/BENCHMARKS.md ---------------------------------------------------------------
const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown';
const mem = (readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s*(\d+)/) ?? [])[1];
let commit = 'unknown';
try {
  commit = existsSync(`${resultsDir}/commit.txt`)
    ? readFileSync(`${resultsDir}/commit.txt`, 'utf8').trim()
    : execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
} catch {}
// Unknown (no record, an older results folder) counts as changed.
const changed = !existsSync(`${resultsDir}/changed.txt`) ||
                readFileSync(`${resultsDir}/changed.txt`, 'utf8').trim() !== '';
const csvBytes = existsSync(csvPath) ? statSync(csvPath).size : null;
const mdTable = (headers, body) =>
  [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`,
   ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const md = `# Benchmarks

Written by \`make bench\` (scripts/bench.sh) down to the line that says "Hand-written
below"; the sections after it are measurements run by hand and analyses, which \`make bench\`
keeps. Ratios are lakepipe time divided by DuckDB time on the same input in the same run:
below 1.0× lakepipe is faster.

- Date: ${existsSync(`${resultsDir}/date.txt`) ? readFileSync(`${resultsDir}/date.txt`, 'utf8').trim()
                                               : new Date().toISOString().replace(/\.\d+Z$/, 'Z')}
- Machine: ${os.cpus().length} CPUs (nproc), ${cpu}, ${mem ? (Number(mem) / 1048576).toFixed(1) + ' GiB RAM' : ''}
- Load average (1, 5, 15 min) at the start: ${loadStart}; at the end: ${loadEnd}. The
  machine is shared: a load above the CPU count means other work ran beside the benchmark
- Commit: ${commit}${changed ? ' (plus uncommitted work in the tree)' : ''}; run as \`scripts/bench.sh ${existsSync(`${resultsDir}/build.txt`) ? readFileSync(`${resultsDir}/build.txt`, 'utf8').trim() : 'build-bench'}\`
- DuckDB: ${duckTable.duckdb_version ?? duckPipe.duckdb_version ?? 'unknown'} from npm (@duckdb/node-api), \`SET threads=2\`
- Input: \`lakepipe generate orders --rows ${duckTable.rows ?? 5000000} --seed 1\`, ${csvBytes ? (csvBytes / 1e6).toFixed(1) + ' MB' : 'size unknown'} of CSV (cached in bench/out/)

## Commands

    make bench                      # = scripts/bench.sh build-bench
    node bench/duckdb_bench.mjs table|read|pipeline ...   # the DuckDB side, SQL inside
    build-bench/bench/lp_parquet_benchmark                # the lakepipe side (Google Benchmark)
    build-bench/bench/lp_seen_key_store_benchmark --benchmark_filter=BM_CommitNew   # seen-key commit per key

Both sides load the CSV into the same typed table: six STRING columns, Price DOUBLE and
Quantity INT by try-cast (unparseable values NULL, short lines padded with NULL). Parquet
files are written with zstd. Both reads materialise every column in memory: DuckDB's is
\`CREATE TEMP TABLE AS SELECT * FROM read_parquet(...)\`, lakepipe's \`FileReader::ReadAll()\`.
lakepipe's writer runs on one thread, its reader on two (row groups, or the columns of a
single row group, in turn); DuckDB uses two.

## Parquet write and read (issue 2; aim 1.0× or better)

${mdTable(['job', 'lakepipe', 'DuckDB', 'ratio', 'lakepipe CPU', 'note'],
          rows.map((r) => [r.job, r.ours, r.theirs, r.ratio, r.cpu, r.note]))}

Times are wall-clock (lakepipe: the best of its runs); "lakepipe CPU" is the CPU time of
lakepipe's thread, which shows how much of the wall time other work on the machine took.
${busy ? `
**This run is not a fair measurement**: the load average at its start (${loadStart}) was
above the CPU count, so other work shared the two cores. DuckDB runs two threads and
likely suffers more from that than lakepipe's single thread, so the ratios probably
flatter lakepipe. Run \`make bench\` on an idle machine for numbers to quote.
` : ''}

lakepipe's Parquet file read back by DuckDB: ${fileCheck}.
Parquet file sizes (zstd): lakepipe ${write.run?.file_bytes ? (write.run.file_bytes / 1e6).toFixed(1) + ' MB' : '–'},
DuckDB ${duckTable.write_file_bytes ? (duckTable.write_file_bytes / 1e6).toFixed(1) + ' MB' : '–'}.

## Pipeline (issue 3, DESIGN §9; target: the full pipeline in at most 0.5× DuckDB's three steps)

${mdTable(['job', 'time'], pipeRows.map(([j, v]) => [j, fmt(v ?? (duckPipe.error === 'not run' ? 'not run' : 'failed'))]))}
| \`lakepipe run examples/orders --once\` | ${fmt(pipeSeconds)} |

Ratio lakepipe / DuckDB three steps: ${ratio(pipeSeconds, threeSteps)}; lakepipe / DuckDB fused: ${ratio(pipeSeconds, duckPipe.fused)}.

## Generator

${genLines.map((l) => `- ${l}`).join('\n')}
`;
// Sections written by other benchmark steps (scripts/bench.sh: $RESULTS/sections/*.md), in name order.
const sectionsDir = `${resultsDir}/sections`;
const sections = existsSync(sectionsDir)
  ? readdirSync(sectionsDir).filter((n) => n.endsWith('.md')).sort().map((n) => readFileSync(`${sectionsDir}/${n}`, 'utf8'))
  : [];
for (const sec of sections) console.log(`\n${sec.trim()}`);
// Everything below HAND_MARKER in the existing file was written by hand (measurements run
// outside make bench, profiles, analyses): it is kept as it is.
const HAND_MARKER = '<!-- Hand-written below: make bench keeps everything after this line. -->';
const previous = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '';
const at = previous.indexOf(HAND_MARKER);
const handPart = at >= 0 ? previous.slice(at + HAND_MARKER.length).replace(/^\n+/, '') : '';
writeFileSync(mdPath, [md, ...sections, `\n${HAND_MARKER}\n`, handPart].join('\n'));
console.log(`\nwrote ${mdPath}`);
