// `make crash-soak` (issue 16): tests/crash/kill9.mjs with --kills (CRASH_SOAK_KILLS, 1000)
// SIGKILLs at random moments of a continuous orders pipeline while `lakepipe produce` drops
// 2,000 lines/s, then its checks (every line in Bronze once, Silver and Gold equal DuckDB's
// recomputation, every table contiguous and readable). Writes the count and the verdict to
// the "## Crash soak" section of --md.
//
// Usage: node bench/crash_soak.mjs [--bin B] [--kills 1000] [--md docs/BENCHMARKS.md]
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { argValue, binary, join } from '../tests/crash/lib.mjs';
import { replaceSection } from './md_section.mjs';

const bin = binary();
const kills = Number(argValue('--kills', process.env.CRASH_SOAK_KILLS || '1000'));
const mdPath = argValue('--md', null);
const rate = 2000;
// About one kill cycle per two seconds (a random 0.1-1.5 s of running, then the restart):
// enough lines that the producer is still dropping files at the last kill.
const rows = kills * rate * 2;
const script = join(fileURLToPath(new URL('.', import.meta.url)), '../tests/crash/kill9.mjs');
const loadStart = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const started = Date.now();
const r = spawnSync(process.execPath, [script, '--bin', bin, '--kills', String(kills), '--rows', String(rows),
  '--rate', String(rate), '--lines-per-file', '200'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  maxBuffer: 1 << 28 });
const output = `${r.stdout}${r.stderr}`.trim();
process.stdout.write(`${output}\n`);
const passed = r.status === 0;
const summary = output.split('\n').filter((l) => /^kill9|FAILED/.test(l)).slice(-3).join('\n');
if (mdPath) {
  replaceSection(mdPath, '## Crash soak (issue 16', [
    '## Crash soak (issue 16; `make crash-soak`, bench/crash_soak.mjs)',
    '',
    `\`node tests/crash/kill9.mjs --kills ${kills} --rows ${rows} --rate ${rate}\`: **${passed ? 'passed' : 'FAILED'}** ` +
      `in ${((Date.now() - started) / 60000).toFixed(1)} min, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ` +
      `load ${loadStart} at the start and ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end.`,
    '',
    '```',
    summary || output.slice(-1500),
    '```',
    '',
  ].join('\n'));
  console.log(`crash_soak: wrote the Crash soak section of ${mdPath}`);
}
process.exitCode = passed ? 0 : 1;
